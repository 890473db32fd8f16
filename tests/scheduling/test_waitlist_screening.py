"""The waitlist holds the screening as booking does: a waiting patient whose screening booking would
refuse (a contraindication recorded after the course began, or one of a patient with no plan) is
not offered a freed chair, and one flagged after the offer cannot take it. The screening's reasons
are health data: the desk is told them as booking tells it (a clinician reads them, the front desk
is sent to the chart), and the patient's accept link, which needs no login, never shows them: it
says the clinic needs to speak with the patient, not that the session was taken."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.urls import reverse

from patients.models import Contraindication, Patient
from scheduling import services
from scheduling.errors import NotEligible
from scheduling.models import Appointment, PlanStatus, WaitlistOffer, WaitlistOfferStatus
from scheduling.services.waitlist import (
    make_accept_token,
    waitlist_matches,
    waitlist_offer_accept,
    waitlist_offer_freed_slot,
)
from tests.factories import PatientFactory
from tests.scheduling.conftest import NOW
from tests.scheduling.test_waitlist import FREED_AT, _single, _waiting

pytestmark = pytest.mark.django_db

# Friday 6 March 2026, 10:00 in New York: the course's first session, three days after the freed chair.
FIRST_SESSION = dt.datetime(2026, 3, 6, 15, tzinfo=dt.UTC)
SEIZURES = "History of seizures"


@pytest.fixture(autouse=True)
def _clock_at_now():
    with time_machine.travel(NOW, tick=False):
        yield


def _record_seizures(patient) -> None:
    """A contraindication the clinic screens for, and the patient's history of it, recorded now."""
    Contraindication.objects.get_or_create(
        code="seizures", defaults={"label": SEIZURES, "kind": Contraindication.Kind.SEIZURE_HISTORY}
    )
    Patient.objects.filter(pk=patient.pk).update(seizure_history=True)


def _waiting_on_an_active_course(clinic):
    plan = clinic.plan()
    clinic.book(plan, [FIRST_SESSION])
    plan.refresh_from_db()
    assert plan.status == PlanStatus.ACTIVE
    return plan, _waiting(clinic, patient=plan.patient)


def _cancelled(clinic):
    freed = _single(clinic, PatientFactory(home_site=clinic.site), FREED_AT)
    services.appointment_cancel(appointment=freed, actor=clinic.front_desk.user, reason="Flu", now=NOW)
    return freed


def _offer_then_record_seizures(clinic, *, on_a_course: bool) -> WaitlistOffer:
    freed = _single(clinic, PatientFactory(home_site=clinic.site), FREED_AT)
    entry = _waiting_on_an_active_course(clinic)[1] if on_a_course else _waiting(clinic)
    services.appointment_cancel(appointment=freed, actor=clinic.front_desk.user, reason="Flu", now=NOW)
    waitlist_offer_freed_slot(appointment_id=freed.pk, now=NOW, send=False)
    offer = WaitlistOffer.objects.get(entry=entry)
    _record_seizures(entry.patient)
    return offer


def test_a_course_under_way_whose_screening_now_stops_booking_is_not_offered_the_freed_chair(clinic):
    plan, flagged = _waiting_on_an_active_course(clinic)
    fine = _waiting(clinic)
    _record_seizures(plan.patient)
    freed = _cancelled(clinic)
    with pytest.raises(NotEligible, match=SEIZURES):  # what booking says to the task's matching
        services.appointment_book(
            patient=plan.patient,
            plan=plan,
            site=clinic.site,
            starts_at=FREED_AT,
            chair=freed.chair,
            actor=None,
            now=NOW,
        )
    assert [entry.pk for entry in waitlist_matches(freed=freed, now=NOW)] == [fine.pk]
    waitlist_offer_freed_slot(appointment_id=freed.pk, now=NOW, send=False)
    assert not WaitlistOffer.objects.filter(entry=flagged).exists()


def test_a_patient_without_a_plan_whose_screening_stops_a_single_session_is_not_offered_the_freed_chair(clinic):
    flagged = _waiting(clinic)
    fine = _waiting(clinic)
    _record_seizures(flagged.patient)
    freed = _cancelled(clinic)
    assert [entry.pk for entry in waitlist_matches(freed=freed, now=NOW)] == [fine.pk]


@pytest.mark.parametrize("on_a_course", [True, False], ids=["on-a-course", "without-a-plan"])
def test_the_accept_link_of_a_patient_flagged_since_the_offer_asks_them_to_call_without_the_reasons(
    client, clinic, on_a_course
):
    offer = _offer_then_record_seizures(clinic, on_a_course=on_a_course)
    response = client.post(reverse("web:waitlist-accept-link", args=[make_accept_token(offer)]))
    html = response.content.decode()
    assert response.status_code == 409
    # The link is no login (a forwarded mail, a shared phone): the page holds no health data.
    assert SEIZURES not in html and "screening" not in html
    assert "The clinic needs to speak with you" in html
    assert "cannot be booked online" in html
    assert "taken" not in html
    assert not Appointment.objects.filter(patient=offer.entry.patient, starts_at=FREED_AT).exists()
    offer.refresh_from_db()
    assert offer.status == WaitlistOfferStatus.OPEN  # the desk still sees it, and may call


def test_the_front_desk_accepting_for_a_patient_flagged_since_the_offer_is_sent_to_a_clinician(clinic):
    offer = _offer_then_record_seizures(clinic, on_a_course=True)
    with pytest.raises(NotEligible, match="needs a prescriber's decision") as refused:
        waitlist_offer_accept(offer=offer, actor=clinic.front_desk.user, now=NOW)
    assert SEIZURES not in refused.value.message
    assert not Appointment.objects.filter(patient=offer.entry.patient, starts_at=FREED_AT).exists()


def test_a_prescriber_accepting_for_a_patient_flagged_since_the_offer_reads_why(clinic):
    offer = _offer_then_record_seizures(clinic, on_a_course=True)
    with pytest.raises(NotEligible, match=SEIZURES):
        waitlist_offer_accept(offer=offer, actor=clinic.prescriber.user, now=NOW)
