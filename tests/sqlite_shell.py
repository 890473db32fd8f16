"""Run a scenario inside `manage.py shell -c` on the embedded default (SQLite, no Redis), as
tests/test_embedded_booking.py does: one migrated database per test run, copied for each
scenario, and the scenario prints one `RESULT <json>` line the test reads."""

from __future__ import annotations

import fcntl
import json
import shutil
from pathlib import Path

from tests.test_embedded_default import embedded_env, manage

_MIGRATED: dict[str, Path] = {}


def migrated_template(tmp_path_factory) -> Path:
    """A database `manage.py migrate` made, once per run: the first process (of pytest-xdist's
    workers) that asks migrates it in the run's shared temporary folder, under a lock; the others
    wait for it and copy it. Migrating takes seconds of CPU; a fresh database's migration is still
    tested on its own (tests/test_embedded_default.py)."""
    if "db" not in _MIGRATED:
        shared = tmp_path_factory.getbasetemp()
        if shared.name.startswith("popen-"):  # a pytest-xdist worker's folder, inside the run's own
            shared = shared.parent
        folder = shared / "embedded-template"
        with (shared / "embedded-template.lock").open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not (folder / "migrated").exists():
                folder.mkdir(exist_ok=True)
                manage(embedded_env(folder), "migrate", "--noinput")
                (folder / "migrated").touch()
        _MIGRATED["db"] = folder / "db.sqlite3"
    return _MIGRATED["db"]


def migrated_copy(tmp_path: Path, tmp_path_factory) -> None:
    """The embedded default's database in `tmp_path` (its DATA_DIR), migrated."""
    shutil.copy(migrated_template(tmp_path_factory), tmp_path / "db.sqlite3")


def run_on_sqlite(tmp_path: Path, tmp_path_factory, code: str, **extra_env: str) -> dict:
    migrated_copy(tmp_path, tmp_path_factory)
    env = embedded_env(tmp_path)
    env.update(extra_env)
    result = manage(env, "shell", "-c", code)
    line = next((line for line in result.stdout.splitlines() if line.startswith("RESULT ")), None)
    assert line is not None, f"no RESULT line:\n{result.stdout}\n{result.stderr}"
    return json.loads(line.split(" ", 1)[1])
