"""Waitlist pages with the test client: who may open them, staff only at their
sites, the add form's errors, the desk accepting for a patient, and the
patient's signed accept link (first to accept gets it, the next is told; another patient can
use neither an offer's id nor a token signed with another key or for another purpose)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core import mail, signing
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils.html import escape

from clinic.models import Role
from scheduling.models import (
    Appointment,
    AppointmentStatus,
    WaitlistEntry,
    WaitlistOffer,
    WaitlistOfferStatus,
    WaitlistStatus,
)
from scheduling.services import appointment_cancel, appointment_move
from scheduling.services.waitlist import make_accept_token, waitlist_add
from tests.factories import PatientFactory, SiteFactory, StaffFactory, UserFactory
from tests.web.conftest import NOW, login, make_patient

pytestmark = pytest.mark.django_db

WAITLIST_QUERIES = 8


def _wait(web, patient=None, **kwargs):
    patient = patient or PatientFactory(home_site=web.clinic.site, reminder_consent=True)
    return waitlist_add(
        patient=patient, site=web.clinic.site, earliest_date=dt.date(2026, 3, 2), actor=web.desk.user, now=NOW, **kwargs
    )


def _cancel_first_session_of_a(web, capture):
    freed = web.sessions_a[0]
    with capture(execute=True):
        appointment_cancel(appointment=freed, actor=web.desk.user, reason="Patient unwell", now=NOW, rebook=False)
    return freed


@pytest.mark.parametrize(
    ("persona", "status"),
    [("desk", 200), ("nurse", 200), ("prescriber", 200), ("admin", 403), ("patient_a", 403)],
)
def test_waitlist_pages_are_for_the_front_desk_and_clinicians(client, web, persona, status):
    user = {
        "desk": web.desk.user,
        "nurse": web.nurse.user,
        "prescriber": web.prescriber.user,
        "admin": web.admin.user,
        "patient_a": web.patient_a.user,
    }[persona]
    login(client, user)
    assert client.get(reverse("web:waitlist")).status_code == status
    assert client.get(reverse("web:waitlist-add", args=[web.patient_b.pk])).status_code == status


def test_anonymous_visitors_are_sent_to_log_in(client, web):
    for url in (reverse("web:waitlist"), reverse("web:waitlist-add", args=[web.patient_b.pk])):
        response = client.get(url)
        assert response.status_code == 302 and "/login/" in response["Location"]


def test_staff_of_another_site_see_neither_its_waitlist_nor_its_patients_nor_its_offers(
    client, web, django_capture_on_commit_callbacks
):
    entry = _wait(web, patient=make_patient(web.clinic, "carol", "Carol", "Chen"))
    _cancel_first_session_of_a(web, django_capture_on_commit_callbacks)
    offer = WaitlistOffer.objects.get(entry=entry)
    elsewhere = SiteFactory(name="Lakeside")
    outsider = StaffFactory(role=Role.FRONT_DESK, sites=[elsewhere], user=UserFactory(username="lakeside_desk"))
    login(client, outsider.user)
    page = client.get(reverse("web:waitlist"))
    assert page.status_code == 200 and "Carol Chen" not in page.content.decode()
    assert client.get(reverse("web:waitlist") + f"?site={web.clinic.site.pk}").status_code == 404
    assert client.get(reverse("web:waitlist-add", args=[web.patient_b.pk])).status_code == 404
    assert client.post(reverse("web:waitlist-accept", args=[offer.pk])).status_code == 404
    assert client.post(reverse("web:waitlist-remove", args=[entry.pk]), {"reason": "x"}).status_code == 404
    offer.refresh_from_db()
    entry.refresh_from_db()
    assert offer.status == WaitlistOfferStatus.OPEN and entry.status == WaitlistStatus.WAITING


def test_the_add_form_explains_its_errors_and_adds_nothing(client, web):
    login(client, web.desk.user)
    url = reverse("web:waitlist-add", args=[web.patient_b.pk])
    response = client.post(
        url, {"site": web.clinic.site.pk, "earliest_date": "2026-03-10", "latest_date": "2026-03-05"}
    )
    assert response.status_code == 400
    assert "The latest day must be on or after the earliest day." in response.content.decode()
    response = client.post(url, {"site": web.clinic.site.pk, "earliest_date": ""})
    assert response.status_code == 400
    assert "This field is required." in response.content.decode()
    assert not WaitlistEntry.objects.exists()


def test_the_desk_adds_a_patient_who_wants_a_session_brought_forward(client, web):
    login(client, web.desk.user)
    later = web.sessions_b[-1]
    response = client.post(
        reverse("web:waitlist-add", args=[web.patient_b.pk]),
        {
            "site": web.clinic.site.pk,
            "earliest_date": "2026-03-02",
            "latest_date": "2026-03-20",
            "replaces": later.pk,
            "notify_patient": "on",
            "notes": "Can come at short notice",
        },
    )
    assert response.status_code == 302
    entry = WaitlistEntry.objects.get()
    assert (entry.patient_id, entry.replaces_id, entry.plan_id) == (web.patient_b.pk, later.pk, web.plan_b.pk)
    assert entry.created_by == web.desk.user
    page = client.get(response["Location"]).content.decode()
    assert "Bob Baker is on the waitlist" in page and "Can come at short notice" in page
    # A second waiting entry is refused in words.
    again = client.post(
        reverse("web:waitlist-add", args=[web.patient_b.pk]),
        {"site": web.clinic.site.pk, "earliest_date": "2026-03-02"},
    )
    assert again.status_code == 409 and "already on the waitlist" in again.content.decode()


def test_the_desk_sees_the_offer_after_a_cancel_and_accepts_it_for_the_patient_who_phoned(
    client, web, django_capture_on_commit_callbacks
):
    newcomer = make_patient(web.clinic, "carol", "Carol", "Chen")
    entry = _wait(web, patient=newcomer)
    freed = _cancel_first_session_of_a(web, django_capture_on_commit_callbacks)
    login(client, web.desk.user)
    page = client.get(reverse("web:waitlist")).content.decode()
    assert "Carol Chen" in page and "Accept for patient" in page
    offer = WaitlistOffer.objects.get(entry=entry)
    response = client.post(reverse("web:waitlist-accept", args=[offer.pk]), follow=True)
    assert "Booked Carol Chen on Mon 2 Mar" in response.content.decode()
    booked = Appointment.objects.get(patient=newcomer)
    assert (booked.starts_at, booked.chair_id, booked.status) == (
        freed.starts_at,
        freed.chair_id,
        AppointmentStatus.BOOKED,
    )
    assert booked.booked_by == web.desk.user


def test_the_patients_accept_link_shows_then_books_and_the_next_accepter_is_told_it_is_taken(
    client, web, django_capture_on_commit_callbacks
):
    first = _wait(web)
    second = _wait(web)
    freed = _cancel_first_session_of_a(web, django_capture_on_commit_callbacks)
    assert len(mail.outbox) == 2
    first_url = reverse("web:waitlist-accept-link", args=[make_accept_token(WaitlistOffer.objects.get(entry=first))])
    second_url = reverse("web:waitlist-accept-link", args=[make_accept_token(WaitlistOffer.objects.get(entry=second))])
    assert first_url in mail.outbox[0].body

    shown = client.get(first_url)
    assert shown.status_code == 200
    assert "Yes, book this session for me" in shown.content.decode()
    assert "may have been offered to other patients" in shown.content.decode()
    assert not Appointment.objects.filter(patient=first.patient).exists()  # a GET (link preview) books nothing

    booked = client.post(first_url)
    assert booked.status_code == 200 and "the session is booked" in booked.content.decode()
    assert Appointment.objects.get(patient=first.patient).starts_at == freed.starts_at

    late = client.post(second_url)
    assert late.status_code == 409
    assert "This session has already been taken" in late.content.decode()
    assert not Appointment.objects.filter(patient=second.patient).exists()
    assert client.get(first_url).status_code == 200  # the winner's link still says it is theirs
    assert client.get(reverse("web:waitlist-accept-link", args=["forged-token"])).status_code == 410


def test_the_waitlist_page_keeps_a_fixed_number_of_queries(
    client, web, django_capture_on_commit_callbacks, django_assert_max_num_queries
):
    login(client, web.desk.user)
    _wait(web)
    _wait(web)
    url = reverse("web:waitlist")
    client.get(url)  # the first use on this connection prepares the hot reads (PREPARE, then EXECUTE)
    with CaptureQueriesContext(connection) as few:
        assert client.get(url).status_code == 200
    for _ in range(6):
        _wait(web, notify_patient=False)
    _cancel_first_session_of_a(web, django_capture_on_commit_callbacks)
    assert WaitlistOffer.objects.count() == 5
    with django_assert_max_num_queries(WAITLIST_QUERIES), CaptureQueriesContext(connection) as many:
        response = client.get(url)
    assert len(response.context["entries"]) == 8
    assert len(many) == len(few)


def test_the_admin_lists_waitlist_entries_and_offers_read_only(client, web, django_capture_on_commit_callbacks):
    entry = _wait(web, patient=make_patient(web.clinic, "carol", "Carol", "Chen"))
    _cancel_first_session_of_a(web, django_capture_on_commit_callbacks)
    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
    entries = client.get(reverse("admin:scheduling_waitlistentry_changelist"))
    assert entries.status_code == 200 and "Carol Chen" in entries.content.decode()
    assert client.get(reverse("admin:scheduling_waitlistoffer_changelist")).status_code == 200
    assert client.get(reverse("admin:scheduling_waitlistentry_add")).status_code == 403
    assert (
        client.post(reverse("admin:scheduling_waitlistentry_delete", args=[entry.pk]), {"post": "yes"}).status_code
        == 403
    )
    assert WaitlistEntry.objects.filter(pk=entry.pk).exists()


def test_the_desk_cancel_says_waiting_patients_will_be_offered_the_chair_and_the_offer_follows_the_commit(
    client, web, django_capture_on_commit_callbacks
):
    freed = web.sessions_a[0]
    login(client, web.desk.user)
    url = reverse("web:appointment-action", args=[freed.pk, "cancel"])
    quiet = client.post(url, {"reason": "Flu", "mode": "cancel-only"}, follow=True).content.decode()
    assert "will be offered the chair" not in quiet, "no one waits yet: nothing to announce"
    entry = _wait(web)
    second = web.sessions_a[1]
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("web:appointment-action", args=[second.pk, "cancel"]),
            {"reason": "Flu", "mode": "cancel-only"},
            follow=True,
        )
    html = response.content.decode()
    assert "Induction now short by" in html
    assert f"Waiting patients who fit ({escape(entry.patient.full_name)}) will be offered the chair." in html
    assert WaitlistOffer.objects.filter(freed=second).exists()


def test_a_patient_cannot_accept_another_patients_offer_by_its_id_or_by_a_token_signed_otherwise(
    client, web, django_capture_on_commit_callbacks
):
    entry = _wait(web)
    _cancel_first_session_of_a(web, django_capture_on_commit_callbacks)
    offer = WaitlistOffer.objects.get(entry=entry)
    login(client, web.patient_b.user)
    assert client.post(reverse("web:waitlist-accept", args=[offer.pk])).status_code in (403, 404)
    other_key = signing.dumps({"o": offer.pk}, key="not-the-secret", salt="scheduling.waitlist.accept", compress=True)
    assert client.post(reverse("web:waitlist-accept-link", args=[other_key])).status_code == 410
    other_salt = signing.dumps({"o": offer.pk}, compress=True)
    assert client.post(reverse("web:waitlist-accept-link", args=[other_salt])).status_code == 410
    offer.refresh_from_db()
    assert offer.status == WaitlistOfferStatus.OPEN
    assert not Appointment.objects.filter(patient=entry.patient).exists()


def _accepted_link(web, client, capture):
    """A waiting patient accepts the chair freed by patient A's first session (Mon 2 Mar 2026,
    08:00 New York) on the link from the message: the link's address and the accepted offer."""
    entry = _wait(web)
    _cancel_first_session_of_a(web, capture)
    offer = WaitlistOffer.objects.get(entry=entry)
    url = reverse("web:waitlist-accept-link", args=[make_accept_token(offer)])
    assert client.post(url).status_code == 200
    offer.refresh_from_db()
    assert offer.status == WaitlistOfferStatus.ACCEPTED
    return url, offer


def test_the_accept_link_does_not_say_a_cancelled_session_is_still_the_patients(
    client, web, django_capture_on_commit_callbacks
):
    """The patient accepts the offer, and the clinic later cancels the session booked from it. The
    patient opens the link again to check the time: the page must not say "This session is already
    yours" (with the offer's time and the usual reminders promised) for a session that no longer
    exists, but that it is cancelled, and to call the clinic."""
    url, offer = _accepted_link(web, client, django_capture_on_commit_callbacks)
    appointment_cancel(appointment=offer.booked, actor=web.desk.user, reason="Nurse off sick", now=NOW)

    page = client.get(url)
    text = page.content.decode()
    assert "already yours" not in text, "a cancelled session is shown to the patient as theirs"
    assert page.status_code == 410
    assert "This session has been cancelled" in text and "call the clinic" in text


def test_the_accept_link_shows_the_sessions_time_after_the_clinic_moved_it(
    client, web, django_capture_on_commit_callbacks
):
    """As above, but the desk moves the booked session to Tuesday 10:00: the link shows the time the
    patient is to come in at, not the offer's Monday 08:00."""
    url, offer = _accepted_link(web, client, django_capture_on_commit_callbacks)
    moved = appointment_move(
        appointment=offer.booked,
        starts_at=dt.datetime(2026, 3, 3, 15, tzinfo=dt.UTC),  # Tue 3 Mar, 10:00 in New York
        actor=web.desk.user,
        now=NOW,
    )
    assert moved.status == AppointmentStatus.BOOKED

    text = client.get(url).content.decode()
    assert "Tuesday 3 March 2026 at 10:00" in text, "the page shows the offer's old time, not the session's"
    assert "Monday 2 March 2026" not in text
    assert "This session is already yours" in text


def test_a_waitlist_entry_does_not_stay_waiting_once_the_session_it_brings_forward_is_cancelled(web):
    """Patient B waits to bring Friday 13 March forward, then cancels that session in the portal. The
    entry can never be offered anything again (`_suits` and `waitlist_offer_accept` refuse a replaced
    session that is no longer upcoming): it leaves the waitlist, saying why, and B may be put on the
    site's waitlist again (tests/scheduling/test_waitlist_bring_forward.py: its open offers close)."""
    replaced = web.sessions_b[-1]
    entry = _wait(web, patient=web.patient_b, replaces=replaced)
    portal = Client()
    portal.force_login(web.patient_b.user)
    assert portal.post(reverse("web:portal-action", args=[replaced.pk, "cancel"])).status_code == 302
    replaced.refresh_from_db()
    assert replaced.status == AppointmentStatus.CANCELLED

    entry.refresh_from_db()
    assert entry.status == WaitlistStatus.REMOVED, "an entry nothing can ever be offered to is still waiting"
    assert "the session it would bring forward (Fri 13 Mar 2026" in entry.history.first().history_change_reason
    assert "was cancelled" in entry.history.first().history_change_reason
    _wait(web, patient=web.patient_b)  # no longer "already on the waitlist"


def test_the_add_form_refuses_to_bring_a_session_forward_to_its_own_day_or_later(client, web):
    login(client, web.desk.user)
    later = web.sessions_b[-1]  # Fri 13 Mar
    response = client.post(
        reverse("web:waitlist-add", args=[web.patient_b.pk]),
        {"site": web.clinic.site.pk, "earliest_date": "2026-03-13", "replaces": later.pk},
    )
    assert response.status_code == 409
    assert "the earliest date must be before that day" in response.content.decode()
    assert not WaitlistEntry.objects.exists()
