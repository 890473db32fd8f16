"""Transport and browser hardening: HSTS/SSL settings from the environment, a Content-Security-Policy
without inline script, no caching of pages or API answers, and a clean `check --deploy`."""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
PRINT_SECURITY = (
    "import django; django.setup(); from django.conf import settings as s; "
    "print(s.SECURE_HSTS_SECONDS, s.SECURE_SSL_REDIRECT, s.SECURE_PROXY_SSL_HEADER, s.SESSION_COOKIE_SECURE)"
)


def _run(args: list[str], tmp_path: Path, **environment: str) -> subprocess.CompletedProcess[str]:
    keep = {key: value for key, value in os.environ.items() if not key.startswith(("DJANGO_", "REDIS", "DATABASE"))}
    keep.update({"DATA_DIR": str(tmp_path), "DJANGO_SETTINGS_MODULE": "config.settings", **environment})
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=keep, capture_output=True, text=True, timeout=120)


def _compose_environment() -> dict[str, str]:
    """What compose hands the web service when .env holds only the two required secrets."""
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    required = {
        "POSTGRES_PASSWORD": "pgpassword",
        "POSTGRES_APP_PASSWORD": "apppassword",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
    }
    resolved = {}
    for key, value in compose["services"]["web"]["environment"].items():
        text = str(value)
        text = re.sub(r"\$\{([A-Z0-9_]+):\?[^}]*\}", lambda m: required[m.group(1)], text)
        text = re.sub(r"\$\{[A-Z0-9_]+:-([^}]*)\}", lambda m: m.group(1), text)
        resolved[key] = text
    return resolved


def test_production_defaults_are_strict_when_debug_is_off(tmp_path):
    result = _run(["-c", PRINT_SECURITY], tmp_path, DJANGO_DEBUG="false", DJANGO_SECRET_KEY="x" * 60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["31536000", "True", "None", "True"]


def test_hsts_ssl_redirect_and_proxy_header_come_from_the_environment(tmp_path):
    result = _run(
        ["-c", PRINT_SECURITY],
        tmp_path,
        DJANGO_DEBUG="false",
        DJANGO_SECRET_KEY="x" * 60,
        DJANGO_SECURE_HSTS_SECONDS="600",
        DJANGO_SECURE_SSL_REDIRECT="false",
        DJANGO_SECURE_PROXY_SSL_HEADER="HTTP_X_FORWARDED_PROTO",
        DJANGO_SECURE_COOKIES="false",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "600 False ('HTTP_X_FORWARDED_PROTO', 'https') False"


def test_a_malformed_proxy_header_stops_startup(tmp_path):
    result = _run(
        ["-c", PRINT_SECURITY],
        tmp_path,
        DJANGO_DEBUG="false",
        DJANGO_SECRET_KEY="x" * 60,
        DJANGO_SECURE_PROXY_SSL_HEADER="X-Forwarded-Proto",
    )
    assert result.returncode != 0
    assert "DJANGO_SECURE_PROXY_SSL_HEADER" in result.stderr


def test_check_deploy_with_the_compose_environment_reports_no_issues(tmp_path):
    """With what an operator must add to compose's defaults: the host and its address, a mail server
    and an SMS provider."""
    environment = _compose_environment()
    environment["DJANGO_ALLOWED_HOSTS"] = "clinic.example.com"
    environment["SITE_URL"] = "https://clinic.example.com"
    environment["EMAIL_URL"] = "smtp+tls://clinic:secret@smtp.example.com:587"
    environment.update(TWILIO_ACCOUNT_SID="AC123", TWILIO_AUTH_TOKEN="token", TWILIO_FROM_NUMBER="+12025550100")
    result = _run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], tmp_path, **environment)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout
    assert "WARNING" not in result.stdout + result.stderr


def test_the_health_check_is_not_redirected_to_https(client, settings, db):
    settings.SECURE_SSL_REDIRECT = True
    assert client.get("/health/").status_code == 200
    assert client.get("/login/").status_code == 301


def _csp(response) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    return {part.split()[0]: part.split()[1:] for part in header.split(";") if part.strip()}


def test_pages_carry_a_policy_without_inline_script(client, personas):
    client.force_login(personas.front_desk.user)
    response = client.get("/")
    policy = _csp(response)
    assert policy["default-src"] == ["'self'"]
    assert "'unsafe-inline'" not in policy["script-src"]
    assert policy["script-src"][0] == "'self'"
    assert "'unsafe-eval'" not in policy["script-src"]
    assert policy["object-src"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert "<script>" not in response.content.decode()


def test_swagger_ui_page_loads_its_script_from_an_allowed_source(client):
    response = client.get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    policy = _csp(response)
    # No inline script: every <script> has a src the policy allows.
    assert re.findall(r"<script>", html) == []
    for src in re.findall(r'<script src="([^"]+)"', html):
        assert src.startswith("/") or any(src.startswith(allowed) for allowed in policy["script-src"]), src
    script = client.get(re.findall(r'<script src="(/api/docs/[^"]+)"', html)[0])
    assert script.status_code == 200
    assert b"SwaggerUIBundle" in script.content


def test_signed_in_pages_and_api_answers_are_not_stored(client, personas):
    client.force_login(personas.front_desk.user)
    for path in ("/", f"/api/v1/patients/{personas.patient_a.pk}/", "/api/v1/sites/"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert "no-store" in response["Cache-Control"], path


def test_api_answers_for_token_users_are_not_stored(personas):
    from rest_framework.test import APIClient

    from clinic.security.services import token_issue

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token_issue(user=personas.patient_a.user)[0]}")
    response = client.get("/api/v1/appointments/")
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]


def test_calendar_feed_is_not_stored(client, personas):
    response = client.get(f"/calendar/{personas.patient_a.calendar_token}.ics")
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
