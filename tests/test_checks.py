"""System checks: the embedded default refuses an SQLite too old for the booking path."""

from __future__ import annotations

import sqlite3
from types import SimpleNamespace

from clinic import checks

CONNECTIONS = {"embedded": SimpleNamespace(vendor="sqlite"), "default": SimpleNamespace(vendor="postgresql")}


def test_an_old_sqlite_is_refused_with_what_to_do(monkeypatch):
    monkeypatch.setattr(checks, "connections", CONNECTIONS)
    monkeypatch.setattr(sqlite3, "sqlite_version_info", (3, 31, 1))
    monkeypatch.setattr(sqlite3, "sqlite_version", "3.31.1")
    errors = checks.sqlite_new_enough(databases=["default", "embedded"])
    assert [error.id for error in errors] == ["clinic.E001"]
    assert "3.31.1" in errors[0].msg and "3.35" in errors[0].msg


def test_this_sqlite_and_postgresql_pass(monkeypatch):
    monkeypatch.setattr(checks, "connections", CONNECTIONS)
    assert sqlite3.sqlite_version_info >= checks.SQLITE_MINIMUM
    assert checks.sqlite_new_enough(databases=["default", "embedded"]) == []
