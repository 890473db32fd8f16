"""The OpenAPI schema validates without warnings, and the docs page works offline: Swagger UI
comes from our own static files (drf-spectacular-sidecar), never from a CDN."""

from __future__ import annotations

import re

import pytest
from django.core.management import call_command
from django.test import Client, override_settings


@pytest.mark.django_db
def test_schema_validates_without_warnings(tmp_path):
    # --fail-on-warn turns an enum name collision or an unresolvable serializer into an error.
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yml"))
    assert "PhaseEnum:" in (tmp_path / "schema.yml").read_text()


def _asset_urls(html: str) -> list[str]:
    return re.findall(r'(?:src|href)="([^"]+)"', html)


@pytest.mark.django_db
@override_settings(WHITENOISE_USE_FINDERS=True, WHITENOISE_AUTOREFRESH=True)
def test_docs_page_uses_only_local_static_files_and_they_are_served():
    client = Client()
    response = client.get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assets = _asset_urls(html)
    assert any("swagger-ui-bundle.js" in url for url in assets)
    assert not re.search(r"https?://", " ".join(assets)), assets
    assert "cdn.jsdelivr" not in html
    for url in assets:
        served = client.get(url)
        assert served.status_code == 200, url
