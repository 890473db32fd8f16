"""An offer whose chair the front desk has since booked is no longer shown as open."""

from __future__ import annotations

import pytest
from django.urls import reverse

from scheduling.models import WaitlistOffer
from scheduling.services import appointment_book, appointment_cancel
from scheduling.services.waitlist import make_accept_token, waitlist_add
from tests.factories import PatientFactory
from tests.web.conftest import NOW, dt, login

pytestmark = pytest.mark.django_db


def _offer_then_desk_books_the_chair(web, captured):
    entry = waitlist_add(
        patient=PatientFactory(home_site=web.clinic.site, reminder_consent=True),
        site=web.clinic.site,
        earliest_date=dt.date(2026, 3, 2),
        actor=web.desk.user,
        now=NOW,
    )
    freed = web.sessions_a[0]
    with captured(execute=True):
        appointment_cancel(appointment=freed, actor=web.desk.user, reason="Patient unwell", now=NOW)
    offer = WaitlistOffer.objects.get(entry=entry)
    # A walk-in phones the desk, who books the freed chair for them directly.
    appointment_book(
        patient=PatientFactory(home_site=web.clinic.site),
        site=web.clinic.site,
        starts_at=freed.starts_at,
        chair=freed.chair,
        actor=web.desk.user,
        now=NOW,
    )
    return offer


def test_the_patients_link_does_not_offer_a_chair_the_desk_has_booked_since(
    client, web, django_capture_on_commit_callbacks
):
    """Once the desk books the freed chair, the patient's link says it has been booked in the
    meantime, and offers no button to book it."""
    offer = _offer_then_desk_books_the_chair(web, django_capture_on_commit_callbacks)
    page = client.get(reverse("web:waitlist-accept-link", args=[make_accept_token(offer)]))
    assert "Yes, book this session for me" not in page.content.decode(), (
        f"the link offers a chair already booked by the desk (status {page.status_code})"
    )


def test_the_waitlist_page_does_not_list_as_open_an_offer_whose_chair_the_desk_has_booked(
    client, web, django_capture_on_commit_callbacks
):
    """The desk's waitlist does not list as open (with "Accept for patient") an offer whose chair was
    booked from the desk since."""
    _offer_then_desk_books_the_chair(web, django_capture_on_commit_callbacks)
    login(client, web.desk.user)
    page = client.get(reverse("web:waitlist"))
    assert len(page.context["entries"][0].open_offers) == 0, "a taken chair is listed as an open offer"
