"""Search paging: a next link must lead somewhere new."""

from __future__ import annotations

import pytest

from tests.interop.fhir_support import BASE, parse

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("resource", ["Patient", "Slot"])
def test_count_zero_answers_no_next_link_pointing_back_at_itself(world, resource):
    """`_count=0` asks for the total only: the Bundle has no "next" link (one at offset 0 would be the
    self link, and a client following "next" would ask the same page for ever)."""
    query = (
        "Patient?_count=0"
        if resource == "Patient"
        else (f"Slot?service-type={world.protocol.pk}&start=ge2026-03-03&start=lt2026-03-04&_count=0")
    )
    bundle = parse(world.client("front_desk").get(BASE + query))
    assert bundle.total and bundle.total > 0  # there is something to count
    links = {link.relation: link.url for link in bundle.link or []}
    assert links.get("next") != links["self"], links
