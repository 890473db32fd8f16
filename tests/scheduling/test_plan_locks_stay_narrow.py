"""Booking, cancelling and changing a course lock the plan (and its patient), never the plan's
protocol or site: FOR UPDATE without OF would lock every joined row, so every booking of that
protocol across the clinic, and every one at that site, would wait for each other, and an
administrator with a protocol or the site open in a transaction would stop them all. Recording a
session's vitals does not lock its site either.

Another connection holds the site's and the protocol's rows as an edit of them does (FOR NO KEY
UPDATE: an UPDATE, or the admin's save, takes that lock) while each service runs here with a lock
timeout: a service that asked for them would fail on the timeout."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from django.db import connection, transaction

from clinic.models import Site
from clinical import services as clinical
from scheduling.models import Protocol
from scheduling.services import appointment_cancel, appointment_check_in, course_book, plan_pause
from tests.scheduling.conftest import NOW, START, at_new_york, make_clinic, start_plus

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def site_and_protocol_locked_elsewhere():
    """A function that holds `site`'s and `protocol`'s rows as an edit does, in another connection,
    until the test ends; meanwhile this connection waits at most 2 s for any lock."""
    holding, release = threading.Event(), threading.Event()
    threads = []

    def lock(site: Site, protocol: Protocol) -> None:
        def hold() -> None:
            try:
                with transaction.atomic():
                    list(Site.objects.select_for_update(no_key=True).filter(pk=site.pk))
                    list(Protocol.objects.select_for_update(no_key=True).filter(pk=protocol.pk))
                    holding.set()
                    release.wait(30)
            finally:
                connection.close()

        thread = threading.Thread(target=hold)
        thread.start()
        threads.append(thread)
        assert holding.wait(10)
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = '2s'")

    yield lock
    release.set()
    for thread in threads:
        thread.join(30)
    with connection.cursor() as cursor:
        cursor.execute("SET lock_timeout = 0")


def test_course_and_session_bookings_cancels_and_plan_changes_do_not_wait_for_the_site_or_protocol(
    site_and_protocol_locked_elsewhere,
):
    clinic = make_clinic()
    whole_course, one_session = clinic.plan(), clinic.plan()
    site_and_protocol_locked_elsewhere(clinic.site, clinic.protocol)

    booked = course_book(plan=whole_course, actor=clinic.front_desk.user, now=NOW, start_date=START)
    assert len(booked) == clinic.protocol.induction_session_count
    (single,) = clinic.book(one_session, [at_new_york(start_plus(1), 14)])
    appointment_cancel(appointment=single, actor=clinic.front_desk.user, reason="Unwell", now=NOW)
    paused = plan_pause(plan=whole_course, reason="Travelling", actor=clinic.prescriber.user, now=NOW)
    assert paused.status == "paused"


def test_recording_vitals_does_not_wait_for_the_site(site_and_protocol_locked_elsewhere):
    clinic = make_clinic()
    (session,) = clinic.book(clinic.plan(), [at_new_york(start_plus(1), 10)])
    arrived = session.starts_at - dt.timedelta(minutes=10)
    appointment_check_in(appointment=session, actor=clinic.front_desk.user, now=arrived)
    site_and_protocol_locked_elsewhere(clinic.site, clinic.protocol)
    vitals = clinical.vitals_record(
        appointment=session,
        phase="pre",
        systolic=120,
        diastolic=80,
        heart_rate=70,
        spo2=98,
        actor=clinic.nurses[0].user,
        now=arrived + dt.timedelta(minutes=2),
    )
    assert vitals.pk is not None
