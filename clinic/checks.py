"""System checks for what the embedded default needs from the SQLite it finds."""

from __future__ import annotations

from django.core.checks import Error, register
from django.db import connections

# INSERT ... ON CONFLICT ... RETURNING (the idempotency claim) and RETURNING from a bulk
# insert (history rows keyed by the new ids) need 3.35; Django itself accepts 3.31.
SQLITE_MINIMUM = (3, 35)


@register("database")
def sqlite_new_enough(app_configs=None, databases=None, **kwargs) -> list[Error]:
    errors = []
    for alias in databases or ():
        connection = connections[alias]
        if connection.vendor != "sqlite":
            continue
        import sqlite3

        if sqlite3.sqlite_version_info < SQLITE_MINIMUM:
            errors.append(
                Error(
                    f"SQLite {sqlite3.sqlite_version} is too old for this application "
                    f"(bookings need {'.'.join(map(str, SQLITE_MINIMUM))} or newer).",
                    hint="Use a Python built with a newer SQLite, or set DATABASE_URL to PostgreSQL.",
                    id="clinic.E001",
                )
            )
    return errors
