"""docker-compose.yml: the services exist, are health-checked, pass only variables that
config/settings.py actually reads, and pass every variable it reads (with the settings' default)
to web, worker and beat alike, but for the few listed in NOT_PASSED_BY_COMPOSE with their reason."""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
APP_SERVICES = ("web", "worker", "beat")
OWNER_SERVICES = ("migrate", "db-grants")
APP_ROLE = "clinic_app"

# Variables config/settings.py reads that compose deliberately does not pass, each with its reason.
# A variable added to the settings without a compose entry fails
# test_every_variable_the_settings_read_reaches_the_app until it is passed there or listed here.
NOT_PASSED_BY_COMPOSE = {
    "CELERY_TASK_ALWAYS_EAGER": "development and tests only: compose runs a worker, inline tasks would bypass it",
    "CELERY_BEAT_SCHEDULE_FILENAME": "its default follows DATA_DIR, which compose fixes at /data, beat's volume",
    "EMAIL_FILE_PATH": "the filemail:// outbox, a development backend",
    "SMS_FILE_PATH": "the file SMS backend's outbox, a development backend",
}
# Compose defaults that differ from the settings' literal ones on purpose, each with its reason.
COMPOSE_DEFAULT_DIFFERS = {
    "DJANGO_ALLOWED_HOSTS": "a deployment answers no testserver; the health check asks 127.0.0.1",
    "SITE_URL": "compose publishes the web port on localhost",
}

# env.<method>(...) calls that parse a value handed to them rather than read a variable.
ENV_PARSERS = {"db_url_config", "cache_url_config", "email_url_config", "search_url_config", "read_env", "parse_value"}


@dataclass
class SettingsReads:
    """What a settings module reads from the environment, found in its source."""

    names: set[str] = field(default_factory=set)
    defaults: dict[str, Any] = field(default_factory=dict)  # name -> default, where the source spells a literal
    unresolved: list[str] = field(default_factory=list)  # reads whose variable name is not a literal


def _reads_a_variable(call: ast.Call) -> bool:
    """env("X"), env.str("X", ...), env.list(...), the settings' own env_bool/env_int/env_url/env_clock("X", ...),
    os.getenv("X") and os.environ.get/setdefault/pop("X")."""
    func = call.func
    if isinstance(func, ast.Name):
        return func.id == "env" or func.id.startswith("env_")
    if not isinstance(func, ast.Attribute):
        return False
    owner = func.value
    if isinstance(owner, ast.Name) and owner.id == "env":
        return func.attr not in ENV_PARSERS
    if isinstance(owner, ast.Name) and owner.id == "os":
        return func.attr == "getenv"
    return ast.unparse(owner) == "os.environ" and func.attr in {"get", "setdefault", "pop"}


def _literal_default(call: ast.Call) -> tuple[bool, Any]:
    """The default a read falls back to, when the source spells it as a literal."""
    node = next((keyword.value for keyword in call.keywords if keyword.arg == "default"), None)
    if node is None and len(call.args) > 1:
        node = call.args[1]
    if node is None:
        return False, None
    try:
        return True, ast.literal_eval(node)
    except (ValueError, TypeError):  # an expression such as `not DEBUG` or `REDIS_URL or "filesystem://"`
        return False, None


def settings_reads(source: str) -> SettingsReads:
    reads = SettingsReads()

    class Visitor(ast.NodeVisitor):
        in_function = 0

        def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
            # The helpers (env_bool, env_int, ...) pass on their `name` parameter; their callers name it.
            self.in_function += 1
            self.generic_visit(node)
            self.in_function -= 1

        def visit_Call(self, node: ast.Call) -> None:
            if _reads_a_variable(node):
                first = node.args[0] if node.args else None
                if isinstance(first, ast.Constant) and isinstance(first.value, str):
                    reads.names.add(first.value)
                    literal, default = _literal_default(node)
                    if literal:
                        reads.defaults[first.value] = default
                elif not self.in_function:
                    reads.unresolved.append(ast.unparse(node))
            self.generic_visit(node)

        def visit_Subscript(self, node: ast.Subscript) -> None:  # os.environ["X"]
            if ast.unparse(node.value) == "os.environ":
                if isinstance(node.slice, ast.Constant) and isinstance(node.slice.value, str):
                    reads.names.add(node.slice.value)
                elif not self.in_function:
                    reads.unresolved.append(ast.unparse(node))
            self.generic_visit(node)

    Visitor().visit(ast.parse(source))
    return reads


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


@pytest.fixture(scope="module")
def read_by_settings() -> SettingsReads:
    return settings_reads((ROOT / "config" / "settings.py").read_text())


@pytest.fixture(scope="module")
def settings_variables(read_by_settings) -> set[str]:
    return read_by_settings.names


def environment_names(service: dict) -> set[str]:
    environment = service.get("environment") or {}
    if isinstance(environment, list):
        return {item.split("=", 1)[0] for item in environment}
    return set(environment)


def test_compose_has_the_app_and_its_servers(compose):
    assert {"web", "worker", "beat", "postgres", "redis"} <= set(compose["services"])


@pytest.mark.parametrize("name", ["web", "worker", "postgres", "redis"])
def test_long_running_services_have_a_healthcheck(compose, name):
    healthcheck = compose["services"][name].get("healthcheck")
    assert healthcheck and healthcheck.get("test"), f"{name} has no healthcheck"


def test_web_healthcheck_uses_the_health_endpoint(compose):
    assert "/health/" in " ".join(compose["services"]["web"]["healthcheck"]["test"])


def test_web_runs_gunicorn(compose):
    assert "gunicorn" in compose["services"]["web"]["command"]


def test_there_is_exactly_one_beat(compose):
    beat = compose["services"]["beat"]
    assert (beat.get("deploy") or {}).get("replicas", 1) == 1
    assert "scale" not in beat
    others = [name for name, s in compose["services"].items() if name != "beat" and "beat" in str(s.get("command", ""))]
    assert others == [], f"beat also runs in {others}"


@pytest.mark.parametrize("name", APP_SERVICES)
def test_app_services_wait_for_healthy_servers_and_migrations(compose, name):
    depends_on = compose["services"][name]["depends_on"]
    assert depends_on["postgres"]["condition"] == "service_healthy"
    assert depends_on["redis"]["condition"] == "service_healthy"
    migrate = compose["services"]["migrate"]
    assert "migrate" in migrate["command"]
    assert depends_on["migrate"]["condition"] == "service_completed_successfully"


@pytest.mark.parametrize("name", [*APP_SERVICES, *OWNER_SERVICES])
def test_app_services_pass_only_variables_the_settings_read(compose, settings_variables, name):
    passed = environment_names(compose["services"][name])
    assert {"DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "DJANGO_SECRET_KEY"} <= passed
    unknown = passed - settings_variables
    assert not unknown, f"{name} passes variables config/settings.py never reads: {sorted(unknown)}"


def test_an_unknown_variable_would_be_caught(settings_variables):
    assert "DJANGO_SECRET" not in settings_variables
    assert "DATABASE" not in settings_variables


def test_every_read_in_the_settings_is_found_in_their_source(read_by_settings):
    # Guard the parser itself: each way settings.py reads a variable, with its literal default where it has one.
    assert not read_by_settings.unresolved, f"reads whose variable the test cannot name: {read_by_settings.unresolved}"
    names, defaults = read_by_settings.names, read_by_settings.defaults
    assert {"DJANGO_SECRET_KEY", "DJANGO_SECURE_COOKIES", "CELERY_BROKER_URL", "EMAIL_URL"} <= names
    assert defaults["DATABASE_CONN_MAX_AGE"] == 60  # env_int
    assert defaults["FHIR_HOLD_MINUTES"] == 10  # env_int, behind the beat schedule that names it
    assert defaults["SITE_URL"] == "http://127.0.0.1:8000"  # env_url
    assert defaults["CHECK_IN_OPENS_AT"] == "00:00"  # env_clock
    assert defaults["DJANGO_DEBUG"] is False  # env_bool
    assert defaults["REQUIRE_2FA_ROLES"] == []  # env.list(..., default=[])
    assert defaults["API_THROTTLE_ANON"] == "60/min"  # env.str inside a dict literal


def test_the_settings_parser_finds_every_kind_of_read():
    source = """
import os
def env_seconds(name, default):
    return int(env.str(name, default=str(default)))
A = env("PLAIN")
B = env_seconds("HELPER", 5)
C = env.db_url_config(A)
D = os.environ.get("OS_GET", "x")
E = os.environ["OS_ITEM"]
F = os.getenv("OS_GETENV")
G = env.bool("COMPUTED", default=not B)
H = env.str(PREFIX + "_NAME")
"""
    reads = settings_reads(source)
    assert reads.names == {"PLAIN", "HELPER", "OS_GET", "OS_ITEM", "OS_GETENV", "COMPUTED"}
    assert (reads.defaults["HELPER"], reads.defaults["OS_GET"]) == (5, "x")
    assert "COMPUTED" not in reads.defaults
    assert reads.unresolved == ["env.str(PREFIX + '_NAME')"]


@pytest.mark.parametrize("name", APP_SERVICES)
def test_every_variable_the_settings_read_reaches_the_app(compose, settings_variables, name):
    passed = environment_names(compose["services"][name])
    missing = settings_variables - passed - set(NOT_PASSED_BY_COMPOSE)
    assert not missing, (
        f"config/settings.py reads {sorted(missing)}, which docker-compose.yml does not pass to {name}: "
        "add each to x-app-environment as ${NAME:-<the settings' default>}, or to NOT_PASSED_BY_COMPOSE with the reason"
    )


def test_web_worker_and_beat_are_given_the_same_environment(compose):
    web, *others = (compose["services"][name]["environment"] for name in APP_SERVICES)
    for name, environment in zip(APP_SERVICES[1:], others, strict=True):
        assert environment == web, f"{name} is not given the environment web is"


def test_the_exemptions_are_read_by_the_settings_and_not_passed(compose, settings_variables):
    stale = set(NOT_PASSED_BY_COMPOSE) - settings_variables
    assert not stale, f"NOT_PASSED_BY_COMPOSE lists variables config/settings.py no longer reads: {sorted(stale)}"
    passed = set().union(*(environment_names(compose["services"][name]) for name in APP_SERVICES))
    assert not set(NOT_PASSED_BY_COMPOSE) & passed, "a variable is both exempt and passed"


def _as_environment_text(value: Any) -> str:
    """A settings default as it would be written in the environment."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return ",".join(str(item) for item in value)
    return str(value)


def test_compose_defaults_are_the_settings_defaults(compose, read_by_settings):
    # ${NAME:-default}: what the app gets when the operator sets nothing, which must be what the settings
    # would choose themselves, so an unset variable means the same with and without compose.
    differ = {}
    for key, value in compose["services"]["web"]["environment"].items():
        interpolated = re.fullmatch(r"\$\{([A-Z0-9_]+):-([^}]*)\}", str(value))
        if interpolated is None or key in COMPOSE_DEFAULT_DIFFERS or key not in read_by_settings.defaults:
            continue  # a fixed value, a required secret, a deliberate difference or a computed default
        assert interpolated.group(1) == key, f"{key} is interpolated from another variable, {interpolated.group(1)}"
        expected = _as_environment_text(read_by_settings.defaults[key])
        if interpolated.group(2) != expected:
            differ[key] = (interpolated.group(2), expected)
    assert not differ, f"compose default against the settings' default: {differ}"
    assert set(COMPOSE_DEFAULT_DIFFERS) <= set(compose["services"]["web"]["environment"])


@pytest.mark.parametrize("name", [*APP_SERVICES, *OWNER_SERVICES, "postgres"])
def test_secrets_are_interpolated_never_written_down(compose, name):
    environment = compose["services"][name].get("environment") or {}
    for key, value in environment.items():
        # TWILIO_AUTH_TOKEN is a secret; API_TOKEN_TTL_HOURS, a lifetime, is not.
        if any(word in key for word in ("SECRET", "PASSWORD")) or key.endswith("_TOKEN"):
            # Required secrets use ${VAR:?message}; optional ones (Twilio) may default to empty, never to a value.
            text = str(value)
            required_or_empty = re.fullmatch(r"\$\{[A-Z0-9_]+(:\?[^}]*|:-)\}", text)
            assert required_or_empty, f"{name}.{key}={text!r} must come from ${{VAR:?...}} or ${{VAR:-}}"
    database_url = environment.get("DATABASE_URL", "")
    if database_url:
        password = "${POSTGRES_PASSWORD:?" if name in OWNER_SERVICES else "${POSTGRES_APP_PASSWORD:?"
        assert password in database_url


# --- Database roles: the owner migrates, the app role cannot rewrite the append-only logs ---


@pytest.mark.parametrize("name", APP_SERVICES)
def test_app_services_connect_as_the_app_role_not_the_owner(compose, name):
    database_url = compose["services"][name]["environment"]["DATABASE_URL"]
    assert database_url.startswith(f"postgres://{APP_ROLE}:")
    assert "POSTGRES_PASSWORD" not in database_url.replace("POSTGRES_APP_PASSWORD", "")


@pytest.mark.parametrize("name", OWNER_SERVICES)
def test_migrations_and_grants_connect_as_the_owner(compose, name):
    database_url = compose["services"][name]["environment"]["DATABASE_URL"]
    owner = compose["services"]["postgres"]["environment"]["POSTGRES_USER"]
    assert database_url.startswith(f"postgres://{owner}:")


def test_grants_are_applied_after_every_migrate_and_before_the_app_starts(compose):
    grants = compose["services"]["db-grants"]
    assert grants["command"][-2:] == ["db_grant_app_role", APP_ROLE]
    assert grants["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    for name in APP_SERVICES:
        assert compose["services"][name]["depends_on"]["db-grants"]["condition"] == "service_completed_successfully"


def test_postgres_creates_the_app_role_from_the_versioned_init_script(compose):
    postgres = compose["services"]["postgres"]
    mounts = {volume.split(":")[1]: volume.split(":")[0] for volume in postgres["volumes"] if volume.startswith("./")}
    init_dir = ROOT / mounts["/docker-entrypoint-initdb.d"]
    script = (init_dir / "10-app-role.sh").read_text()
    assert f"APP_ROLE={APP_ROLE}" in script and "CREATE ROLE" in script and "NOSUPERUSER" in script
    assert "POSTGRES_APP_PASSWORD" in postgres["environment"]
    assert (ROOT / "deploy" / "postgres" / "roles.sql").is_file()
