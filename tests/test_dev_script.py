"""dev.py's own preparation for the test command: it starts the local PostgreSQL and Redis when they
are installed but stopped, and installs Chromium when it is missing and it may (issue 20, item 25).

The commands are recorded instead of run: the real start is shown by `.ci/run` on a machine whose
services are stopped (see the closing note); here each decision is pinned down."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def dev(monkeypatch):
    spec = importlib.util.spec_from_file_location("dev_under_test", ROOT / "dev.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["dev_under_test"] = module
    spec.loader.exec_module(module)
    monkeypatch.setattr(module, "wait_until", lambda check, seconds=30.0: check())
    yield module
    del sys.modules["dev_under_test"]


class Machine:
    """What the machine answers: which servers run, which programs exist, who we are."""

    def __init__(self, monkeypatch, dev, *, postgres=False, redis=False, programs=(), root=True, chromium=False):
        self.running = {"postgres": postgres, "redis": redis}
        self.commands: list[object] = []
        programs = set(programs)
        monkeypatch.setattr(dev, "reachable", lambda host, port: self.running["postgres"])
        monkeypatch.setattr(dev, "redis_answers", lambda url: self.running["redis"])
        monkeypatch.setattr(dev.shutil, "which", lambda name: f"/usr/bin/{name}" if name in programs else None)
        monkeypatch.setattr(dev.os, "geteuid", lambda: 0 if root else 1000)
        real_path = dev.Path

        class FakePath(type(real_path())):
            def exists(self) -> bool:
                return chromium if str(self) == dev.CHROMIUM else super().exists()

            def is_dir(self) -> bool:
                return True if str(self) == "/etc/postgresql" else super().is_dir()

        monkeypatch.setattr(dev, "Path", FakePath)
        monkeypatch.setattr(dev.subprocess, "run", self.run)

    def run(self, command, *args, **kwargs):
        self.commands.append(command)
        if command == dev_module().START_POSTGRES:
            self.running["postgres"] = True
        if command == dev_module().START_REDIS:
            self.running["redis"] = True
        return subprocess.CompletedProcess(command, 0)


def dev_module():
    return sys.modules["dev_under_test"]


ENV = {"DATABASE_URL": "postgres://postgres@127.0.0.1:5432/clinic", "REDIS_URL": "redis://127.0.0.1:6379/15"}


def test_stopped_local_postgres_and_redis_are_started_with_the_documented_commands(monkeypatch, dev):
    machine = Machine(monkeypatch, dev, programs={"pg_ctlcluster", "redis-server"})
    dev.start_local_services(dict(ENV))
    assert machine.commands == [dev.START_POSTGRES, dev.START_REDIS]
    assert dev.check_services(dict(ENV)) == []


def test_running_services_are_left_alone(monkeypatch, dev):
    machine = Machine(monkeypatch, dev, postgres=True, redis=True, programs={"pg_ctlcluster", "redis-server"})
    dev.start_local_services(dict(ENV))
    assert machine.commands == []


def test_a_server_that_is_not_installed_is_reported_not_started(monkeypatch, dev):
    machine = Machine(monkeypatch, dev, programs=set())
    dev.start_local_services(dict(ENV))
    assert machine.commands == []
    problems = dev.check_services(dict(ENV))
    assert len(problems) == 2
    assert dev.START_POSTGRES in problems[0] and dev.START_REDIS in problems[1]


def test_a_remote_database_is_never_started_here(monkeypatch, dev):
    machine = Machine(monkeypatch, dev, programs={"pg_ctlcluster", "redis-server"})
    dev.start_local_services(
        {"DATABASE_URL": "postgres://app@db.internal:5432/clinic", "REDIS_URL": "redis://cache.internal:6379/0"}
    )
    assert machine.commands == []


def test_missing_chromium_is_installed_from_debian_when_root(monkeypatch, dev):
    machine = Machine(monkeypatch, dev, programs={"apt-get"}, root=True, chromium=False)
    dev.ensure_chromium({})
    assert machine.commands == [
        ["/usr/bin/apt-get", "update", "-q"],
        ["/usr/bin/apt-get", "install", "-y", "-q", "chromium-headless-shell"],
    ]


def test_missing_chromium_is_only_reported_without_root(monkeypatch, dev, capsys):
    machine = Machine(monkeypatch, dev, programs={"apt-get"}, root=False, chromium=False)
    dev.ensure_chromium({})
    assert machine.commands == []
    assert "Chromium is not installed" in capsys.readouterr().out


def test_installed_chromium_installs_nothing(monkeypatch, dev):
    machine = Machine(monkeypatch, dev, programs={"apt-get"}, root=True, chromium=True)
    dev.ensure_chromium({})
    assert machine.commands == []
