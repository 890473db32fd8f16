"""Smoke test of the embedded default: no DATABASE_URL, no broker URL, nothing
but a data folder. Migrate, seed, serve, and the health check says SQLite."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def embedded_env(data_dir: Path) -> dict[str, str]:
    # pytest-django and tests/settings.py put the PostgreSQL/Redis settings into
    # os.environ; the embedded default is what is left without them.
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "DJANGO_SECRET_KEY"}
    }
    env.update(DJANGO_SETTINGS_MODULE="config.settings", DJANGO_DEBUG="true", DATA_DIR=str(data_dir))
    return env


def manage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, f"manage.py {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    return result


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def get(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.status, response.read().decode()


def test_embedded_default_migrates_seeds_and_serves(tmp_path):
    env = embedded_env(tmp_path)
    manage(env, "migrate", "--noinput")
    seeded = manage(env, "seed_demo")
    assert "Riverside Infusion Center" in seeded.stdout
    # The site's day template is solved and kept on SQLite too (the board shows its free starts).
    assert "day template: 28 sessions a day (OPTIMAL)" in seeded.stdout, seeded.stdout
    assert (tmp_path / "db.sqlite3").exists()

    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 20
        while True:
            try:
                status, body = get(f"{base}/health/")
                break
            except (urllib.error.URLError, ConnectionError):
                assert server.poll() is None, f"runserver exited:\n{server.stdout.read()}"
                assert time.monotonic() < deadline, "runserver did not answer within 20 s"
                time.sleep(0.2)
        assert status == 200
        assert json.loads(body)["database"] == "sqlite"
        assert "sqlite" in body
        home_status, _ = get(f"{base}/")
        assert home_status == 200
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_without_a_broker_url_celery_uses_the_filesystem_broker(tmp_path):
    env = embedded_env(tmp_path)
    result = manage(
        env,
        "shell",
        "-c",
        "from django.conf import settings; "
        "options = settings.CELERY_BROKER_TRANSPORT_OPTIONS; "
        "print('BROKER', settings.CELERY_BROKER_URL, options['data_folder_in'], options['processed_folder'])",
    )
    line = next(line for line in result.stdout.splitlines() if line.startswith("BROKER "))
    broker_url, data_folder, processed_folder = line.split()[1:]
    assert broker_url == "filesystem://"
    assert data_folder == str(tmp_path / "broker")
    assert processed_folder == str(tmp_path / "broker-processed")
