"""Model instances from hand-written SQL, for the few reads on the booking hot path.

Building and compiling a queryset costs a booking more CPU than PostgreSQL spends
answering it (about 0.6 ms of Python for a primary-key get that the database answers in
0.04 ms), and Django keeps no compiled form. The hot reads (the token with its user and
staff row, the booking's patient, site, chair and nurse in one statement, the snapshot)
are therefore written as SQL once, with their column lists taken from the models here,
so a field added to a model is read and converted like the ORM would, and no column
name is spelled twice.

`ModelColumns(Patient, "p").select` is `p."id", p."first_name", ...` in the model's
concrete-field order; `.load(row, offset)` turns that slice of a result row into an
instance (`Model.from_db`, the same path the ORM takes) after running the converters the
ORM would run for each column, or returns None for a LEFT JOIN that matched nothing."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

from django.db import connections
from django.db.models import Model

M = TypeVar("M", bound=Model)

_Converter = Callable[[Any, Any, Any], Any]


class ModelColumns(Generic[M]):
    """Every concrete column of `model` under the table alias `alias`."""

    def __init__(self, model: type[M], alias: str, *, using: str = "default") -> None:
        connection = connections[using]
        self.model = model
        self.alias = alias
        self.using = using
        self.fields = tuple(model._meta.concrete_fields)
        quote = connection.ops.quote_name
        self.select = ", ".join(f"{alias}.{quote(field.column)}" for field in self.fields)
        self.width = len(self.fields)
        self._pk_index = self.fields.index(model._meta.pk)
        self._converters: list[tuple[int, tuple[_Converter, ...], Any]] = []
        for index, field in enumerate(self.fields):
            column = field.get_col(alias)
            converters = tuple(connection.ops.get_db_converters(column) + field.get_db_converters(connection))
            if converters:
                self._converters.append((index, converters, column))

    def load(self, row: Sequence[Any], offset: int = 0) -> M | None:
        values = list(row[offset : offset + self.width])
        if values[self._pk_index] is None:
            return None
        connection = connections[self.using]
        for index, converters, column in self._converters:
            value = values[index]
            for converter in converters:
                value = converter(value, column, connection)
            values[index] = value
        return self.model.from_db(self.using, None, values)  # type: ignore[return-value]


def in_list(values: Sequence[Any]) -> str:
    """Placeholders for `column IN (...)`, which both PostgreSQL and SQLite take; never empty."""
    return ", ".join(["%s"] * len(values)) if values else "NULL"


def column_reader(field: Any, using: str = "default") -> Callable[[Any], Any] | None:
    """What turns a value of model field `field` read by hand into what the ORM would give,
    or None when nothing needs doing (psycopg2 hands back aware datetimes; SQLite hands back
    text)."""
    connection = connections[using]
    column = field.get_col(field.model._meta.db_table)
    converters = tuple(connection.ops.get_db_converters(column) + field.get_db_converters(connection))
    if not converters:
        return None

    def read(value: Any) -> Any:
        for converter in converters:
            value = converter(value, column, connection)
        return value

    return read
