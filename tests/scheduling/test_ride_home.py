"""Who drives the patient home (Appointment.ride_home): the patient must not drive after a
session, so the desk records the driver (services.appointment_set_ride)."""

from __future__ import annotations

import datetime as dt

import pytest

from clinic.errors import InvalidInput, InvalidState
from clinic.models import Role
from clinic.permissions import OutsideYourSites
from scheduling.models import Appointment, AppointmentStatus
from scheduling.services import appointment_set_ride
from tests.factories import AppointmentFactory, PatientFactory, SiteFactory, StaffFactory, UserFactory
from tests.scheduling.conftest import NOW

pytestmark = pytest.mark.django_db


def _session(clinic, status: str = AppointmentStatus.BOOKED, **extra) -> Appointment:
    return AppointmentFactory(
        patient=PatientFactory(home_site=clinic.site), chair=clinic.chairs[0], status=status, **extra
    )


def _history_reasons(appointment: Appointment) -> list[str]:
    return [row.history_change_reason or "" for row in appointment.history.all()]


def test_the_desk_records_who_drives_the_patient_home_with_history(clinic):
    session = _session(clinic)
    recorded = appointment_set_ride(
        appointment=session, ride_home="  Sam Archer (partner)  ", actor=clinic.front_desk.user, now=NOW
    )
    session.refresh_from_db()
    assert recorded.ride_home == session.ride_home == "Sam Archer (partner)"
    latest = session.history.first()
    assert latest.history_change_reason == "Ride home recorded"
    assert latest.history_user == clinic.front_desk.user


def test_a_changed_driver_replaces_the_one_on_record(clinic):
    session = _session(clinic, ride_home="Taxi")
    appointment_set_ride(appointment=session, ride_home="Mum", actor=clinic.front_desk.user, now=NOW)
    session.refresh_from_db()
    assert session.ride_home == "Mum"


def test_recording_the_same_driver_again_changes_nothing(clinic):
    session = _session(clinic)
    appointment_set_ride(appointment=session, ride_home="Mum", actor=clinic.front_desk.user, now=NOW)
    rows = session.history.count()
    again = appointment_set_ride(appointment=session, ride_home=" Mum ", actor=clinic.front_desk.user, now=NOW)
    assert again.ride_home == "Mum"
    assert session.history.count() == rows


@pytest.mark.parametrize("text", ["", "   ", "\t\n"])
def test_an_empty_driver_is_refused(clinic, text):
    session = _session(clinic)
    with pytest.raises(InvalidInput) as refused:
        appointment_set_ride(appointment=session, ride_home=text, actor=clinic.front_desk.user, now=NOW)
    assert refused.value.details == {"field": "ride_home"}
    assert "who drives the patient home" in refused.value.message


def test_a_driver_over_120_characters_is_refused_and_120_is_kept(clinic):
    session = _session(clinic)
    with pytest.raises(InvalidInput) as refused:
        appointment_set_ride(appointment=session, ride_home="x" * 121, actor=clinic.front_desk.user, now=NOW)
    assert refused.value.details == {"field": "ride_home"}
    assert "120" in refused.value.message
    appointment_set_ride(appointment=session, ride_home="y" * 120, actor=clinic.front_desk.user, now=NOW)
    session.refresh_from_db()
    assert session.ride_home == "y" * 120


@pytest.mark.parametrize(
    "status",
    [AppointmentStatus.BOOKED, AppointmentStatus.CONFIRMED, AppointmentStatus.CHECKED_IN, AppointmentStatus.IN_CHAIR],
)
def test_a_ride_is_recorded_for_an_upcoming_or_arrived_session(clinic, status):
    session = _session(clinic, status=status)
    appointment_set_ride(appointment=session, ride_home="Dana", actor=clinic.nurses[0].user, now=NOW)
    session.refresh_from_db()
    assert session.ride_home == "Dana" and session.status == status


@pytest.mark.parametrize(
    ("status", "named"),
    [
        (AppointmentStatus.CANCELLED, "cancelled"),
        (AppointmentStatus.NO_SHOW, "no-show"),
        (AppointmentStatus.COMPLETED, "completed"),
        (AppointmentStatus.HELD, "held"),
    ],
)
def test_a_ride_is_refused_for_a_session_that_is_over_or_not_booked(clinic, status, named):
    # What the table's constraints ask of a cancelled and of a held row.
    extra = {
        AppointmentStatus.CANCELLED: {"cancelled_at": NOW, "cancellation_reason": "Flu"},
        AppointmentStatus.HELD: {"hold_expires_at": NOW + dt.timedelta(minutes=5)},
    }.get(status, {})
    session = _session(clinic, status=status, **extra)
    with pytest.raises(InvalidState) as refused:
        appointment_set_ride(appointment=session, ride_home="Dana", actor=clinic.front_desk.user, now=NOW)
    assert named in refused.value.message
    assert refused.value.details == {"status": status}
    session.refresh_from_db()
    assert session.ride_home == ""


def test_staff_of_another_site_cannot_record_a_ride(clinic):
    elsewhere = StaffFactory(user=UserFactory(username="elsewhere_desk"), role=Role.FRONT_DESK, sites=[SiteFactory()])
    session = _session(clinic)
    with pytest.raises(OutsideYourSites):
        appointment_set_ride(appointment=session, ride_home="Dana", actor=elsewhere.user, now=NOW)
    session.refresh_from_db()
    assert session.ride_home == ""
