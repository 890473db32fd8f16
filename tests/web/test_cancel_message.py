"""Issue 20 #12: the cancel message speaks plainly (no "re-flow") and names the waiting patients
who fit the freed chair and will be offered it (from the waitlist matching, not the offer rows,
which are written after the commit)."""

from __future__ import annotations

import datetime as dt

from django.urls import reverse

from scheduling.services.waitlist import waitlist_add
from tests.web.conftest import NOW, login, make_patient


def _cancel(client, web, capture, appointment):
    with capture(execute=True):
        return client.post(
            reverse("web:appointment-action", args=[appointment.pk, "cancel"]),
            {"reason": "Patient unwell", "mode": "cancel-only", "next": reverse("web:board")},
            follow=True,
        )


def test_the_cancel_message_names_the_waiting_patient_offered_the_chair_in_plain_words(
    client, web, django_capture_on_commit_callbacks
):
    carol = make_patient(web.clinic, "carol", "Carol", "Chen")
    waitlist_add(patient=carol, site=web.clinic.site, earliest_date=dt.date(2026, 3, 2), actor=web.desk.user, now=NOW)
    login(client, web.desk.user)
    text = _cancel(client, web, django_capture_on_commit_callbacks, web.sessions_a[0]).content.decode()
    assert "Alice Archer&#x27;s session is cancelled." in text
    assert "Waiting patients who fit (Carol Chen) will be offered the chair." in text
    assert "re-flow" not in text
    assert "Induction now short by 1 session; the first replacement that fits is " in text
    assert "not booked yet" in text


def test_without_a_waiting_patient_who_fits_the_message_says_nothing_about_the_waitlist(
    client, web, django_capture_on_commit_callbacks
):
    login(client, web.desk.user)
    text = _cancel(client, web, django_capture_on_commit_callbacks, web.sessions_a[0]).content.decode()
    assert "session is cancelled." in text and "Waiting patients" not in text
