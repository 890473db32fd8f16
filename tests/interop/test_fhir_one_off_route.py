"""A one-off session booked through FHIR for a non-IV protocol keeps its route when it is moved."""

from __future__ import annotations

import datetime as dt

import pytest

from clinic.models import Route
from scheduling.models import Appointment
from tests.factories import ProtocolFactory
from tests.interop.fhir_support import BASE, FHIR_JSON, parameters, parse
from tests.scheduling.conftest import START, at_new_york

pytestmark = pytest.mark.django_db


def _book(client, resource):
    return client.post(
        BASE + "Appointment/$book", parameters(("appointment-resource", "resource", resource)), content_type=FHIR_JSON
    )


def test_moving_a_nasal_one_off_booked_through_fhir_keeps_it_in_a_chair_equipped_for_nasal_spray(world):
    """The EHR books an esketamine nasal-spray session (HealthcareService = the intranasal protocol)
    for a patient without an open plan: $book places it in the only chair equipped for nasal spray.
    Moved three hours later with $book (new start, no chair named), it stays in a chair equipped for
    it: the session keeps its route, not the infusion's."""
    clinic = world.clinic
    nasal_chair, iv_chair = clinic.chairs
    nasal_chair.equipment = [Route.INTRANASAL]
    nasal_chair.save(update_fields=["equipment"])
    iv_chair.equipment = [Route.IV]
    iv_chair.save(update_fields=["equipment"])
    nasal = ProtocolFactory(name="Esketamine nasal", route=Route.INTRANASAL, session_minutes=120)
    start = at_new_york(START + dt.timedelta(days=1), 9)
    desk = world.client("front_desk")
    created = _book(
        desk,
        {
            "resourceType": "Appointment",
            "status": "booked",
            "start": start.isoformat(),
            "serviceType": [{"coding": [{"code": str(nasal.pk)}]}],
            "participant": [
                {"actor": {"reference": f"Patient/{world.patient_a.pk}"}, "status": "accepted"},
                {"actor": {"reference": f"Location/site-{clinic.site.pk}"}, "status": "accepted"},
            ],
        },
    )
    assert created.status_code == 201, created.content
    booked = parse(created).entry[0].resource
    row = Appointment.objects.get(pk=int(booked.id))
    assert row.chair_id == nasal_chair.pk  # booked where nasal spray can be given

    moved = _book(
        desk,
        {
            "resourceType": "Appointment",
            "id": booked.id,
            "status": "booked",
            "start": (start + dt.timedelta(hours=3)).isoformat(),
            "participant": [{"actor": {"reference": f"Patient/{world.patient_a.pk}"}, "status": "accepted"}],
        },
    )
    row.refresh_from_db()
    assert moved.status_code == 200, moved.content
    assert row.starts_at == start + dt.timedelta(hours=3)
    assert row.chair_id == nasal_chair.pk, f"moved into {row.chair.name} equipped for {row.chair.equipment}"
    assert row.route == Route.INTRANASAL
