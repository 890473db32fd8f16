"""Every path the CapabilityStatement's text names resolves to a real endpoint of this project (not
to the 404 catch-alls of /api/ and /fhir/R4/), and takes the method written before it: a client
that follows the words of `metadata` (the token endpoint, say) reaches what they name."""

from __future__ import annotations

import json
import re

import pytest
from django.urls import Resolver404, resolve

from tests.interop.fhir_support import BASE, FHIR_JSON

pytestmark = pytest.mark.django_db

# A path written in the text (a slash at the start of a word, then path characters; `<id>` is a
# placeholder), with the HTTP method written before it, if any.
_PATH = re.compile(r"(?:\b(GET|POST|PUT|PATCH|DELETE) )?(?<![\w/:.<])(/[a-z][\w\-/<>.$]*)")
_CATCH_ALLS = {None, "fhir-unknown"}


def _texts(node) -> list[str]:
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [text for value in node.values() for text in _texts(value)]
    if isinstance(node, list):
        return [text for value in node for text in _texts(value)]
    return []


def _named_paths(statement: dict) -> set[tuple[str, str]]:
    return {(method, path.rstrip(".")) for text in _texts(statement) for method, path in _PATH.findall(text)}


def _problem(method: str, path: str) -> str | None:
    """Why `method path` is not a real endpoint, or None when it is."""
    try:
        match = resolve(re.sub(r"<[^>]*>", "1", path))
    except Resolver404:
        return f"{path} does not resolve"
    if match.url_name in _CATCH_ALLS:
        return f"{path} reaches only a 404 catch-all"
    view_class = getattr(match.func, "cls", None) or getattr(match.func, "view_class", None)
    if method and view_class is not None and not hasattr(view_class, method.lower()):
        return f"{path} does not take {method}"
    return None


def test_every_path_the_capability_statement_names_resolves(client):
    response = client.get(BASE + "metadata", HTTP_ACCEPT=FHIR_JSON)
    assert response.status_code == 200
    named = _named_paths(json.loads(response.content))

    assert ("POST", "/api/v1/auth/token/") in named, named  # the token endpoint is named, so it is checked
    problems = [problem for method, path in sorted(named) if (problem := _problem(method, path))]
    assert not problems, f"metadata names endpoints that do not exist: {problems}"


def test_the_check_refuses_a_path_that_is_not_an_endpoint():
    """The check above can fail: the path metadata once named, a bare prefix and a wrong method."""
    named = _named_paths({"description": "Token from (POST /api/v1/auth/login/); see /api/v1/."})
    assert named == {("POST", "/api/v1/auth/login/"), ("", "/api/v1/")}
    assert _problem("POST", "/api/v1/auth/login/") == "/api/v1/auth/login/ reaches only a 404 catch-all"
    assert _problem("", "/api/v1/") == "/api/v1/ reaches only a 404 catch-all"
    assert _problem("", "/fhir/R4/Nothing/a/b") == "/fhir/R4/Nothing/a/b reaches only a 404 catch-all"
    assert _problem("PUT", "/api/v1/auth/token/") == "/api/v1/auth/token/ does not take PUT"
    assert _problem("POST", "/api/v1/auth/token/") is None
