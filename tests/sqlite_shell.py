"""Run a scenario inside `manage.py shell -c` on the embedded default (SQLite, no Redis), as
tests/test_embedded_booking.py does: one migrated database per test session, copied for each
scenario, and the scenario prints one `RESULT <json>` line the test reads."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from tests.test_embedded_default import embedded_env, manage

_MIGRATED: dict[str, Path] = {}


def migrated_template(tmp_path_factory) -> Path:
    if "db" not in _MIGRATED:
        folder = tmp_path_factory.mktemp("embedded-template")
        manage(embedded_env(folder), "migrate", "--noinput")
        _MIGRATED["db"] = folder / "db.sqlite3"
    return _MIGRATED["db"]


def run_on_sqlite(tmp_path: Path, tmp_path_factory, code: str, **extra_env: str) -> dict:
    shutil.copy(migrated_template(tmp_path_factory), tmp_path / "db.sqlite3")
    env = embedded_env(tmp_path)
    env.update(extra_env)
    result = manage(env, "shell", "-c", code)
    line = next((line for line in result.stdout.splitlines() if line.startswith("RESULT ")), None)
    assert line is not None, f"no RESULT line:\n{result.stdout}\n{result.stderr}"
    return json.loads(line.split(" ", 1)[1])
