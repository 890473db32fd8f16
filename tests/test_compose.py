"""docker-compose.yml: the services exist, are health-checked, and only pass
variables that config/settings.py actually reads."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
APP_SERVICES = ("web", "worker", "beat")
OWNER_SERVICES = ("migrate", "db-grants")
APP_ROLE = "clinic_app"
# The calls settings.py makes to read a variable: env.str("X", ...), env_bool("X", ...), env.email_url("X"), ...
SETTINGS_READ = re.compile(r"""\benv(?:\.[a-z_]+|_bool|_int|_url)\(\s*["']([A-Z][A-Z0-9_]*)["']""")


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


@pytest.fixture(scope="module")
def settings_variables() -> set[str]:
    names = set(SETTINGS_READ.findall((ROOT / "config" / "settings.py").read_text()))
    # Guard the regex itself: if it stopped matching, every compose variable would look unknown.
    assert {"DATABASE_URL", "DJANGO_DEBUG", "DJANGO_SECRET_KEY", "CELERY_BROKER_URL", "EMAIL_URL"} <= names
    return names


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


@pytest.mark.parametrize("name", [*APP_SERVICES, *OWNER_SERVICES, "postgres"])
def test_secrets_are_interpolated_never_written_down(compose, name):
    environment = compose["services"][name].get("environment") or {}
    for key, value in environment.items():
        if any(word in key for word in ("SECRET", "PASSWORD", "TOKEN")):
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
