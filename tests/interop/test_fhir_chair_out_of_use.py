"""A chair out of use (a closure naming it) is offered nowhere through FHIR: its Slot search finds no
free time in the period and $find proposes the site's other chair, as booking refuses it; a hold
made before the chair was taken out of use (or the site closed) is not booked by $book."""

from __future__ import annotations

import datetime as dt

import pytest

from clinic.models import Closure
from scheduling.models import Appointment, AppointmentStatus
from tests.interop.fhir_support import (
    BASE,
    chair_id,
    find_body,
    hold_first_proposal,
    outcome_of,
    parse,
    post,
    proposed,
    reference,
    window,
)
from tests.scheduling.conftest import START


def _out_of_use_on_start(chair) -> Closure:
    zone = chair.site.zone
    return Closure.objects.create(
        site=chair.site,
        chair=chair,
        reason="IV pump broken",
        starts_at=dt.datetime.combine(START, dt.time(0), tzinfo=zone),
        ends_at=dt.datetime.combine(START + dt.timedelta(days=1), dt.time(0), tzinfo=zone),
    )


def _free_slots(world, chair):
    start, end = window()
    bundle = parse(
        world.client("front_desk").get(
            BASE
            + f"Slot?schedule=Schedule/{chair.pk}&service-type={world.protocol.pk}&start=ge{start}&start=lt{end}&status=free"
        )
    )
    return [e.resource for e in bundle.entry or []]


def test_the_slot_search_offers_no_time_in_the_chair_out_of_use_and_the_other_chairs_as_before(world):
    first, second = world.clinic.chairs
    before = len(_free_slots(world, second))
    assert _free_slots(world, first) and before
    _out_of_use_on_start(first)
    assert _free_slots(world, first) == []
    assert len(_free_slots(world, second)) == before


def test_find_proposes_only_the_other_chair(world):
    first, second = world.clinic.chairs
    _out_of_use_on_start(first)
    found = proposed(
        parse(post(world.client("front_desk"), "Appointment/$find", find_body(world, world.patient_a, count=20)))
    )
    assert found
    assert {chair_id(resource) for resource in found} == {second.pk}


@pytest.mark.parametrize("whole_site", [False, True], ids=["chair out of use", "site closed"])
def test_book_refuses_a_hold_whose_chair_or_site_was_closed_since_and_the_hold_stays(world, whole_site):
    _, hold_id = hold_first_proposal(world, world.patient_a)
    held = Appointment.objects.select_related("chair").get(pk=int(hold_id))
    Closure.objects.create(
        site=held.site,
        chair=None if whole_site else held.chair,
        reason="IV pump broken",
        starts_at=held.starts_at - dt.timedelta(hours=1),
        ends_at=held.ends_at + dt.timedelta(hours=1),
    )

    response = post(
        world.client("front_desk"), "Appointment/$book", reference("appointment-reference", f"Appointment/{hold_id}")
    )

    assert response.status_code == 409, response.content
    issue = outcome_of(response)
    assert issue.code == "conflict"
    assert issue.details.coding[0].code == ("site_closed" if whole_site else "chair_out_of_use")
    assert "IV pump broken" in issue.diagnostics
    assert Appointment.objects.get(pk=int(hold_id)).status == AppointmentStatus.HELD
