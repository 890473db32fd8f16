"""A patient whose course is paused or ended stays on the waitlist but is not booked from it:
the clinician decides when (and whether) sessions start again."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from scheduling import services
from scheduling.errors import InvalidState
from scheduling.models import Appointment, PlanStatus, WaitlistOffer, WaitlistOfferStatus, WaitlistStatus
from scheduling.services.waitlist import waitlist_matches, waitlist_offer_accept
from tests.factories import PatientFactory
from tests.scheduling.conftest import NOW
from tests.scheduling.test_waitlist import FREED_AT, _cancel, _single, _waiting


@pytest.fixture(autouse=True)
def _clock_at_now():
    """The services here are given `now` = NOW, and the cancel's offer task works at the later of the
    cancel's instant and the clock: the clock stands at NOW too (ticking, for the threaded tests)."""
    with time_machine.travel(NOW, tick=True):
        yield


pytestmark = pytest.mark.django_db

# Friday 6 March 2026, 10:00 in New York: the course's first session, three days after the freed chair.
FIRST_SESSION = dt.datetime(2026, 3, 6, 15, tzinfo=dt.UTC)


def _waiting_on_an_active_course(clinic):
    plan = clinic.plan()
    services.appointment_book(
        patient=plan.patient,
        plan=plan,
        site=clinic.site,
        starts_at=FIRST_SESSION,
        chair=clinic.chairs[1],
        actor=clinic.front_desk.user,
        now=NOW,
    )
    plan.refresh_from_db()
    assert plan.status == PlanStatus.ACTIVE
    entry = _waiting(clinic, patient=plan.patient)
    assert entry.plan_id == plan.pk
    return plan, entry


def _close(plan, clinic, how: str) -> None:
    if how == "paused":
        services.plan_pause(plan=plan, reason="Travelling", actor=clinic.prescriber.user, now=NOW)
    else:
        services.plan_end(plan=plan, reason="Stopped treatment", actor=clinic.prescriber.user, now=NOW)
    plan.refresh_from_db()
    assert plan.status == {"paused": PlanStatus.PAUSED, "ended": PlanStatus.ENDED}[how]


@pytest.mark.parametrize("how", ["paused", "ended"])
def test_a_waiting_patient_whose_course_is_paused_or_ended_is_not_offered_a_freed_chair(clinic, how):
    freed = _single(clinic, PatientFactory(home_site=clinic.site), FREED_AT)
    plan, closed_entry = _waiting_on_an_active_course(clinic)
    open_entry = _waiting(clinic)
    _close(plan, clinic, how)
    services.appointment_cancel(appointment=freed, actor=clinic.front_desk.user, reason="Flu", now=NOW)
    assert [entry.pk for entry in waitlist_matches(freed=freed, now=NOW)] == [open_entry.pk]
    closed_entry.refresh_from_db()
    assert closed_entry.status == WaitlistStatus.WAITING  # still listed for the desk, just not offered


@pytest.mark.parametrize("how", ["paused", "ended"])
def test_an_open_offer_is_not_accepted_once_the_course_is_paused_or_ended(
    clinic, how, django_capture_on_commit_callbacks
):
    freed = _single(clinic, PatientFactory(home_site=clinic.site), FREED_AT)
    plan, entry = _waiting_on_an_active_course(clinic)
    _cancel(clinic, freed, django_capture_on_commit_callbacks)
    offer = WaitlistOffer.objects.get(entry=entry)
    _close(plan, clinic, how)
    with pytest.raises(InvalidState, match=f"course is {how}"):
        waitlist_offer_accept(offer=offer, actor=None, now=NOW)
    assert not Appointment.objects.filter(patient=plan.patient, starts_at=FREED_AT).exists()
    offer.refresh_from_db()
    entry.refresh_from_db()
    assert (offer.status, offer.booked_id) == (WaitlistOfferStatus.OPEN, None)
    assert entry.status == WaitlistStatus.WAITING
