"""Reads of what overlaps a window bound `starts_at` on both sides; that is only
right because the database refuses sessions and shifts longer than the bound."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext

from clinic.models import MAX_SHIFT_LENGTH, Shift
from scheduling.engine.wallclock import day_bounds
from scheduling.models import MAX_SESSION_LENGTH
from scheduling.selectors import booking_snapshot, sites_with_schedule
from tests.factories import AppointmentFactory, PatientFactory
from tests.scheduling.conftest import START, make_clinic


@pytest.mark.django_db
def test_database_refuses_a_session_longer_than_the_maximum():
    start = dt.datetime(2026, 3, 2, 15, tzinfo=dt.UTC)
    AppointmentFactory(starts_at=start, ends_at=start + MAX_SESSION_LENGTH)
    with pytest.raises(IntegrityError) as caught, transaction.atomic():
        AppointmentFactory(starts_at=start, ends_at=start + MAX_SESSION_LENGTH + dt.timedelta(minutes=1))
    assert caught.value.__cause__.diag.constraint_name == "appointment_at_most_max_length"


@pytest.mark.django_db
def test_database_refuses_a_shift_longer_than_the_maximum():
    clinic = make_clinic(days=1)
    start = dt.datetime(2026, 4, 1, 6, tzinfo=dt.UTC)
    with pytest.raises(IntegrityError) as caught, transaction.atomic():
        Shift.objects.create(
            staff=clinic.nurses[0],
            site=clinic.site,
            starts_at=start,
            ends_at=start + MAX_SHIFT_LENGTH + dt.timedelta(minutes=1),
        )
    assert caught.value.__cause__.diag.constraint_name == "shift_at_most_max_length"


@pytest.mark.django_db
def test_snapshot_sees_the_longest_session_and_shift_reaching_into_the_window():
    clinic = make_clinic(days=0)
    site = sites_with_schedule().get(pk=clinic.site.pk)
    patient = PatientFactory(home_site=site)
    window_start, window_end = day_bounds(START, site.zone)
    tick = dt.timedelta(minutes=1)
    # Started as early as allowed and still running when the window opens.
    long_session = AppointmentFactory(
        patient=patient,
        chair=clinic.chairs[0],
        nurse=clinic.nurses[0],
        starts_at=window_start + tick - MAX_SESSION_LENGTH,
        ends_at=window_start + tick,
    )
    Shift.objects.create(
        staff=clinic.nurses[0], site=site, starts_at=window_start + tick - MAX_SHIFT_LENGTH, ends_at=window_start + tick
    )
    # Ended just as the window opens: not in it.
    AppointmentFactory(chair=clinic.chairs[1], starts_at=window_start - dt.timedelta(hours=2), ends_at=window_start)
    # The connection prepares the snapshot's statement on first use (two statements more, once per
    # connection): read once first, so the count below does not depend on which test ran before.
    booking_snapshot(site=site, start=window_start, end=window_end, patient=patient)
    with CaptureQueriesContext(connection) as queries:
        snapshot, busy = booking_snapshot(site=site, start=window_start, end=window_end, patient=patient)
    chair = next(c for c in snapshot.chairs if c.id == clinic.chairs[0].pk)
    nurse = next(n for n in snapshot.nurses if n.id == clinic.nurses[0].pk)
    assert [s.start for s in chair.busy] == [long_session.starts_at]
    assert [s.start for s in busy] == [long_session.starts_at]
    assert [s.start for s in nurse.booked] == [long_session.starts_at]
    assert len(nurse.shifts) == 1
    assert not next(c for c in snapshot.chairs if c.id == clinic.chairs[1].pk).busy
    assert len(queries) == 2  # chairs, then closures + shifts + appointments in one
