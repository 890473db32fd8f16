"""The page side of the review fixes in 676e2eb: the staff pages find a patient by the central
site rule, the staff questionnaire offers only this site's sessions, a duplicate registered at
another site is refused without naming them, the waitlist link is access-logged, and the
patient's reschedule page survives a missing reminder policy."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse

from clinic.errors import InvalidState
from clinic.models import AccessLog, ReminderPolicy
from patients.services import patient_register
from scheduling.services import appointment_cancel
from scheduling.services.waitlist import make_accept_token, waitlist_add
from tests.factories import AppointmentFactory, ChairFactory, PatientFactory, SiteFactory
from tests.web.conftest import NOW, login

pytestmark = pytest.mark.django_db

BORN = dt.date(1979, 4, 12)


# --- 3. Patients found by the central site rule ------------------------------------------------

# (page, the persona allowed on it): one page of each module the fix changed.
PATIENT_PAGES = [
    ("web:book-session", "desk", ()),
    ("web:waitlist-add", "desk", ()),
    ("web:plan-new", "prescriber", ()),
    ("measures:staff-entry", "nurse", ("phq9",)),
]


@pytest.mark.parametrize(("name", "persona", "extra"), PATIENT_PAGES)
def test_staff_find_a_patient_of_another_home_site_who_has_a_session_at_their_site(client, web, name, persona, extra):
    elsewhere = SiteFactory(name="Lakeside")
    visiting = PatientFactory(home_site=elsewhere, first_name="Vera", last_name="Visitor")
    AppointmentFactory(patient=visiting, chair=web.clinic.chairs[2], starts_at=NOW + dt.timedelta(days=10))
    stranger = PatientFactory(home_site=elsewhere, first_name="Sam", last_name="Stranger")
    AppointmentFactory(patient=stranger, chair=ChairFactory(site=elsewhere), starts_at=NOW + dt.timedelta(days=10))
    login(client, getattr(web, persona).user)
    assert client.get(reverse(name, args=[visiting.pk, *extra])).status_code == 200
    assert client.get(reverse(name, args=[stranger.pk, *extra])).status_code == 404


# --- 4. The staff questionnaire's sessions --------------------------------------------------


def test_the_staff_questionnaire_offers_only_sessions_at_the_nurses_sites(client, web):
    elsewhere = ChairFactory(site=SiteFactory(name="Lakeside"))
    away = AppointmentFactory(patient=web.patient_a, chair=elsewhere, starts_at=NOW + dt.timedelta(days=1))
    login(client, web.nurse.user)
    response = client.get(reverse("measures:staff-entry", args=[web.patient_a.pk, "phq9"]))
    assert response.status_code == 200
    offered = list(response.context["form"].fields["appointment"].queryset)
    assert offered, "the patient's sessions here in the next week are offered"
    assert {session.site_id for session in offered} == {web.clinic.site.pk}
    assert away.pk not in {session.pk for session in offered}


# --- 5. Duplicate registration ---------------------------------------------------------------


def _register(actor, site, first: str, last: str):
    return patient_register(
        actor=actor,
        now=NOW,
        clinician=False,
        fields={
            "first_name": first,
            "last_name": last,
            "date_of_birth": BORN,
            "home_site": site,
            "email": "someone@example.org",
            "mobile_phone": "+12025550177",
        },
    )


def test_a_duplicate_registered_at_another_site_is_refused_without_naming_them(web):
    other = PatientFactory(
        home_site=SiteFactory(name="Lakeside"), first_name="Dana", last_name="Quill", date_of_birth=BORN
    )
    with pytest.raises(InvalidState) as refused:
        _register(web.desk.user, web.clinic.site, "dana", "QUILL")
    assert "another site" in refused.value.message
    assert "Dana" not in refused.value.message and "Quill" not in refused.value.message
    assert str(other.pk) not in refused.value.message
    assert refused.value.details == {}


def test_a_duplicate_at_the_same_site_is_named_with_their_id(web):
    same = PatientFactory(home_site=web.clinic.site, first_name="Dana", last_name="Quill", date_of_birth=BORN)
    with pytest.raises(InvalidState) as refused:
        _register(web.desk.user, web.clinic.site, "Dana", "Quill")
    assert "Dana Quill" in refused.value.message
    assert refused.value.details == {"patient_id": same.pk}


# --- 6. The waitlist link is access-logged ----------------------------------------------------


def test_opening_a_waitlist_offer_link_is_logged_with_its_patient(client, web, django_capture_on_commit_callbacks):
    entry = waitlist_add(
        patient=PatientFactory(home_site=web.clinic.site, reminder_consent=True),
        site=web.clinic.site,
        earliest_date=dt.date(2026, 3, 2),
        actor=web.desk.user,
        now=NOW,
    )
    with django_capture_on_commit_callbacks(execute=True):
        appointment_cancel(appointment=web.sessions_a[0], actor=web.desk.user, reason="Unwell", now=NOW, rebook=False)
    offer = entry.offers.get()
    response = client.get(
        reverse("web:waitlist-accept-link", args=[make_accept_token(offer)]), REMOTE_ADDR="192.0.2.61"
    )
    assert response.status_code == 200
    logged = AccessLog.objects.get()
    assert (logged.user, logged.status_code, logged.ip_address) == (None, 200, "192.0.2.61")
    assert logged.patient_ids == [entry.patient_id]


# --- 9. A missing reminder policy ------------------------------------------------------------


def test_the_reschedule_page_uses_the_default_notice_when_the_sites_policy_is_missing(client, web):
    ReminderPolicy.objects.filter(site=web.clinic.site).delete()
    default_notice = ReminderPolicy._meta.get_field("patient_notice_hours").default
    login(client, web.patient_a.user)
    response = client.get(reverse("web:portal-reschedule", args=[web.sessions_a[-1].pk]))
    assert response.status_code == 200
    assert response.context["notice_hours"] == default_notice
    assert response.context["days"], "free times are offered as usual"
