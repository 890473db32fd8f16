"""Database pieces shared by the apps."""

from __future__ import annotations

from typing import Any

from django.contrib.postgres.constraints import ExclusionConstraint
from django.contrib.postgres.fields import DateTimeRangeField
from django.db.models import Func


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
    check inside an IMMEDIATE transaction holds the same rule."""

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

        if connections[using].vendor != "postgresql":
            return
        if exclude and self.condition is not None and set(self.condition.referenced_base_fields) & set(exclude):
            # A form without a field the condition reads (a read-only status in the admin) cannot
            # judge it; the database's constraint still refuses a clash on save.
            return
        super().validate(model, instance, exclude=exclude, using=using)
