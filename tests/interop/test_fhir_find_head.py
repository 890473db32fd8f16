"""HEAD Appointment/$find?... answers as the GET does, without a body: the same status and headers
(a found page, a refused query), where it used to be read as a POST with no Parameters body (415).

The clock is fixed at the FHIR tests' NOW (Friday 27 February 2026, 15:00 UTC)."""

from __future__ import annotations

import pytest
from django.test import RequestFactory

from interop.fhir.operations import FindView
from tests.interop.fhir_support import BASE, FHIR_JSON, parse, proposed, window

pytestmark = pytest.mark.django_db


def query(world, **extra: str) -> str:
    start, end = window()
    asked = {"start": start, "end": end, "visit-type": str(world.protocol.pk), "_count": "3", **extra}
    return "&".join(f"{name}={value}" for name, value in asked.items())


@pytest.mark.parametrize("role", ["front_desk", "patient_a"])
def test_head_find_answers_as_get_without_a_body(world, role):
    url = BASE + f"Appointment/$find?{query(world)}"
    got = world.client(role).get(url)
    assert got.status_code == 200, got.content
    assert proposed(parse(got))
    head = world.client(role).head(url)
    assert head.status_code == got.status_code, head.content
    assert head["Content-Type"] == got["Content-Type"]
    assert head.content == b""


def test_a_refused_head_find_answers_as_the_get_does(world):
    url = BASE + f"Appointment/$find?{query(world, colour='blue')}"
    got = world.client("front_desk").get(url)
    head = world.client("front_desk").head(url)
    assert got.status_code == head.status_code == 400
    assert head["Content-Type"] == got["Content-Type"]
    assert head.content == b""


def test_the_view_itself_leaves_the_body_out_of_a_head_find(world):
    """Not only the test client or the server: the view's own answer has no body, and says how long
    the GET's is."""
    factory = RequestFactory()
    url = BASE + f"Appointment/$find?{query(world)}"
    auth = {"HTTP_AUTHORIZATION": f"Token {world.tokens['front_desk']}", "HTTP_ACCEPT": FHIR_JSON}
    got = FindView.as_view()(factory.get(url, **auth))
    head = FindView.as_view()(factory.head(url, **auth))
    assert head.status_code == got.status_code == 200
    assert head["Content-Type"] == got["Content-Type"]
    assert head.content == b""
    assert int(head["Content-Length"]) == len(got.content)
