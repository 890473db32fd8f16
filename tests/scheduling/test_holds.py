"""Holds (FHIR $hold): a held session occupies chair, nurse and patient like a booking,
sends nothing, and lapses by itself; the beat task releases lapsed holds."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import IntegrityError, transaction

from scheduling import signals
from scheduling.errors import BookingConflict
from scheduling.models import Appointment, AppointmentStatus
from scheduling.selectors import booking_snapshot, sites_with_schedule
from scheduling.services import appointment_book, appointment_book_held, appointment_cancel, holds_release_expired
from scheduling.tasks import release_expired_holds
from tests.factories import PatientFactory
from tests.scheduling.conftest import NOW
from tests.scheduling.holds_support import AT, UNTIL, book, hold, several_setups_at_once  # noqa: F401  (the fixture)

pytestmark = pytest.mark.usefixtures("several_setups_at_once")


def test_a_hold_blocks_its_chair_in_the_database_and_sends_nothing(clinic):
    held = hold(clinic)
    assert held.status == AppointmentStatus.HELD and held.hold_expires_at == UNTIL
    assert not held.reminders.exists()
    with pytest.raises(IntegrityError), transaction.atomic():
        Appointment.objects.create(
            patient=PatientFactory(home_site=clinic.site),
            site=clinic.site,
            chair=clinic.chairs[0],
            starts_at=AT,
            ends_at=AT + dt.timedelta(hours=1),
        )


def test_a_hold_is_busy_time_in_the_engines_snapshot_and_refuses_a_booking(clinic):
    held = hold(clinic)
    site = sites_with_schedule().get(pk=clinic.site.pk)
    snapshot, busy = booking_snapshot(site=site, start=AT, end=AT + dt.timedelta(hours=2), patient=held.patient)
    chair = next(c for c in snapshot.chairs if c.id == clinic.chairs[0].pk)
    assert [s.start for s in chair.busy] == [AT]
    assert [s.start for s in busy] == [AT]
    with pytest.raises(BookingConflict):
        hold(clinic, chair=clinic.chairs[0])


def test_booking_a_hold_schedules_its_reminders_and_a_retry_is_harmless(clinic):
    held = hold(clinic)
    booked = appointment_book_held(appointment=held, actor=clinic.front_desk.user, now=NOW)
    assert booked.status == AppointmentStatus.BOOKED and booked.reminders.exists()
    assert appointment_book_held(appointment=held, actor=clinic.front_desk.user, now=NOW).pk == held.pk


def test_a_hold_is_booked_only_by_the_user_who_holds_it(clinic):
    held = hold(clinic)  # by the front desk

    with pytest.raises(BookingConflict) as refused:
        appointment_book_held(appointment=held, actor=clinic.prescriber.user, now=NOW)

    assert refused.value.details["reason"] == "held_by_another_user"
    held.refresh_from_db()
    assert held.status == AppointmentStatus.HELD, "another user booked the front desk's hold"
    booked = appointment_book_held(appointment=held, actor=clinic.front_desk.user, now=NOW)
    assert booked.status == AppointmentStatus.BOOKED and booked.booked_by == clinic.front_desk.user
    with pytest.raises(BookingConflict):  # nor is it answered as booked to another user's retry
        appointment_book_held(appointment=held, actor=clinic.prescriber.user, now=NOW)


def test_a_lapsed_hold_cannot_be_booked(clinic):
    held = hold(clinic)
    expired = "The hold has expired; find a new time and hold it again."
    with pytest.raises(BookingConflict, match=expired):
        appointment_book_held(appointment=held, actor=clinic.front_desk.user, now=UNTIL)
    holds_release_expired(now=UNTIL)  # swept: still a lapse, not a release
    with pytest.raises(BookingConflict, match=expired):
        appointment_book_held(appointment=held, actor=clinic.front_desk.user, now=UNTIL)


def test_an_appointment_booked_directly_is_refused_as_never_a_hold_not_as_expired(clinic):
    booked = book(clinic)
    with pytest.raises(BookingConflict) as refused:
        appointment_book_held(appointment=booked, actor=clinic.front_desk.user, now=NOW)
    assert refused.value.details == {"reason": "not_a_hold", "status": AppointmentStatus.BOOKED}
    assert "never a hold (it is booked)" in refused.value.message
    booked.refresh_from_db()
    assert booked.status == AppointmentStatus.BOOKED


def test_a_hold_cancelled_before_it_lapsed_is_refused_as_released_with_the_reason(clinic):
    held = hold(clinic)
    appointment_cancel(appointment=held, actor=clinic.front_desk.user, reason="EHR let go.", now=NOW)

    with pytest.raises(BookingConflict) as refused:
        appointment_book_held(appointment=held, actor=clinic.front_desk.user, now=NOW)

    assert refused.value.message == "The hold was released: EHR let go. Find a new time and hold it again."
    assert refused.value.details == {"reason": "hold_released", "status": AppointmentStatus.CANCELLED}


def test_a_hold_booked_and_then_cancelled_is_refused_as_cancelled_not_released(clinic):
    held = hold(clinic)
    appointment_book_held(appointment=held, actor=clinic.front_desk.user, now=NOW)
    appointment_cancel(appointment=held, actor=clinic.front_desk.user, reason="Patient is unwell", now=NOW)

    with pytest.raises(BookingConflict) as refused:
        appointment_book_held(appointment=held, actor=clinic.front_desk.user, now=NOW)

    assert refused.value.message == (
        "The held time was booked and has since been cancelled: Patient is unwell. Find a new time and hold it again."
    )


def test_the_sweep_releases_only_lapsed_holds(clinic, time_machine):
    lapsed = hold(clinic)
    later = appointment_book(
        patient=PatientFactory(home_site=clinic.site),
        site=clinic.site,
        starts_at=AT,
        actor=clinic.front_desk.user,
        now=NOW,
        chair=clinic.chairs[1],
        nurse=clinic.nurses[0],
        hold_until=UNTIL + dt.timedelta(minutes=5),
    )
    time_machine.move_to(UNTIL, tick=False)
    assert release_expired_holds() == 1
    lapsed.refresh_from_db()
    later.refresh_from_db()
    assert lapsed.status == AppointmentStatus.CANCELLED and lapsed.cancelled_at == UNTIL
    assert later.status == AppointmentStatus.HELD
    assert holds_release_expired(now=UNTIL) == 0


def test_cancelling_a_hold_releases_it_without_a_cancellation_notice(clinic):
    held = hold(clinic)
    outcome = appointment_cancel(appointment=held, actor=clinic.front_desk.user, reason="EHR let go", now=NOW)
    assert outcome.appointment.status == AppointmentStatus.CANCELLED
    assert outcome.course == "The hold was released."
    assert not held.reminders.exists()


def test_a_hold_announces_nothing_until_it_is_booked(clinic):
    heard: list[tuple[str, list[int]]] = []

    def listen(signal_name):
        def receiver(sender, appointments, actor, **kwargs):
            heard.append((signal_name, [a.pk for a in appointments]))

        return receiver

    receivers = {name: listen(name) for name in ("booked", "cancelled")}
    signals.appointment_booked.connect(receivers["booked"], sender=Appointment)
    signals.appointment_cancelled.connect(receivers["cancelled"], sender=Appointment)
    try:
        held = hold(clinic)
        released = appointment_book(
            patient=PatientFactory(home_site=clinic.site),
            site=clinic.site,
            starts_at=AT,
            actor=clinic.front_desk.user,
            now=NOW,
            chair=clinic.chairs[1],
            nurse=clinic.nurses[0],
            hold_until=UNTIL,
        )
        appointment_cancel(appointment=released, actor=clinic.front_desk.user, reason="EHR let go", now=NOW)
        assert heard == []
        appointment_book_held(appointment=held, actor=clinic.front_desk.user, now=NOW)
        assert heard == [("booked", [held.pk])]
    finally:
        signals.appointment_booked.disconnect(receivers["booked"], sender=Appointment)
        signals.appointment_cancelled.disconnect(receivers["cancelled"], sender=Appointment)
