"""A patient's own cancel (a reminder's cancel link, the portal) never cancels a session the desk
checked the patient in for meanwhile, nor one inside the notice period: the pages read the session
unlocked to answer well, and appointment_cancel(by_patient=True) checks both again under the
session's row lock (the desk's own cancel still releases a checked-in session). The API's patient
cancel: tests/api/test_patient_cancel_notice.py."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.test import Client
from django.urls import reverse

from clinic.models import ReminderPolicy
from scheduling.errors import InvalidState, TooLateForOnlineChange
from scheduling.models import AppointmentStatus
from scheduling.reminders import tokens
from scheduling.services import appointment_cancel, appointment_check_in
from web import portal, reminder_links

pytestmark = pytest.mark.django_db

# Patient A's first session is Mon 2 Mar 2026, 08:00 New York (13:00 UTC); with a notice of 2 hours,
# the patient may still cancel online at 05:30, when the desk may already check them in.
ARRIVED = dt.datetime(2026, 3, 2, 10, 30, tzinfo=dt.UTC)


@pytest.fixture
def short_notice(web):
    ReminderPolicy.objects.filter(site=web.clinic.site).update(patient_notice_hours=2)
    return web.sessions_a[0]


def test_a_reminder_cancel_link_never_cancels_a_session_the_patient_is_checked_in_for(web, short_notice, monkeypatch):
    """The cancel link refuses a checked-in session (web/reminder_links.py `_resolve_upcoming`), but
    reads the status without a lock before calling appointment_cancel, which, for the desk's sake,
    also cancels CHECKED_IN sessions. A check-in landing between the two (the patient at the desk
    while someone at home clicks the link) is made certain here by checking the patient in at the
    view's deadline step."""
    session = short_notice
    token = tokens.make_token(appointment=session, purpose=tokens.CANCEL)
    real_deadline = reminder_links._cancel_deadline

    def the_desk_checks_in_meanwhile(appointment):
        appointment_check_in(appointment=appointment, actor=web.desk.user, now=ARRIVED)
        return real_deadline(appointment)

    with time_machine.travel(ARRIVED, tick=False):
        client = Client()
        path = reverse("reminders:cancel", args=[token])
        assert client.get(path).status_code == 200
        monkeypatch.setattr(reminder_links, "_cancel_deadline", the_desk_checks_in_meanwhile)
        response = client.post(path)
    session.refresh_from_db()
    assert session.status == AppointmentStatus.CHECKED_IN, (
        "the patient's link cancelled a session they are checked in for"
    )
    assert response.status_code == 409
    assert "cannot be cancelled online" in response.content.decode()


def test_the_portal_cancel_never_cancels_a_session_the_patient_is_checked_in_for(web, short_notice, monkeypatch):
    session = short_notice
    real_decorate = portal._decorate

    def the_desk_checks_in_meanwhile(appointment, now):
        decorated = real_decorate(appointment, now)  # read before the check-in: still booked
        if appointment.pk == session.pk and appointment.status == AppointmentStatus.BOOKED:
            appointment_check_in(appointment=appointment, actor=web.desk.user, now=ARRIVED)
        return decorated

    monkeypatch.setattr(portal, "_decorate", the_desk_checks_in_meanwhile)
    with time_machine.travel(ARRIVED, tick=False):
        client = Client()
        client.force_login(web.patient_a.user)
        response = client.post(reverse("web:portal-action", args=[session.pk, "cancel"]), follow=True)
    session.refresh_from_db()
    assert session.status == AppointmentStatus.CHECKED_IN, (
        "the portal cancelled a session the patient is checked in for"
    )
    assert "cannot be cancelled online" in response.content.decode()


def test_the_patients_cancel_is_refused_under_the_lock_once_the_notice_period_began(web, short_notice):
    session = short_notice
    deadline = dt.datetime(2026, 3, 2, 11, tzinfo=dt.UTC)  # 06:00 in New York
    with pytest.raises(TooLateForOnlineChange, match="Online changes close 2 hours before the session"):
        appointment_cancel(appointment=session, actor=None, reason="Feeling better", now=deadline, by_patient=True)
    session.refresh_from_db()
    assert session.status == AppointmentStatus.BOOKED
    outcome = appointment_cancel(
        appointment=session,
        actor=None,
        reason="Feeling better",
        now=deadline - dt.timedelta(seconds=1),
        by_patient=True,
    )
    assert outcome.appointment.status == AppointmentStatus.CANCELLED


def test_the_desk_still_cancels_a_checked_in_session_and_the_patient_does_not(web, short_notice):
    session = short_notice
    appointment_check_in(appointment=session, actor=web.desk.user, now=ARRIVED)
    with pytest.raises(InvalidState, match="A session that is checked in cannot be cancelled online"):
        appointment_cancel(appointment=session, actor=None, reason="Not coming", now=ARRIVED, by_patient=True)
    outcome = appointment_cancel(appointment=session, actor=web.desk.user, reason="Patient unwell", now=ARRIVED)
    assert outcome.appointment.status == AppointmentStatus.CANCELLED
