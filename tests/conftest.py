"""Shared fixtures: the service check, the clinic and its personas.

Personas (each with what it may see):
- front_desk: books, moves, cancels; sees contact and scheduling data, not clinical notes or screening.
- nurse, prescriber: clinicians; everything the front desk sees plus plans, screening, overrides.
- clinic_admin: configuration of sites, chairs, hours, protocols, reminder policy.
- patient_a, patient_b: portal users; each sees only their own appointments and plan.
"""

from __future__ import annotations

import copy
import datetime as dt
import os
import time
from urllib.parse import urlparse

import factory.random
import psycopg2
import pytest
import redis
import time_machine

from tests import clock, factories
from tests.browser_event_loop import playwright, pytest_runtest_protocol  # noqa: F401  (fixture, hook)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--clock-instants",
        default="default",
        help="Instants at which the tests marked `clock` run: 'default' (one fixed Tuesday morning), "
        f"'all' ({', '.join(clock.INSTANTS)}; a browser test at {', '.join(clock.BROWSER_INSTANTS)}), "
        "'every' (all of them, the browser tests too), or a comma-separated list of those names.",
    )


def instants_for(config: pytest.Config, node: pytest.Item | pytest.Function) -> list[str]:
    """The instants a test marked `clock` runs at in this run, in order; none when it runs once, at the
    default instant (the default run, or `calendar=False`)."""
    marker = node.get_closest_marker("clock")
    wanted = config.getoption("--clock-instants")
    if marker is None or wanted == "default" or marker.kwargs.get("calendar", True) is False:
        return []
    if wanted == "all" and node.get_closest_marker("browser") is not None:
        return list(clock.BROWSER_INSTANTS)  # each costs seconds; which five: tests/clock.py
    if wanted in ("all", "every"):
        return list(clock.INSTANTS)
    return [name.strip() for name in wanted.split(",")]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    names = instants_for(metafunc.config, metafunc.definition)
    if not names:
        return
    unknown = [name for name in names if name not in clock.INSTANTS]
    if unknown:
        raise pytest.UsageError(f"--clock-instants: unknown instant(s) {unknown}; known: {list(clock.INSTANTS)}")
    metafunc.parametrize("clock_instant_name", names, indirect=True, ids=[f"at-{name}" for name in names])


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A browser test runs against a live server on the clock: it must say so, so the clock is set."""
    unset = [
        item.nodeid for item in items if item.get_closest_marker("browser") and not item.get_closest_marker("clock")
    ]
    if unset:
        raise pytest.UsageError(f"browser tests must be marked `clock` (tests/clock.py): {unset}")


@pytest.fixture
def clock_instant_name(request: pytest.FixtureRequest) -> str:
    return getattr(request, "param", clock.DEFAULT_INSTANT)


@pytest.fixture(autouse=True)
def _clock_set_for_clock_tests(request: pytest.FixtureRequest, clock_instant_name: str):
    """A test marked `clock` builds its data from the clock, so the clock is set for it (see
    tests/clock.py). It ticks, because a live server and a browser must see time pass.

    The instant may lie in the past, so the browser must not drop the session and CSRF cookies as
    expired: those become browser-session cookies here (the server still enforces its own expiry)."""
    marker = request.node.get_closest_marker("clock")
    if marker is None:
        yield None
        return
    from django.test import override_settings

    moment = clock.instant(clock_instant_name, marker.kwargs.get("zone", clock.DEFAULT_ZONE))
    # A test that runs at one instant only (calendar=False, or the default run) is at its first.
    instants = instants_for(request.config, request.node)
    clock.at_first_instant = not instants or clock_instant_name == instants[0]
    try:
        with (
            override_settings(SESSION_EXPIRE_AT_BROWSER_CLOSE=True, CSRF_COOKIE_AGE=None),
            time_machine.travel(moment, tick=True),
        ):
            yield moment
    finally:
        clock.at_first_instant = True


@pytest.fixture
def clock_now(_clock_set_for_clock_tests: dt.datetime | None) -> dt.datetime:
    """The instant this test's clock was set to (tests/clock.py). A fixture or test that builds from
    the clock takes it, so one that is not marked `clock` fails here instead of reading the real clock."""
    if _clock_set_for_clock_tests is None:
        pytest.fail(
            "This test builds its data from the clock: mark it `clock` (tests/clock.py) so the clock is set.",
            pytrace=False,
        )
    return _clock_set_for_clock_tests


def _fail(message: str) -> None:
    pytest.exit(message, returncode=3)


def pytest_sessionstart(session: pytest.Session) -> None:
    """The suite needs real PostgreSQL and Redis; say how to start them rather than skip."""
    db_url = os.environ["DATABASE_URL"]
    parsed = urlparse(db_url)
    if parsed.scheme.startswith("postgres"):
        try:
            psycopg2.connect(
                host=parsed.hostname or "127.0.0.1",
                port=parsed.port or 5432,
                user=parsed.username or "postgres",
                password=parsed.password or None,
                dbname="postgres",
                connect_timeout=3,
            ).close()
        except psycopg2.OperationalError as exc:
            _fail(
                f"PostgreSQL is not reachable at {parsed.hostname}:{parsed.port or 5432} ({exc}).\n"
                "Start it with: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start\n"
                "or point DATABASE_URL at a running server."
            )
    else:
        _fail(f"The test suite runs on PostgreSQL; DATABASE_URL={db_url!r} is not a PostgreSQL URL.")
    redis_url = os.environ["REDIS_URL"]
    try:
        redis.Redis.from_url(redis_url, socket_connect_timeout=3).ping()
    except redis.RedisError as exc:
        _fail(
            f"Redis is not reachable at {redis_url} ({exc}).\n"
            'Start it with: redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no\n'
            "or point REDIS_URL at a running server."
        )


def empty_own_cache_keys() -> None:
    """Remove this pytest process's cache keys (see CACHES in tests/settings.py). Never
    cache.clear(): xdist workers share the Redis database, and a flush would also empty
    another worker's keys (and a Celery test's queues)."""
    from django.conf import settings
    from django.core.cache import cache

    prefix = settings.CACHES["default"].get("KEY_PREFIX", "")
    backend = getattr(cache, "_cache", None)
    if prefix and backend is not None and hasattr(backend, "get_client"):  # Redis
        client = backend.get_client(write=True)
        stale = list(client.scan_iter(match=f"{prefix}:*", count=1000))
        if stale:
            client.delete(*stale)
    else:
        cache.clear()


@pytest.fixture(autouse=True)
def _factory_draws_seeded_by_the_test(request: pytest.FixtureRequest) -> None:
    """The names and other values factory_boy draws through Faker come from a seed of the test's
    own id: the same on every run and on any xdist worker, whatever ran before. A clash (a staff
    member drawn as "Zimmerman" in a test that looks for the patient "Zimmer") fails every run, not
    one run in a thousand."""
    factory.random.reseed_random(request.node.nodeid)


@pytest.fixture(autouse=True)
def _own_cache_keys_emptied():
    """Before each test, this process's cache keys are gone: a counter such as the bad-token
    throttle must not carry from one test into the next. So is the SIU feed's map of sites to
    receivers, which a test's rows (rolled back, their ids seen again in a module's shared world)
    could otherwise leave behind (interop.siu.outbox)."""
    from interop.siu.outbox import forget_receivers

    empty_own_cache_keys()
    forget_receivers()


# What a test asks for when it uses the database (the `django_db` mark asks through pytest-django's
# own autouse fixture, so it is read from the mark).
DATABASE_FIXTURES = frozenset(
    {
        "db",
        "transactional_db",
        "django_db_setup",
        "live_server",
        "django_db_reset_sequences",
        "django_db_serialized_rollback",
    }
)


@pytest.fixture(autouse=True)
def _database_run_fixtures(request: pytest.FixtureRequest) -> None:
    """The session's database fixtures below, for a test that uses the database: a run of tests
    that use none (the engine's, say) sets up no test database."""
    if request.node.get_closest_marker("django_db") or DATABASE_FIXTURES & set(request.fixturenames):
        request.getfixturevalue("_flush_by_delete")
        request.getfixturevalue("_orphaned_connections_closed")


@pytest.fixture(scope="session")
def _orphaned_connections_closed(django_db_setup, django_db_blocker):
    """Before the run's test database is dropped, the connections no thread of this run holds any
    more are closed. A thread that ends (a live server's, one a test started) leaves its
    connection open until garbage collection, and DROP DATABASE then fails ("is being accessed by
    other users"). At the end of a whole run one such connection was left on each worker's
    database, idle after a ROLLBACK, with no thread but the main one alive."""
    yield
    from django.db import connection

    if connection.vendor != "postgresql":
        return
    others = "FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute(f"SELECT pg_terminate_backend(pid) {others}")
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            cursor.execute(f"SELECT count(*) {others}")
            if not cursor.fetchone()[0]:
                break
            time.sleep(0.05)


@pytest.fixture(scope="session")
def _flush_by_delete(django_db_setup, django_db_blocker):
    """After a transactional test (a live server, a browser, threads), Django empties every table
    with one TRUNCATE of all ~70 of them, which costs PostgreSQL a new file per table and index:
    seconds per test on a busy machine. DELETE empties the few rows such a test leaves in a
    twentieth of that, so the test database's flush deletes instead: every foreign key Django makes is
    DEFERRABLE INITIALLY DEFERRED, so the order does not matter within the flush's one transaction.
    TRUNCATE stays for the tables DELETE cannot empty: those with triggers of their own (the
    append-only logs refuse DELETE), those at either end of a foreign key checked at once, and
    every table referring to one of these. A flush that resets sequences is left to Django."""
    from django.db import connection

    if connection.vendor != "postgresql":
        yield
        return
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute("SELECT DISTINCT tgrelid::regclass::text FROM pg_trigger WHERE NOT tgisinternal")
        truncated = {name for (name,) in cursor.fetchall()}
        cursor.execute(
            "SELECT conrelid::regclass::text, confrelid::regclass::text, condeferrable AND condeferred "
            "FROM pg_constraint WHERE contype = 'f'"
        )
        keys = cursor.fetchall()
    truncated |= {name for referring, referred, deferred in keys if not deferred for name in (referring, referred)}
    while grown := {referring for referring, referred, _ in keys if referred in truncated} - truncated:
        truncated |= grown
    truncated = {name.strip('"') for name in truncated}
    # On the backend's operations class, not this connection's instance: a test that closes the
    # connections or opens new ones (another thread, a replaced handler) gets a new instance.
    operations = type(connection.ops)
    original = operations.sql_flush

    def sql_flush(self, style, tables, *, reset_sequences=False, allow_cascade=False):
        if reset_sequences or allow_cascade:
            return original(self, style, tables, reset_sequences=reset_sequences, allow_cascade=allow_cascade)
        quoted = [self.quote_name(table) for table in tables if table in truncated]
        statements = [f"TRUNCATE {', '.join(quoted)};"] if quoted else []
        return statements + [f"DELETE FROM {self.quote_name(table)};" for table in tables if table not in truncated]

    operations.sql_flush = sql_flush
    try:
        yield
    finally:
        operations.sql_flush = original


@pytest.fixture(autouse=True)
def _live_server_threads_keep_no_connection(request: pytest.FixtureRequest):
    """A live server's threads close their database connection after each request (no
    CONN_MAX_AGE while a test uses one): a thread serving a socket the browser or an HTTP client
    keeps alive would otherwise hold a connection past the run, and the test database could not be
    dropped at its end ("being accessed by other users")."""
    if "live_server" not in request.fixturenames:
        yield
        return
    from django.db import connection

    shared = connection.settings_dict  # the one dict every thread's connection is made from
    kept = shared["CONN_MAX_AGE"]
    shared["CONN_MAX_AGE"] = 0
    try:
        yield
    finally:
        shared["CONN_MAX_AGE"] = kept


@pytest.fixture
def site(db):
    return factories.SiteFactory()


@pytest.fixture
def personas(db, site):
    """One user per role at `site`, and two patients with portal accounts."""
    return factories.make_personas(site)


# Fixtures that mean a test commits (a live server's threads, other connections): such a test
# cannot run inside a module's open transaction (built_once_per_module).
TRANSACTIONAL_FIXTURES = frozenset(
    {"transactional_db", "live_server", "django_db_reset_sequences", "django_db_serialized_rollback"}
)


def _commits(item: pytest.Item) -> bool:
    """pytest-django's own rule: `transaction=True` or `reset_sequences=True` makes the test a
    TransactionTestCase (it flushes the tables, which the module's open transaction cannot)."""
    mark = item.get_closest_marker("django_db")
    kwargs = mark.kwargs if mark is not None else {}
    return bool(TRANSACTIONAL_FIXTURES & set(getattr(item, "fixturenames", ()))) or bool(
        kwargs.get("transaction") or kwargs.get("reset_sequences")
    )


def _uses_database(item: pytest.Item) -> bool:
    from pytest_django.django_compat import is_django_unittest

    return (
        is_django_unittest(item)  # a Django TestCase class: its own transactions and connection handling
        or item.get_closest_marker("django_db") is not None
        or bool(DATABASE_FIXTURES & set(getattr(item, "fixturenames", ())))
    )


def built_once_per_module(request: pytest.FixtureRequest, django_db_blocker, build, at):
    """Django's setUpTestData for pytest: `build()` runs once per test module, at the instant `at`
    (time-machine, not ticking), inside a transaction that is rolled back when the module is done.
    Each test's own `db` transaction nests in it as a savepoint, so what a test writes is undone
    before the next one, and the fixture that uses this hands each test a deep copy of what was
    built (`built_for_the_test`, as setUpTestData's attributes are), so nothing a test changes in
    memory reaches another.

    Yields None, and `built_for_the_test` builds for each test as before, in a module where sharing
    would not be sound: one with a test that commits (a live server, threads: it cannot run inside
    the open transaction), or one with a test that uses the database without this fixture (it
    would see the built rows). Either way the build draws its names from a seed of the module's
    name, so a test gets the same world whichever tests were selected with it."""
    from django.db import transaction

    name = request.fixturename
    mine = [item for item in request.session.items if getattr(item, "module", None) is request.module]
    shareable = not any(_commits(item) for item in mine) and all(
        name in item.fixturenames for item in mine if _uses_database(item)
    )
    if not shareable:
        yield None
        return
    factory.random.reseed_random(request.module.__name__)
    with django_db_blocker.unblock():
        outer = transaction.atomic()
        outer.__enter__()
        try:
            with time_machine.travel(at, tick=False):
                built = build()
        except BaseException:
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)
            raise
    # The database stays blocked between the tests, as without this: only a test's own fixtures open it.
    try:
        yield built
    finally:
        with django_db_blocker.unblock():
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)


def built_for_the_test(request: pytest.FixtureRequest, built, build):
    """What a module's `built_once_per_module` fixture gives one test: a deep copy of the module's
    build, or (where the module cannot share one) `build()` for this test, with the same names: drawn
    from the module's seed, and the test's own draws after it from the test's (as in a shared module)."""
    if built is not None:
        return copy.deepcopy(built)
    factory.random.reseed_random(request.module.__name__)
    made = build()
    factory.random.reseed_random(request.node.nodeid)
    return made


@pytest.fixture(scope="module")
def api_world_built(request: pytest.FixtureRequest, django_db_setup, django_db_blocker):
    """tests/api/conftest.py's world, built once for the module (built_once_per_module)."""
    from tests.api.conftest import build_world
    from tests.scheduling.conftest import NOW

    yield from built_once_per_module(request, django_db_blocker, build_world, NOW)


@pytest.fixture(scope="module")
def web_built(request: pytest.FixtureRequest, django_db_setup, django_db_blocker):
    """tests/web/conftest.py's clinic of the pages' tests, built once for the module (built_once_per_module)."""
    from tests.scheduling.conftest import NOW
    from tests.web.conftest import build_web

    yield from built_once_per_module(request, django_db_blocker, build_web, NOW)


@pytest.fixture(scope="module")
def fhir_world_built(request: pytest.FixtureRequest, django_db_setup, django_db_blocker):
    """tests/interop/fhir_support.py's world, built once for the module (built_once_per_module)."""
    from tests.interop.fhir_support import NOW, build_world

    yield from built_once_per_module(request, django_db_blocker, build_world, NOW)
