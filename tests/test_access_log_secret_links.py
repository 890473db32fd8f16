"""A secret in a link's address (a reminder link's, the calendar feed's, a waitlist offer's, a
password reset's) is the patient's authority, so the access log names it "[token]": the access log
middleware sets the logged path before the view runs, so that a method the view refuses before
its body (HEAD from a mail scanner or link previewer, answered 405) keeps it out too, and a view
that forgot to (the waitlist's accept link) is covered."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.urls import reverse

from clinic.models import AccessLog
from scheduling.models import WaitlistOffer
from scheduling.reminders import tokens
from scheduling.services import appointment_cancel
from scheduling.services.waitlist import make_accept_token, waitlist_add
from tests.factories import AppointmentFactory, ChairFactory, PatientFactory
from tests.web.conftest import NOW, frozen, web  # noqa: F401

pytestmark = pytest.mark.django_db

MONDAY = dt.datetime(2026, 3, 2, 15, tzinfo=dt.UTC)


@pytest.mark.parametrize("method", ["get", "head", "options", "put"])
def test_a_reminder_link_keeps_its_token_out_of_the_log_whatever_the_method(client, personas, method):
    appointment = AppointmentFactory(
        patient=personas.patient_b, chair=ChairFactory(site=personas.site), starts_at=MONDAY + dt.timedelta(days=30)
    )
    token = tokens.make_token(appointment=appointment, purpose=tokens.CONFIRM)
    with time_machine.travel(MONDAY, tick=False):
        getattr(client, method)(reverse("reminders:confirm", args=[token]), REMOTE_ADDR="192.0.2.46")
    entry = AccessLog.objects.get()
    assert token not in entry.path, f"the confirm link's token is in the access log: {entry.path}"
    assert entry.path == "/r/confirm/[token]/"


@pytest.mark.parametrize("method", ["get", "head", "post"])
def test_the_calendar_feed_keeps_its_token_out_of_the_log_whatever_the_method(client, personas, method):
    token = personas.patient_a.calendar_token
    getattr(client, method)(reverse("web:calendar-feed", args=[token]))
    entry = AccessLog.objects.get()
    assert token not in entry.path, f"the calendar feed's token is in the access log: {entry.path}"


def test_the_access_log_never_holds_the_waitlist_accept_links_token(client, web, django_capture_on_commit_callbacks):  # noqa: F811
    """The accept link (/w/<token>/) books the freed session for the patient with no login."""
    patient = PatientFactory(home_site=web.clinic.site, reminder_consent=True)
    entry = waitlist_add(
        patient=patient, site=web.clinic.site, earliest_date=dt.date(2026, 3, 2), actor=web.desk.user, now=NOW
    )
    with django_capture_on_commit_callbacks(execute=True):
        appointment_cancel(
            appointment=web.sessions_a[0], actor=web.desk.user, reason="Patient unwell", now=NOW, rebook=False
        )
    token = make_accept_token(WaitlistOffer.objects.get(entry=entry))
    url = reverse("web:waitlist-accept-link", args=[token])
    assert client.get(url).status_code == 200
    assert client.head(url).status_code in (200, 405)
    rows = list(AccessLog.objects.filter(path__startswith="/w/"))
    assert len(rows) == 2, "the anonymous accept link is logged"
    leaked = [row.path for row in rows if token in row.path]
    assert not leaked, f"the accept link's token is in the access log: {leaked}"


@pytest.mark.parametrize(
    ("url", "logged"),
    [
        ("/r/cancel/c/", "/r/cancel/[token]/"),
        ("/r/confirm/r/", "/r/confirm/[token]/"),
        ("/account/password/reset/MTA/set/", "/account/password/reset/[token]/[token]/"),
    ],
)
def test_a_token_that_also_spells_part_of_the_address_replaces_only_its_own_place(client, url, logged):
    """A probe with a guessed token keeps the endpoint readable in the log (confirm or cancel)."""
    client.get(url, REMOTE_ADDR="192.0.2.46")
    entry = AccessLog.objects.exclude(path="").latest("pk")
    assert entry.path == logged, f"logged as {entry.path!r}"


@pytest.mark.django_db(transaction=True)  # the request commits as in production
def test_a_nul_in_the_user_agent_does_not_turn_a_link_cancel_into_an_unlogged_500(web):  # noqa: F811
    """Anyone may send any User-Agent, and PostgreSQL refuses a NUL in text: copied into the access
    log unchecked, it made the access-log middleware raise after the view had answered. On a reminder
    link's POST the session was cancelled (the view's write committed, its notices queued), the
    patient was shown a server error, and the access log had no row for a change made through a
    secret link. Control characters are replaced, visibly, in every text the row takes from the
    request."""
    from django.test import Client

    from scheduling.models import AppointmentStatus

    session = web.sessions_a[2]
    token = tokens.make_token(appointment=session, purpose=tokens.CANCEL)
    client = Client(raise_request_exception=False, HTTP_USER_AGENT="Mozilla/5.0\x00\x1b[31m")
    response = client.post(reverse("reminders:cancel", args=[token]))
    session.refresh_from_db()
    assert session.status == AppointmentStatus.CANCELLED  # the link did its work ...
    assert response.status_code == 200, f"... but answered {response.status_code}"
    row = AccessLog.objects.get(method="POST", path__startswith="/r/cancel/")
    assert row.user_agent == "Mozilla/5.0\ufffd\ufffd[31m"
