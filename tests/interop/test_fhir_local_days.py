"""A FHIR date without a time (a calendar day) is the clinic's day, not the UTC day."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.test import Client
from knox.models import AuthToken

from clinic.models import Role
from tests.factories import AppointmentFactory, ChairFactory, PatientFactory, SiteFactory, StaffFactory
from tests.interop.fhir_support import BASE, FHIR_JSON, parameters, parse

pytestmark = pytest.mark.django_db


def test_find_course_from_a_date_starts_on_that_clinic_day_not_the_day_before(world):
    """The EHR asks for an induction course starting Wednesday 4 March (a FHIR date). The clinic is in
    New York; the first session must not fall on Tuesday 3 March."""
    zone = world.clinic.site.zone
    body = parameters(
        ("start", "valueDate", "2026-03-04"),
        ("end", "valueDate", "2026-03-31"),
        ("visit-type", "valueString", str(world.protocol.pk)),
        ("patient-reference", "valueReference", {"reference": f"Patient/{world.patient_a.pk}"}),
        ("course", "valueBoolean", True),
    )
    response = world.client("front_desk").post(BASE + "Appointment/$find", body, content_type=FHIR_JSON)
    bundle = parse(response)
    sessions = [e.resource for e in bundle.entry or [] if e.resource.get_resource_type() == "Appointment"]
    assert sessions, response.content
    local_days = [s.start.astimezone(zone).date() for s in sessions]
    assert min(local_days) >= dt.date(2026, 3, 4), local_days


def test_appointment_search_by_date_finds_the_sessions_of_that_clinic_day(world):
    """A clinic in Sydney (UTC+11 in March): a session at 09:00 on Tuesday 3 March local time is on
    the clinic's 3 March, so ?date=2026-03-03 must find it (and ?date=2026-03-02 must not)."""
    site = SiteFactory(time_zone="Australia/Sydney")
    chair = ChairFactory(site=site)
    desk = StaffFactory(role=Role.FRONT_DESK, sites=[site])
    token = AuthToken.objects.create(user=desk.user)[1]
    client = Client(HTTP_ACCEPT=FHIR_JSON, HTTP_AUTHORIZATION=f"Token {token}")
    patient = PatientFactory(home_site=site)
    starts = dt.datetime(2026, 3, 3, 9, 0, tzinfo=ZoneInfo("Australia/Sydney"))
    appointment = AppointmentFactory(
        patient=patient, chair=chair, starts_at=starts, ends_at=starts + dt.timedelta(hours=2)
    )

    that_day = parse(client.get(BASE + "Appointment?date=2026-03-03"))
    day_before = parse(client.get(BASE + "Appointment?date=2026-03-02"))
    found_that_day = [e.resource.id for e in that_day.entry or []]
    found_day_before = [e.resource.id for e in day_before.entry or []]
    assert (found_that_day, found_day_before) == ([str(appointment.pk)], [])
