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

import dataclasses
import hashlib
import re
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from django.db import DatabaseError, connections
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
            converters = _converters(field, column, connection)
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


def _converters(field: Any, column: Any, connection: Any) -> tuple[_Converter, ...]:
    """The calls the ORM makes on a value of `field` read from the database: the backend's, then the field's."""
    return tuple(connection.ops.get_db_converters(column) + field.get_db_converters(connection))


def in_list(values: Sequence[Any]) -> str:
    """Placeholders for `column IN (...)`, which both PostgreSQL and SQLite take; never empty."""
    return ", ".join(["%s"] * len(values)) if values else "NULL"


def column_reader(field: Any, using: str = "default") -> Callable[[Any], Any] | None:
    """What turns a value of model field `field` read by hand into what the ORM would give,
    or None when nothing needs doing (psycopg2 hands back aware datetimes; SQLite hands back
    text)."""
    connection = connections[using]
    column = field.get_col(field.model._meta.db_table)
    converters = _converters(field, column, connection)
    if not converters:
        return None

    def read(value: Any) -> Any:
        for converter in converters:
            value = converter(value, column, connection)
        return value

    return read


# --- Prepared statements -------------------------------------------------------------------

_PLACEHOLDER = re.compile(r"%\((\w+)\)s|%s")


@dataclass
class _Prepared:
    """What one database session has prepared: names on the server, and our statements."""

    names: set[str]
    statements: dict[str, tuple[str, list[str] | None]] = dataclasses.field(default_factory=dict)


_PREPARED: weakref.WeakKeyDictionary[Any, _Prepared] = weakref.WeakKeyDictionary()
MAX_PREPARED_PER_CONNECTION = 64


def prepared_execute(cursor, sql: str, params: Sequence[Any] | Mapping[str, Any]) -> None:
    """Run a hot read by hand. On PostgreSQL it runs as a server-side prepared statement
    (PREPARE once per connection, then EXECUTE): planning the booking's multi-join reads
    cost PostgreSQL more time than running them (0.9 ms against 0.2 ms for the booking's
    references), and a prepared statement is planned once. Prepared statements belong to
    the session, not the transaction (a rollback keeps them), and a reconnection starts
    with none, which is tracked per driver connection. Elsewhere (SQLite) it is a plain
    execute. `sql` uses %s or %(name)s placeholders and no other % sign.

    Not for a transaction-pooling proxy (PgBouncer in transaction mode hands each
    transaction any server session); the deployment connects to PostgreSQL directly."""
    if "%%" in sql:
        raise ValueError("A prepared hot read takes %s or %(name)s placeholders and no other % sign.")
    connection = cursor.db
    raw = connection.connection
    if connection.vendor != "postgresql" or raw is None or connection.settings_dict.get("CONN_MAX_AGE") == 0:
        # A connection closed after each request (CONN_MAX_AGE 0) would prepare every time.
        cursor.execute(sql, params)
        return
    known = _PREPARED.get(raw)
    if known is None:
        # Whatever this session prepared before we started tracking it (names are the SQL's
        # hash, so an existing name is the same statement).
        cursor.execute("SELECT name FROM pg_prepared_statements")
        known = _PREPARED[raw] = _Prepared(names={name for (name,) in cursor.fetchall()})
    prepared = known.statements.get(sql)
    if prepared is None:
        if len(known.statements) >= MAX_PREPARED_PER_CONNECTION:  # many shapes here: plan this one each time
            cursor.execute(sql, params)
            return
        text, order = _numbered(sql)
        name = f"clinic_{hashlib.sha1(sql.encode(), usedforsecurity=False).hexdigest()[:20]}"
        if name not in known.names:
            cursor.execute(f"PREPARE {name} AS {text}")
            known.names.add(name)
        prepared = known.statements[sql] = (name, order)
    name, order = prepared
    values = [params[key] for key in order] if order is not None else list(params)  # type: ignore[index]
    try:
        if values:
            cursor.execute(f"EXECUTE {name} ({', '.join(['%s'] * len(values))})", values)
        else:
            cursor.execute(f"EXECUTE {name}")
    except DatabaseError as exc:
        if getattr(exc.__cause__, "pgcode", None) in _STALE_STATEMENT:
            # A migration changed a column this statement returns ("cached plan must not change
            # result type"), or the statement is gone. The transaction is aborted, so nothing can
            # be re-prepared now: this request fails, the registry forgets the session, and the
            # connection is closed when the request ends; the next one prepares afresh.
            _PREPARED.pop(raw, None)
            connection.close_at = 0
        raise


# feature_not_supported ("cached plan must not change result type"), invalid_sql_statement_name
_STALE_STATEMENT = frozenset({"0A000", "26000"})


def _numbered(sql: str) -> tuple[str, list[str] | None]:
    """`sql` with $1, $2 ... for its placeholders, and the names in that order (None when
    positional); a named parameter used twice keeps one number."""
    names: list[str] = []
    counter = 0

    def number(match: re.Match) -> str:
        nonlocal counter
        name = match.group(1)
        if name is None:
            counter += 1
            return f"${counter}"
        if name not in names:
            names.append(name)
        return f"${names.index(name) + 1}"

    text = _PLACEHOLDER.sub(number, sql)
    if names and counter:
        raise ValueError("Use either %s or %(name)s placeholders in one statement, not both.")
    return text, names or None
