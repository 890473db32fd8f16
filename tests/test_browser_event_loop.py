"""Browser tests and the others in one process (tests/browser_event_loop.py): once a browser test
has started Playwright, a later test that is no browser test finds no event loop running in the
main thread, from the set-up of its fixtures to their tear-down, so `asyncio.run` works there (the
SIU sender's, interop/siu/mllp.py) and Django hands it the thread's own database connection all
along; a browser test after it drives Playwright as before, and Playwright stops cleanly after a
last test that is no browser test.

It is a pytest run of its own, in a subprocess, on four tiny modules, with the hook and fixture
tests/conftest.py takes from tests/browser_event_loop.py and pytest-playwright's session-scoped
`playwright` (its driver starts; no browser does)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import tests.conftest
from tests import browser_event_loop

ROOT = Path(__file__).resolve().parent.parent

CONFTEST = "from tests.browser_event_loop import playwright, pytest_runtest_protocol  # noqa: F401\n"

A_BROWSER_TEST = """
import os


def test_a_browser_test_drives_playwright(playwright):
    playwright.request.new_context().dispose()  # a call to the driver, through its loop
    assert os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] == "true"  # Django's work beside that loop
"""

ANOTHER_TEST = """
import asyncio
import os

import pytest


@pytest.fixture(scope="module")
def module_fixture():
    assert asyncio._get_running_loop() is None  # a module's fixtures are set up first
    yield
    assert asyncio._get_running_loop() is None


@pytest.fixture
def function_fixture(module_fixture):
    assert asyncio._get_running_loop() is None
    yield
    assert asyncio._get_running_loop() is None


def test_another_test_finds_no_running_loop(function_fixture):
    with pytest.raises(RuntimeError):
        asyncio.get_running_loop()
    assert "DJANGO_ALLOW_ASYNC_UNSAFE" not in os.environ  # Django's guard holds again


def test_another_test_runs_its_own_loop(function_fixture):
    async def answer():
        return 42

    assert asyncio.run(answer()) == 42
"""


def test_a_test_after_a_browser_test_finds_no_event_loop_running_in_the_main_thread(tmp_path: Path) -> None:
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    (tmp_path / "conftest.py").write_text(CONFTEST)
    (tmp_path / "test_1_browser.py").write_text(A_BROWSER_TEST)
    (tmp_path / "test_2_other.py").write_text(ANOTHER_TEST)
    (tmp_path / "test_3_browser.py").write_text(A_BROWSER_TEST)
    (tmp_path / "test_4_other.py").write_text(ANOTHER_TEST)  # the last: Playwright stops after it
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("PYTEST_ADDOPTS", None)
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:django", "-p", "no:cacheprovider", "-p", "no:xdist", "-v"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.rstrip().splitlines()[-1].startswith("====") and " 6 passed in " in result.stdout, (
        result.stdout
    )


def test_the_project_tests_take_the_hook_and_the_fixture() -> None:
    assert tests.conftest.pytest_runtest_protocol is browser_event_loop.pytest_runtest_protocol
    assert tests.conftest.playwright is browser_event_loop.playwright
