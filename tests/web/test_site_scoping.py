"""Staff pages at two sites: a site-1 member of staff gets 404 for everything at site 2
(board, week, chart, booking, session buttons, plan changes, the session record) and never
sees a site-2 row in the patient search or the controlled-substance log; a clinic-wide
member of staff (StaffMember.all_sites) sees both sites."""

from __future__ import annotations

import csv as csv_module
import datetime as dt
import io
from dataclasses import dataclass

import pytest
from django.urls import reverse

from clinic.models import Role, StaffMember
from patients.models import Patient
from scheduling.models import Appointment, AppointmentStatus, TreatmentPlan
from scheduling.services import course_book
from tests.api.conftest import second_clinic
from tests.clinical_helpers import record_session_for_completion
from tests.factories import AppointmentFactory, PatientFactory, StaffFactory, UserFactory
from tests.scheduling.conftest import START, Clinic
from tests.web.conftest import NOW, Web, login

pytestmark = pytest.mark.django_db


@dataclass
class Elsewhere:
    clinic: Clinic
    patient: Patient
    plan: TreatmentPlan
    sessions: list[Appointment]
    checked_in: Appointment
    wide: StaffMember


@pytest.fixture
def elsewhere(web: Web) -> Elsewhere:
    clinic = second_clinic(protocol=web.clinic.protocol, days=40)
    patient = PatientFactory(home_site=clinic.site, first_name="Zed", last_name="Zimmer", escort_name="")
    plan = clinic.plan(patient=patient)
    sessions = course_book(plan=plan, actor=clinic.front_desk.user, now=NOW, start_date=START)
    checked_in = AppointmentFactory(
        patient=PatientFactory(home_site=clinic.site, last_name="Zimmer"),
        chair=clinic.chairs[2],
        nurse=clinic.nurses[0],
        starts_at=NOW - dt.timedelta(minutes=30),
        status=AppointmentStatus.CHECKED_IN,
        checked_in_at=NOW - dt.timedelta(minutes=40),
    )
    record_session_for_completion(checked_in, clinic.nurses[0].user)
    wide = StaffFactory(user=UserFactory(username="director"), role=Role.PRESCRIBER, all_sites=True)
    return Elsewhere(clinic=clinic, patient=patient, plan=plan, sessions=sessions, checked_in=checked_in, wide=wide)


def site_two_pages(other: Elsewhere) -> dict[str, str]:
    site = other.clinic.site.pk
    return {
        "board": f"{reverse('web:board')}?site={site}&day=2026-03-02",
        "week": f"{reverse('web:week')}?site={site}&day=2026-03-02",
        "chart": reverse("web:patient", args=[other.patient.pk]),
        "book": reverse("web:book-course", args=[other.plan.pk]),
        "session record": reverse("clinical:session", args=[other.checked_in.pk]),
    }


@pytest.mark.parametrize("persona", ["desk", "nurse", "prescriber"])
def test_site_one_staff_get_404_for_every_site_two_page(client, web, elsewhere, persona):
    login(client, getattr(web, persona).user)
    for name, url in site_two_pages(elsewhere).items():
        # The session record is for clinicians: the front desk gets 403 before any lookup.
        expected = 403 if name == "session record" and persona == "desk" else 404
        assert client.get(url).status_code == expected, name


def test_clinic_wide_staff_open_every_site_two_page(client, web, elsewhere):
    login(client, elsewhere.wide.user)
    for name, url in site_two_pages(elsewhere).items():
        assert client.get(url).status_code == 200, name
    search = client.get(reverse("web:patient-search") + "?q=Zimmer")
    assert b"Zed" in search.content


@pytest.mark.parametrize("action", ["check-in", "confirm", "no-show", "cancel"])
def test_site_one_front_desk_cannot_act_on_a_site_two_session(client, web, elsewhere, action):
    session = elsewhere.sessions[0]
    login(client, web.desk.user)
    response = client.post(reverse("web:appointment-action", args=[session.pk, action]), {"reason": "Sick"})
    assert response.status_code == 404
    session.refresh_from_db()
    assert session.status == AppointmentStatus.BOOKED


def test_site_one_prescriber_cannot_adjust_a_site_two_plan(client, web, elsewhere):
    login(client, web.prescriber.user)
    response = client.post(
        reverse("web:plan-adjust", args=[elsewhere.plan.pk]),
        {"action": "pause", "reason": "Travelling", "version": elsewhere.plan.version},
    )
    assert response.status_code == 404
    elsewhere.plan.refresh_from_db()
    assert elsewhere.plan.status == "active"


def test_site_one_patient_search_leaves_out_site_two_patients(client, web, elsewhere):
    login(client, web.desk.user)
    response = client.get(reverse("web:patient-search") + "?q=Zimmer")
    assert response.status_code == 200
    assert response.context["results"] == []
    assert b"Zed" not in response.content


def test_the_site_picker_offers_only_the_staff_members_sites(client, web, elsewhere):
    login(client, web.desk.user)
    response = client.get(reverse("web:board"))
    assert response.context["sites"] == [web.clinic.site]
    login(client, elsewhere.wide.user)
    response = client.get(reverse("web:board"))
    assert set(response.context["sites"]) == {web.clinic.site, elsewhere.clinic.site}


def test_controlled_substance_log_shows_only_the_readers_sites(client, web, elsewhere):
    here = AppointmentFactory(
        patient=web.patient_a,
        chair=web.clinic.chairs[2],
        nurse=web.nurse,
        starts_at=NOW - dt.timedelta(minutes=30),
        status=AppointmentStatus.CHECKED_IN,
        checked_in_at=NOW - dt.timedelta(minutes=40),
    )
    record_session_for_completion(here, web.nurse.user)
    login(client, web.nurse.user)
    page = client.get(reverse("clinical:cs-log"))
    assert {e.site_id for e in page.context["entries"]} == {web.clinic.site.pk}
    csv = client.get(reverse("clinical:cs-log-csv")).content.decode()
    # The patient column, not the whole line: a staff member may be drawn as "Zimmerman".
    patients = {row["patient"] for row in csv_module.DictReader(io.StringIO(csv))}
    assert web.patient_a.full_name in patients, patients
    assert not any(name.endswith(" Zimmer") for name in patients), patients
    login(client, elsewhere.wide.user)
    page = client.get(reverse("clinical:cs-log"))
    assert {e.site_id for e in page.context["entries"]} == {web.clinic.site.pk, elsewhere.clinic.site.pk}
