"""Browser tests and the others in one process: a test that is no browser test runs with no event
loop running in the main thread, also after a browser test.

Playwright's sync API runs its asyncio loop in a greenlet of the main thread and marks that loop
as the thread's running loop for as long as its driver lives (`asyncio._set_running_loop(loop)`
after every sync call: playwright/_impl/_greenlets.py, wait_for_future). pytest-playwright's
`playwright` fixture is session-scoped, so from the first browser test to the end of the run
every test in that process found a loop running in the main thread:
- `asyncio.run` refused to start ("cannot be called from a running event loop": the SIU sender,
  interop/siu/mllp.py), as does asgiref's `async_to_sync`;
- Django refuses database work there unless DJANGO_ALLOW_ASYNC_UNSAFE is set (the hook below sets
  it for the tests that use Playwright, and only for them);
- Django keeps a thread's connections in an asgiref Local that holds other connections while a
  loop runs, so the main thread was handed another connection object after the first browser
  test, and a test whose database fixtures were set up on one connection object and its body run
  on the other would commit outside its rolled-back transaction.

Which tests follow a browser test is not fixed either: pytest-django runs the transactional tests
(the browser tests, on a live server) after the others, but pytest-playwright gives every test
with an argument named `page` (a parametrized one too, tests/web/test_query_counts.py) its
session-scoped `browser_name` parameter, and pytest moves all the tests that share it, the
browser tests among them, next to the first such test, ahead of the database tests after it.

So each test runs, from the set-up of its first fixture to the tear-down of its last, with
Playwright's loop running in the main thread (and Django's database work allowed beside it) if it
uses Playwright, and with no loop otherwise.
Nothing drives that loop in between (it runs only while a sync call waits in it), so the next
browser test finds the driver and the browser as they were. Kept out of tests/conftest.py (which
needs Django) so tests/test_browser_event_loop.py can run it in a pytest run of its own."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Generator

import pytest
from playwright.sync_api import Playwright

_playwright_loop: asyncio.AbstractEventLoop | None = None  # while Playwright's driver runs
ASYNC_UNSAFE = "DJANGO_ALLOW_ASYNC_UNSAFE"


@pytest.fixture(scope="session")
def playwright(playwright: Playwright) -> Generator[Playwright]:
    """pytest-playwright's, noting the loop its driver runs in."""
    global _playwright_loop
    _playwright_loop = asyncio._get_running_loop()
    yield playwright
    # Its stop() (the fixture's tear-down, next) runs the loop once more, maybe after a test that
    # ran without it.
    asyncio._set_running_loop(_playwright_loop)
    _playwright_loop = None


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Generator[None, object, object]:
    uses_playwright = "playwright" in getattr(item, "fixturenames", ())
    asyncio._set_running_loop(_playwright_loop if uses_playwright else None)
    if not uses_playwright:
        return (yield)
    # The live server's and the test's database work run in the thread where Playwright's loop runs.
    before = os.environ.get(ASYNC_UNSAFE)
    os.environ[ASYNC_UNSAFE] = "true"
    try:
        return (yield)
    finally:
        if before is None:
            del os.environ[ASYNC_UNSAFE]
        else:
            os.environ[ASYNC_UNSAFE] = before
