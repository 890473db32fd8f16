#!/usr/bin/env python3
"""Developer entry point. Standard library only, so it runs on a fresh machine.

    python3 dev.py run    # the app with demo data: web, Celery worker and beat (Ctrl-C stops all)
    python3 dev.py test   # lint, format and import-layer checks, migration check and the test suite
                          # (extra args go to pytest)

Both create .venv when it is missing and install the pinned requirements,
skipping the install while a stamp in .venv records the same requirements hash.
"""

# ruff: noqa: S603 - a developer tool: every command it runs is fixed here, none comes from untrusted input

from __future__ import annotations

import ast
import hashlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import venv
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / ("python.exe" if os.name == "nt" else "python")
SEED_MODULE = ROOT / "web" / "management" / "commands" / "seed_demo.py"

DEFAULT_TEST_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/clinic"
DEFAULT_TEST_REDIS_URL = "redis://127.0.0.1:6379/15"
START_POSTGRES = "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"
START_REDIS = 'redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no'
# The browser tests drive Chromium's headless shell (the build Playwright itself runs headless): the same
# Blink as the full browser, at about half its CPU per page.
CHROMIUM_PACKAGE = "chromium-headless-shell"
INSTALL_CHROMIUM = f"apt-get update && apt-get install -y {CHROMIUM_PACKAGE}"


def say(message: str) -> None:
    print(f"dev.py: {message}", flush=True)


def requirements_hash(requirement_files: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in requirement_files:
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def ensure_venv(kind: str) -> None:
    """Create .venv and install requirements for `kind` ("run" or "test") unless already done."""
    run_files = [ROOT / "requirements.txt"]
    test_files = [*run_files, ROOT / "requirements-dev.txt"]
    stamps = {
        "run": (VENV / ".requirements-run.sha256", requirements_hash(run_files)),
        "test": (VENV / ".requirements-test.sha256", requirements_hash(test_files)),
    }
    # requirements-dev.txt includes requirements.txt, so a current test install also serves `run`.
    good_enough = ["run", "test"] if kind == "run" else ["test"]
    for name in good_enough:
        stamp, wanted = stamps[name]
        if PYTHON.exists() and stamp.exists() and stamp.read_text().strip() == wanted:
            return
    if not PYTHON.exists():
        say(f"creating virtualenv in {VENV}")
        venv.EnvBuilder(with_pip=True, clear=VENV.exists()).create(VENV)
    requirement_file = (test_files if kind == "test" else run_files)[-1]
    say(f"installing {requirement_file.name} into .venv")
    subprocess.run([str(PYTHON), "-m", "pip", "install", "--quiet", "-r", str(requirement_file)], cwd=ROOT, check=True)
    stamp, wanted = stamps[kind]
    stamp.write_text(wanted + "\n")


def seed_constants() -> dict[str, object]:
    """DEMO_* constants of seed_demo.py, read from the source: no Django needed here."""
    tree = ast.parse(SEED_MODULE.read_text())
    found: dict[str, object] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            name = node.targets[0].id
            if name.startswith("DEMO_"):
                found[name] = ast.literal_eval(node.value)
    return found


def manage(*args: str, env: dict[str, str]) -> None:
    subprocess.run([str(PYTHON), "manage.py", *args], cwd=ROOT, env=env, check=True)


def venv_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env["VIRTUAL_ENV"] = str(VENV)
    env.setdefault("PYTHONUNBUFFERED", "1")
    env.update(extra or {})
    return env


def announce_when_up(url: str, banner: str, stop: threading.Event) -> None:
    deadline = time.monotonic() + 120
    while not stop.is_set() and time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url + "health/", timeout=2):  # noqa: S310 - our own local server
                print(banner, flush=True)
                return
        except (urllib.error.URLError, OSError):
            stop.wait(0.5)


def command_run(_: list[str]) -> int:
    ensure_venv("run")
    env = venv_env()
    env.setdefault("DJANGO_DEBUG", "true")
    env.setdefault("DATA_DIR", str(ROOT / ".data"))
    env.setdefault("PORT", "8000")
    env["DATA_DIR"] = str(Path(env["DATA_DIR"]).resolve())
    data_dir = Path(env["DATA_DIR"])
    for folder in (data_dir, data_dir / "broker", data_dir / "broker-processed"):
        folder.mkdir(parents=True, exist_ok=True)

    manage("migrate", "--noinput", env=env)
    manage("seed_demo", env=env)
    manage("collectstatic", "--noinput", "--verbosity", "0", env=env)

    constants = seed_constants()
    url = f"http://127.0.0.1:{env['PORT']}/"
    logins = "\n".join(f"    {user:<10} {role}" for user, role in constants["DEMO_LOGINS"].items())  # type: ignore[union-attr]
    database = env.get("DATABASE_URL") or f"SQLite in {data_dir}"
    broker = env.get("CELERY_BROKER_URL") or env.get("REDIS_URL") or f"filesystem broker in {data_dir / 'broker'}"
    banner = (
        f"\n  Infusion clinic is up at {url}   (Django admin: {url}admin/)\n"
        f"  Demo logins, all with password {constants['DEMO_PASSWORD']}:\n{logins}\n"
        f"  Database: {database}\n  Celery broker: {broker}\n  Ctrl-C stops web, worker and beat.\n"
    )
    say(f"starting web, worker and beat on {url} (the logins are shown once it answers)")

    process = subprocess.Popen(
        [str(BIN / "honcho"), "start", "-f", "Procfile.dev", "-p", env["PORT"]], cwd=ROOT, env=env
    )
    stop = threading.Event()
    threading.Thread(target=announce_when_up, args=(url, banner, stop), daemon=True).start()

    def forward(signum: int, _frame: object) -> None:
        process.send_signal(signum)

    signal.signal(signal.SIGTERM, forward)
    try:
        while True:
            try:
                return process.wait()
            except KeyboardInterrupt:
                # The terminal sent SIGINT to honcho too; it stops its children. Wait for it.
                continue
    finally:
        stop.set()


def reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=3):
            return True
    except OSError:
        return False


def redis_answers(url: str) -> bool:
    parsed = urlparse(url)
    try:
        with socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or 6379), timeout=3) as sock:
            sock.sendall(b"PING\r\n")
            reply = sock.recv(64)
    except OSError:
        return False
    # -NOAUTH still proves a Redis server is there; the tests pass the password from the URL.
    return reply.startswith((b"+PONG", b"-NOAUTH"))


def check_services(env: dict[str, str]) -> list[str]:
    problems = []
    database = urlparse(env["DATABASE_URL"])
    if not database.scheme.startswith("postgres"):
        problems.append(f"DATABASE_URL={env['DATABASE_URL']!r}: the test suite needs PostgreSQL.")
    elif not reachable(database.hostname or "127.0.0.1", database.port or 5432):
        problems.append(
            f"PostgreSQL is not accepting connections at {database.hostname}:{database.port or 5432}.\n"
            f"    Start it with: {START_POSTGRES}\n    or set DATABASE_URL to a running server."
        )
    if not redis_answers(env["REDIS_URL"]):
        problems.append(
            f"Redis does not answer at {env['REDIS_URL']}.\n"
            f"    Start it with: {START_REDIS}\n    or set REDIS_URL to a running server."
        )
    return problems


LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1", None}
CHROMIUM = "/usr/bin/chromium-headless-shell"


def wait_until(check: Callable[[], bool], seconds: float = 30.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.5)
    return check()


def start_local_services(env: dict[str, str]) -> None:
    """Start this machine's PostgreSQL and Redis when the tests point at them, they are installed
    and they are not running: the one test command works on a fresh machine. A server elsewhere, or
    one that is not installed, is left to check_services, which says what is wrong."""
    database = urlparse(env["DATABASE_URL"])
    postgres_at = (database.hostname or "127.0.0.1", database.port or 5432)
    if (
        database.scheme.startswith("postgres")
        and database.hostname in LOCAL_HOSTS
        and not reachable(*postgres_at)
        and shutil.which("pg_ctlcluster")
        and Path("/etc/postgresql").is_dir()
    ):
        say(f"PostgreSQL is not running; starting it: {START_POSTGRES}")
        subprocess.run(START_POSTGRES, shell=True, check=False)  # noqa: S602 - a fixed command
        if not wait_until(lambda: reachable(*postgres_at)):
            say("PostgreSQL did not come up within 30 s")
    redis = urlparse(env["REDIS_URL"])
    if redis.hostname in LOCAL_HOSTS and not redis_answers(env["REDIS_URL"]) and shutil.which("redis-server"):
        say(f"Redis is not running; starting it: {START_REDIS}")
        subprocess.run(START_REDIS, shell=True, check=False)  # noqa: S602 - a fixed command
        if not wait_until(lambda: redis_answers(env["REDIS_URL"])):
            say("Redis did not come up within 30 s")


def ensure_chromium(env: dict[str, str]) -> None:
    """The browser tests drive Debian's Chromium headless shell. Install it when it is missing and this
    process may (root, apt-get); otherwise say so: those tests then fail with the same advice."""
    chromium = env.get("CHROMIUM_PATH", CHROMIUM)
    if Path(chromium).exists() or shutil.which(chromium):
        return
    apt_get = shutil.which("apt-get")
    if chromium != CHROMIUM or apt_get is None or not hasattr(os, "geteuid") or os.geteuid() != 0:
        say(
            f"Chromium is not installed at {chromium}; the browser tests will fail. Install it with: {INSTALL_CHROMIUM}"
        )
        return
    say(f"Chromium is not installed; installing Debian's {CHROMIUM_PACKAGE}: {INSTALL_CHROMIUM}")
    apt_env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in ([apt_get, "update", "-q"], [apt_get, "install", "-y", "-q", CHROMIUM_PACKAGE]):
        if subprocess.run(command, env=apt_env, check=False).returncode != 0:
            say(f"{' '.join(command)} failed; the browser tests will fail")
            return


def command_test(pytest_args: list[str]) -> int:
    ensure_venv("test")
    env = venv_env()
    env.setdefault("DATABASE_URL", DEFAULT_TEST_DATABASE_URL)
    env.setdefault("REDIS_URL", DEFAULT_TEST_REDIS_URL)
    env["DJANGO_SETTINGS_MODULE"] = "tests.settings"
    start_local_services(env)
    ensure_chromium(env)
    problems = check_services(env)
    if problems:
        for problem in problems:
            print(f"dev.py: {problem}", file=sys.stderr)
        return 2

    steps = [
        ("ruff check", [str(BIN / "ruff"), "check", "."]),
        ("ruff format", [str(BIN / "ruff"), "format", "--check", "."]),
        ("import layers (.importlinter)", [str(BIN / "lint-imports")]),
        # The domain packages' types (pyproject.toml's [tool.mypy] names them).
        ("mypy", [str(BIN / "mypy")]),
        ("migrations up to date", [str(PYTHON), "manage.py", "makemigrations", "--check", "--dry-run"]),
        # The whole suite; the tests that build their data from the clock (marker `clock`) run at each
        # fixed instant of tests/clock.py (the week's edges, the clock changes, New Year's Eve), so a
        # calendar bug shows here, not on some weekday in CI. One pytest-xdist worker per core (each with
        # its own test database and cache keys). Extra arguments replace this selection.
        ("pytest", [str(PYTHON), "-m", "pytest", *(pytest_args or ["--clock-instants=all", "-n", "auto"])]),
    ]
    failed = []
    for name, command in steps:
        say(f"--- {name}: {' '.join(command[1:] if command[0] == str(PYTHON) else command)}")
        try:
            code = subprocess.run(command, cwd=ROOT, env=env).returncode
        except KeyboardInterrupt:
            say(f"{name} interrupted")
            return 130
        if code != 0:
            say(f"{name} FAILED (exit {code})")
            failed.append(name)
    if failed:
        say(f"failed: {', '.join(failed)}")
        return 1
    say("all checks passed")
    return 0


def main(argv: list[str]) -> int:
    commands = {"run": command_run, "test": command_test}
    # Everything after the command goes to pytest untouched, so no argparse here.
    if not argv or argv[0] not in commands or (argv[0] == "run" and len(argv) > 1):
        print(__doc__.strip(), file=sys.stderr)
        return 2
    try:
        return commands[argv[0]](argv[1:])
    except subprocess.CalledProcessError as exc:
        say(f"{' '.join(map(str, exc.cmd))} failed with exit code {exc.returncode}")
        return exc.returncode or 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
