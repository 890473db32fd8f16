"""What a patient is told when the booking service refuses their own change: that the time is no
longer free, never the service's reasons. A closure's reason is the clinic's internal free text
(the REST API gives closures to staff only), so neither the portal's reschedule page
(/me/reschedule/<id>/, web/reschedule.py) nor the waitlist's accept link, which needs no login,
shows it; the desk accepting an offer for a patient still reads it, and it is kept in the log.

The clock is fixed at the page tests' NOW (Friday 27 February 2026, 15:00 UTC)."""

from __future__ import annotations

import datetime as dt
import logging

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from clinic.models import Closure
from scheduling.models import Appointment, WaitlistOffer, WaitlistOfferStatus
from scheduling.services import appointment_cancel
from scheduling.services.waitlist import make_accept_token, waitlist_add
from tests.factories import PatientFactory
from tests.web.conftest import NOW, login
from web import reschedule, waitlist

pytestmark = pytest.mark.django_db

SITE_REASON = "Nurse Ingram on sick leave, staff short"


def _offered(client, appointment):
    url = reverse("web:portal-reschedule", args=[appointment.pk])
    page = client.get(url)
    assert page.status_code == 200
    times = [slot for day in page.context["days"] for slot in day["times"]]
    assert times
    return url, page, times[-1]


def _send(client, url, page, slot):
    return client.post(
        url,
        {
            "first_day": page.context["search"].data["first_day"],
            "last_day": page.context["search"].data["last_day"],
            "slot": f"{slot.start.isoformat()}|{slot.chair_id}",
        },
    )


def _close_the_site_around(web, start: dt.datetime) -> Closure:
    return Closure.objects.create(
        site=web.clinic.site,
        starts_at=start - dt.timedelta(hours=1),
        ends_at=start + dt.timedelta(hours=4),
        reason=SITE_REASON,
    )


def test_a_patient_is_not_shown_the_reason_the_site_was_closed(client, web):
    last = web.sessions_a[-1]
    before = last.starts_at
    login(client, web.patient_a.user)
    url, page, target = _offered(client, last)
    _close_the_site_around(web, target.start)  # an administrator closes the site while the page is open

    refused = _send(client, url, page, target)

    assert refused.status_code == 409
    body = refused.content.decode()
    assert SITE_REASON not in body, refused.context.get("problem")
    assert "closed" not in refused.context["problem"].message
    assert refused.context["problem"].message == reschedule.TIME_NO_LONGER_FREE
    assert refused.context["problem"].items == []
    assert "That time is no longer free" in body
    last.refresh_from_db()
    assert last.starts_at == before


def test_a_time_taken_meanwhile_is_refused_in_the_same_words(client, web):
    """Another patient's session booked on every chair at the time the page offered."""
    last = web.sessions_a[-1]
    login(client, web.patient_a.user)
    url, page, target = _offered(client, last)
    for chair in web.clinic.chairs:
        Appointment.objects.create(
            patient=PatientFactory(home_site=web.clinic.site),
            site=web.clinic.site,
            chair=chair,
            starts_at=target.start,
            ends_at=target.end,
        )

    refused = _send(client, url, page, target)

    assert refused.status_code == 409
    assert refused.context["problem"].message == reschedule.TIME_NO_LONGER_FREE


# --- the waitlist's accept link ---------------------------------------------------


def _offer_then_close_the_site(web, django_capture_on_commit_callbacks) -> WaitlistOffer:
    entry = waitlist_add(
        patient=PatientFactory(home_site=web.clinic.site, reminder_consent=True),
        site=web.clinic.site,
        earliest_date=dt.date(2026, 3, 2),
        actor=web.desk.user,
        now=NOW,
    )
    freed = web.sessions_a[0]
    with django_capture_on_commit_callbacks(execute=True):
        appointment_cancel(appointment=freed, actor=web.desk.user, reason="Patient unwell", now=NOW, rebook=False)
    offer = WaitlistOffer.objects.get(entry=entry)
    _close_the_site_around(web, offer.starts_at)
    return offer


def test_the_accept_link_does_not_tell_the_patient_why_the_session_can_no_longer_be_booked(
    client, web, django_capture_on_commit_callbacks, monkeypatch, caplog
):
    offer = _offer_then_close_the_site(web, django_capture_on_commit_callbacks)
    # The closure lands between the link's check that the chair is still free and the booking.
    monkeypatch.setattr(waitlist, "offer_still_free", lambda offer: True)
    url = reverse("web:waitlist-accept-link", args=[make_accept_token(offer)])

    with caplog.at_level(logging.INFO, logger="scheduling.services.waitlist"):
        refused = client.post(url)

    assert refused.status_code == 409
    body = refused.content.decode()
    assert SITE_REASON not in body
    assert "closed" not in body
    assert "can no longer be booked" in body and "You stay on the waitlist" in body
    assert SITE_REASON in caplog.text  # kept for the clinic in the log
    offer.refresh_from_db()
    assert offer.status == WaitlistOfferStatus.OPEN
    assert not Appointment.objects.filter(patient=offer.entry.patient).exists()


def test_the_desk_accepting_an_offer_for_the_patient_is_still_told_the_closure(
    client, web, django_capture_on_commit_callbacks
):
    offer = _offer_then_close_the_site(web, django_capture_on_commit_callbacks)
    login(client, web.desk.user)

    response = client.post(reverse("web:waitlist-accept", args=[offer.pk]))

    assert response.status_code == 302
    said = " ".join(str(m) for m in get_messages(response.wsgi_request))
    assert SITE_REASON in said
