"""Give the application's database role its rights: `python manage.py db_grant_app_role clinic_app`.

Run connected as the owner of the tables (the role `migrate` runs as), after every migrate.
Normal rights on every table, and on the append-only logs only SELECT and INSERT, so that
even a compromised app cannot rewrite the audit trail or the controlled-substance register.
The SQL is deploy/postgres/roles.sql; every statement in it is idempotent."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection, transaction

ROLES_SQL = Path(settings.BASE_DIR) / "deploy" / "postgres" / "roles.sql"
APPEND_ONLY_MODELS = ("clinic.AccessLog", "clinical.ControlledSubstanceEntry")
# Role names are spliced into SQL as identifiers; allow only plain ones rather than escape.
ROLE_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")


def append_only_tables() -> list[str]:
    return [apps.get_model(label)._meta.db_table for label in APPEND_ONLY_MODELS]


def grant_statements(*, app_role: str, tables: list[str], sequences: list[str]) -> list[str]:
    quote = connection.ops.quote_name
    text = ROLES_SQL.read_text()
    body = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("--"))
    body = body.format(
        app_role=quote(app_role),
        append_only_tables=", ".join(quote(table) for table in tables),
        append_only_sequences=", ".join(sequences),
    )
    return [statement.strip() for statement in body.split(";") if statement.strip()]


class Command(BaseCommand):
    help = "Grant the app's database role normal rights, and only SELECT/INSERT on the append-only logs."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("role", help="the role web, worker and beat connect as (e.g. clinic_app)")

    def handle(self, *args: Any, role: str, **options: Any) -> None:
        if connection.vendor != "postgresql":
            raise CommandError("Database roles need PostgreSQL; the embedded SQLite database has none.")
        if not ROLE_NAME.fullmatch(role):
            raise CommandError(f"{role!r} is not a plain role name (lower-case letters, digits, underscores).")
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SELECT current_user, EXISTS (SELECT FROM pg_roles WHERE rolname = %s)", [role])
            current, exists = cursor.fetchone()
            if not exists:
                raise CommandError(f"Role {role!r} does not exist; deploy/postgres/initdb/ creates it.")
            if role == current:
                raise CommandError("Run this as the owner of the tables, not as the app role itself.")
            tables = append_only_tables()
            sequences = []
            for table in tables:
                cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [connection.ops.quote_name(table)])
                (sequence,) = cursor.fetchone()
                if sequence is None:
                    raise CommandError(f"{table} has no id sequence; has migrate run?")
                sequences.append(sequence)
            for statement in grant_statements(app_role=role, tables=tables, sequences=sequences):
                cursor.execute(statement)
        self.stdout.write(f"{role}: rows of every table; only SELECT and INSERT on {', '.join(tables)}.")
