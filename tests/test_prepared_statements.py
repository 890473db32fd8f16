"""clinic.rows.prepared_execute: the hot reads as server-side prepared statements on PostgreSQL."""

from __future__ import annotations

import pytest
from django.db import DatabaseError, connection, transaction
from django.test.utils import CaptureQueriesContext

from clinic import rows
from clinic.rows import prepared_execute

SQL = "SELECT %s::int + 1, %s::text"
NAMED = "SELECT %(a)s::int * 2, %(b)s::text, %(a)s::int"


def _prepared_names() -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT name FROM pg_prepared_statements")
        return {name for (name,) in cursor.fetchall()}


def _run(sql, params):
    with connection.cursor() as cursor:
        prepared_execute(cursor, sql, params)
        return cursor.fetchone()


@pytest.mark.django_db
def test_a_statement_is_prepared_once_per_connection_and_then_executed():
    with CaptureQueriesContext(connection) as first:
        assert _run(SQL, [41, "x"]) == (42, "x")
    with CaptureQueriesContext(connection) as second:
        assert _run(SQL, [1, "y"]) == (2, "y")
    assert [q["sql"].split()[0] for q in first.captured_queries][-2:] == ["PREPARE", "EXECUTE"]
    assert [q["sql"].split()[0] for q in second.captured_queries] == ["EXECUTE"]
    assert any(name.startswith("clinic_") for name in _prepared_names())


@pytest.mark.django_db
def test_named_parameters_keep_one_number_each():
    assert _run(NAMED, {"a": 5, "b": "z", "unused": 9}) == (10, "z", 5)
    assert _run(NAMED, {"b": "w", "a": 7}) == (14, "w", 7)


def test_mixing_placeholder_styles_is_refused():
    with pytest.raises(ValueError, match="either"):
        rows._numbered("SELECT %s, %(a)s")


@pytest.mark.django_db(transaction=True)
def test_a_rollback_keeps_the_statement_and_a_new_connection_prepares_again():
    with pytest.raises(ZeroDivisionError), transaction.atomic():
        assert _run(SQL, [1, "a"]) == (2, "a")
        raise ZeroDivisionError
    with CaptureQueriesContext(connection) as after_rollback:
        assert _run(SQL, [2, "b"]) == (3, "b")
    assert [q["sql"].split()[0] for q in after_rollback.captured_queries] == ["EXECUTE"]
    connection.close()
    with CaptureQueriesContext(connection) as reconnected:
        assert _run(SQL, [3, "c"]) == (4, "c")
    # A new session: what it has prepared is read once, then the statement is prepared again.
    assert [q["sql"].split()[0] for q in reconnected.captured_queries] == ["SELECT", "PREPARE", "EXECUTE"]


@pytest.mark.django_db
def test_past_the_limit_of_shapes_a_statement_is_planned_each_time(monkeypatch):
    monkeypatch.setattr(rows, "MAX_PREPARED_PER_CONNECTION", 0)
    _run("SELECT 1 WHERE %s", [True])  # the session's prepared names are read before the count
    with CaptureQueriesContext(connection) as plain:
        assert _run("SELECT %s::int - 1", [10]) == (9,)
    assert [q["sql"].split()[0] for q in plain.captured_queries] == ["SELECT"]


@pytest.mark.django_db
def test_a_statement_the_session_prepared_before_tracking_is_not_prepared_twice():
    assert _run(SQL, [1, "a"]) == (2, "a")
    rows._PREPARED.pop(connection.connection)  # as if this process had lost track of it
    with CaptureQueriesContext(connection) as again:
        assert _run(SQL, [5, "e"]) == (6, "e")
    assert [q["sql"].split()[0] for q in again.captured_queries] == ["SELECT", "EXECUTE"]


@pytest.mark.django_db
def test_a_connection_closed_after_each_request_prepares_nothing(monkeypatch):
    monkeypatch.setitem(connection.settings_dict, "CONN_MAX_AGE", 0)
    with CaptureQueriesContext(connection) as plain:
        assert _run("SELECT %s::int * 3", [3]) == (9,)
    assert [q["sql"].split()[0] for q in plain.captured_queries] == ["SELECT"]


@pytest.mark.django_db(transaction=True)
def test_a_column_type_changed_under_a_prepared_statement_fails_once_then_the_next_connection_works():
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE prepared_probe (label varchar(10))")
        cursor.execute("INSERT INTO prepared_probe VALUES ('first')")
    try:
        probe = "SELECT label FROM prepared_probe WHERE label = %s"
        assert _run(probe, ["first"]) == ("first",)
        with connection.cursor() as cursor:  # what a migration does meanwhile
            cursor.execute("ALTER TABLE prepared_probe ALTER COLUMN label TYPE varchar(40)")
        with pytest.raises(DatabaseError, match="cached plan must not change result type"):
            _run(probe, ["first"])
        assert connection.close_at == 0  # closed at the end of this request
        assert connection.connection not in rows._PREPARED
        connection.close()  # what the end of the request does
        assert _run(probe, ["first"]) == ("first",)
    finally:
        connection.close()
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE prepared_probe")


def test_a_literal_percent_sign_is_refused():
    with pytest.raises(ValueError, match="no other"):
        prepared_execute(None, "SELECT 'a%%b' WHERE 1 = %s", [1])
