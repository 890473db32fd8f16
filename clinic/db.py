"""Database pieces shared by the apps."""

from __future__ import annotations

import functools
import re
from typing import Any

from django.contrib.postgres.constraints import ExclusionConstraint
from django.contrib.postgres.fields import DateTimeRangeField, RangeOperators
from django.core.exceptions import ValidationError
from django.db.models import Exists, Func, Q

from clinic.validators import upper_by_letter


class TsTzRange(Func):
    """tstzrange(start, end, '[)'): half-open, so back-to-back sessions touch without overlapping."""

    function = "TSTZRANGE"
    output_field = DateTimeRangeField()

    def __init__(self, start: Any, end: Any, **extra: Any) -> None:
        from django.db.models import Value

        super().__init__(start, end, Value("[)"), **extra)


class PostgresExclusionConstraint(ExclusionConstraint):
    """An exclusion constraint that exists on PostgreSQL and is skipped elsewhere.

    The embedded SQLite default cannot express it; there the service layer's
    check inside an IMMEDIATE transaction holds the same rule, and `validate` (model forms:
    the admin) asks the same question with plain comparisons."""

    def constraint_sql(self, model: Any, schema_editor: Any) -> Any:
        if schema_editor.connection.vendor != "postgresql":
            return None
        return super().constraint_sql(model, schema_editor)

    def create_sql(self, model: Any, schema_editor: Any) -> Any:
        if schema_editor.connection.vendor != "postgresql":
            return None
        return super().create_sql(model, schema_editor)

    def remove_sql(self, model: Any, schema_editor: Any) -> Any:
        if schema_editor.connection.vendor != "postgresql":
            return None
        return super().remove_sql(model, schema_editor)

    def validate(self, model: Any, instance: Any, exclude: Any = None, using: str = "default") -> None:
        from django.db import connections

        if exclude and self.condition is not None and set(self.condition.referenced_base_fields) & set(exclude):
            # A form without a field the condition reads (a read-only status in the admin) cannot
            # judge it; the database's constraint still refuses a clash on save.
            return
        if connections[using].vendor != "postgresql":
            self._validate_without_ranges(model, instance, exclude, using)
            return
        super().validate(model, instance, exclude=exclude, using=using)

    def _validate_without_ranges(self, model: Any, instance: Any, exclude: Any, using: str) -> None:
        """The same question without range types: another row whose [start, end) overlaps this
        one's and whose other fields are equal (and that meets the condition, as this one does)."""
        skip = set(exclude or ())
        clash = Q()
        for expression, operator in self.expressions:
            if isinstance(expression, TsTzRange) and operator == RangeOperators.OVERLAPS:
                start, end = (part.name for part in expression.get_source_expressions()[:2])
                if {start, end} & skip:
                    return
                starts, ends = getattr(instance, start), getattr(instance, end)
                if starts is None or ends is None:
                    return  # the form reports the missing value
                clash &= Q(**{f"{start}__lt": ends, f"{end}__gt": starts})
            elif isinstance(expression, str) and operator == RangeOperators.EQUAL:
                if expression in skip:
                    return
                field = model._meta.get_field(expression)
                clash &= Q(**{field.attname: getattr(instance, field.attname)})
            else:
                raise NotImplementedError(
                    f"{self.name}: only range overlaps and equal fields are checked off PostgreSQL."
                )
        others = model._default_manager.using(using).filter(clash)
        if not instance._state.adding and instance._is_pk_set(model._meta):
            others = others.exclude(pk=instance.pk)
        if self.condition is None:
            found = others.exists()
        else:
            values = instance._get_field_expression_map(meta=model._meta, exclude=exclude)
            found = (self.condition & Exists(others.filter(self.condition))).check(values, using=using)
        if found:
            raise ValidationError(self.get_violation_error_message(), code=self.violation_error_code)


def unicode_like_on_sqlite(sender: Any, connection: Any, **kwargs: Any) -> None:
    """On SQLite, make LIKE (Django's case-insensitive lookups: iexact, icontains, istartswith)
    fold every letter's case, as UPPER() on both sides does on PostgreSQL: SQLite's own LIKE folds
    only A-Z, so "élodie" would not find "Élodie". Letter by letter, as there: no "ß" to "SS".
    Connected to `connection_created`."""
    if connection.vendor != "sqlite":
        return
    connection.connection.create_function("like", 2, _like, deterministic=True)
    connection.connection.create_function("like", 3, _like, deterministic=True)


def _like(pattern: str | None, value: object, escape: str | None = None) -> bool | None:
    if pattern is None or value is None:
        return None
    return _like_pattern(upper_by_letter(str(pattern)), escape).fullmatch(upper_by_letter(str(value))) is not None


@functools.lru_cache(maxsize=512)
def _like_pattern(pattern: str, escape: str | None) -> re.Pattern[str]:
    """A LIKE pattern as a regular expression: % any run, _ any one character, the escape
    character taking the next one literally."""
    parts, index = [], 0
    while index < len(pattern):
        char = pattern[index]
        if escape and char == escape and index + 1 < len(pattern):
            parts.append(re.escape(pattern[index + 1]))
            index += 2
            continue
        parts.append(".*" if char == "%" else "." if char == "_" else re.escape(char))
        index += 1
    return re.compile("".join(parts), re.DOTALL)


def changed_on_save(sender: Any, instance: Any, field: str, update_fields: Any, raw: bool) -> bool:
    """For a pre_save receiver: whether saving `instance` changes the stored `field` (a read of the
    row before the write; none for a new row, a fixture being loaded, or a save of other fields)."""
    if raw or instance.pk is None or (update_fields is not None and field not in update_fields):
        return False
    stored = sender.objects.filter(pk=instance.pk).values_list(field, flat=True).first()
    return stored is not None and stored != getattr(instance, field)
