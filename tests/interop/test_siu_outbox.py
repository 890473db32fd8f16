"""When SIU messages are written: in the booking's own transaction, only for a site whose feed
is on, one per session of a course; and what the feed costs a booking when it is off."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from django.db import connection, transaction
from django.http import HttpRequest
from django.test.utils import CaptureQueriesContext

from interop.models import SiuMessage, SiuReceiver, SiuStatus
from interop.siu import outbox
from interop.siu.delivery import siu_deliver_due
from interop.siu.outbox import forget_receivers
from scheduling import services, signals
from scheduling.errors import BookingConflict
from scheduling.models import Appointment, Phase
from tests.clinical_helpers import record_session_for_completion
from tests.factories import PASSWORD, PatientFactory, SiteFactory, UserFactory
from tests.scheduling.conftest import NOW, START, make_clinic


def _single(clinic, *, hour: int, patient=None):
    return services.appointment_book(
        patient=patient or PatientFactory(home_site=clinic.site),
        site=clinic.site,
        starts_at=dt.datetime(2026, 3, 3, hour, tzinfo=dt.UTC),
        actor=clinic.front_desk.user,
        now=NOW,
        chair=clinic.chairs[0],
        nurse=clinic.nurses[0],
    )


@pytest.mark.django_db
def test_with_the_feed_off_a_booking_writes_nothing_and_takes_the_same_statements(travel):
    forget_receivers()
    clinic = make_clinic()
    # Another site's feed is on; this one's is not.
    SiuReceiver.objects.create(site=SiteFactory(), host="127.0.0.1", port=9)
    _single(clinic, hour=14)  # warms per-process caches, as a running server has them
    with CaptureQueriesContext(connection) as feed_off:
        _single(clinic, hour=16)
    signals.appointment_booked.disconnect(sender=Appointment, dispatch_uid="interop.siu.S12")
    try:
        with CaptureQueriesContext(connection) as no_feed_at_all:
            _single(clinic, hour=18)
    finally:
        from interop.siu.receivers import _write_outbox

        signals.appointment_booked.connect(_write_outbox, sender=Appointment, dispatch_uid="interop.siu.S12")
    assert [q["sql"].split()[0] for q in feed_off] == [q["sql"].split()[0] for q in no_feed_at_all]
    assert len(feed_off) == len(no_feed_at_all)
    assert not SiuMessage.objects.exists()


@pytest.mark.django_db
def test_a_disabled_receiver_means_the_feed_is_off(feed):
    feed.receiver.enabled = False
    feed.receiver.save(update_fields=["enabled"])
    _single(feed.clinic, hour=15)
    assert not SiuMessage.objects.exists()


@pytest.mark.django_db
def test_a_rolled_back_booking_writes_no_message(feed):
    with pytest.raises(RuntimeError), transaction.atomic():
        _single(feed.clinic, hour=15)
        assert SiuMessage.objects.count() == 1
        raise RuntimeError("the caller's transaction fails after the booking")
    assert not SiuMessage.objects.exists()


@pytest.mark.django_db
def test_a_refused_booking_writes_no_message(feed):
    _single(feed.clinic, hour=15)
    with pytest.raises(BookingConflict):
        _single(feed.clinic, hour=15)
    assert SiuMessage.objects.count() == 1


@pytest.mark.django_db
def test_a_course_queues_one_delivery_when_it_commits(feed, django_capture_on_commit_callbacks, monkeypatch):
    queued = []
    monkeypatch.setattr(outbox, "queue_delivery", lambda: queued.append("siu_deliver"))
    plan = feed.clinic.plan()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        booked = services.course_book(plan=plan, actor=feed.clinic.front_desk.user, now=NOW, start_date=START)
    assert SiuMessage.objects.filter(event="S12").count() == len(booked) == 6
    assert [c for c in callbacks if c is outbox.kick_delivery] == [outbox.kick_delivery]
    assert len(queued) == 1


@pytest.mark.django_db
def test_a_maintenance_interval_change_reports_moves_and_status_changes(feed):
    clinic = feed.clinic
    plan = clinic.plan()
    booked = services.course_book(plan=plan, actor=clinic.front_desk.user, now=NOW, start_date=START)
    for session in booked:
        services.appointment_check_in(appointment=session, actor=None, now=session.starts_at)
        record_session_for_completion(session)
        services.appointment_complete(appointment=session, actor=None, now=session.ends_at)
    events = list(SiuMessage.objects.filter(appointment=booked[0]).order_by("sequence").values_list("event", flat=True))
    # Booked, checked in, in the chair (recording the administration puts it there), completed.
    assert events == ["S12", "S14", "S14", "S14"]
    maintenance = list(plan.appointments.filter(phase=Phase.MAINTENANCE).order_by("starts_at"))
    assert maintenance and all(SiuMessage.objects.filter(appointment=a, event="S12").exists() for a in maintenance)
    replan = services.plan_change_interval(
        plan=plan, days=35, reason="Relief lasts five weeks", actor=clinic.prescriber.user, now=booked[-1].ends_at
    )
    assert replan.moved
    for appointment, _old in replan.moved:
        last = SiuMessage.objects.filter(appointment=appointment).latest("sequence")
        assert last.event == "S13"
        appointment.refresh_from_db()
        local = appointment.starts_at.astimezone(clinic.site.zone).strftime("%Y%m%d%H%M")
        assert f"^^^{local}" in last.payload
    for appointment in replan.released:
        assert SiuMessage.objects.filter(appointment=appointment).latest("sequence").event == "S15"


@pytest.mark.django_db
def test_the_admin_lists_parked_messages_and_requeues_them(feed, client, listener):
    appointment = _single(feed.clinic, hour=15)
    message = SiuMessage.objects.get(appointment=appointment)
    SiuMessage.objects.filter(pk=message.pk).update(status=SiuStatus.PARKED, attempts=10, last_error="AE bad PID")
    admin = UserFactory(username="root", is_staff=True, is_superuser=True)
    assert client.login(request=HttpRequest(), username=admin.username, password=PASSWORD)
    page = client.get("/admin/interop/siumessage/", {"status__exact": "parked"})
    assert page.status_code == 200 and message.control_id in page.content.decode()
    assert (
        message.control_id not in client.get("/admin/interop/siumessage/", {"status__exact": "sent"}).content.decode()
    )
    response = client.post(
        "/admin/interop/siumessage/", {"action": "requeue", "_selected_action": [message.pk]}, follow=True
    )
    assert response.status_code == 200
    message.refresh_from_db()
    assert message.status == SiuStatus.PENDING and message.attempts == 0
    assert siu_deliver_due(now=NOW).sent == 1
    assert client.get("/admin/interop/siureceiver/").status_code == 200


@pytest.mark.django_db(transaction=True)
def test_two_workers_at_once_never_send_the_same_message(listener, monkeypatch):
    monkeypatch.setattr(outbox, "queue_delivery", lambda: None)
    forget_receivers()
    clinic = make_clinic()
    SiuReceiver.objects.create(site=clinic.site, host="127.0.0.1", port=listener.port, ack_timeout_seconds=5)
    for day in (3, 4, 5):
        for hour in (14, 17):
            services.appointment_book(
                patient=PatientFactory(home_site=clinic.site),
                site=clinic.site,
                starts_at=dt.datetime(2026, 3, day, hour, tzinfo=dt.UTC),
                actor=clinic.front_desk.user,
                now=NOW,
                chair=clinic.chairs[0],
                nurse=clinic.nurses[0],
            )
    listener.delay = 0.1
    start = threading.Barrier(2)
    errors = []

    def worker():
        try:
            start.wait()
            siu_deliver_due(now=NOW + dt.timedelta(days=400), batch_size=2)
        except Exception as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not errors
    assert len(listener.received) == 6 and len(set(listener.control_ids())) == 6
    assert SiuMessage.objects.filter(status=SiuStatus.SENT).count() == 6
    forget_receivers()


@pytest.mark.django_db
def test_a_waitlist_acceptance_that_brings_a_session_forward_is_a_move(
    feed, django_capture_on_commit_callbacks, monkeypatch
):
    from scheduling.models import WaitlistOffer
    from scheduling.services.waitlist import waitlist_add, waitlist_offer_accept

    monkeypatch.setattr(outbox, "queue_delivery", lambda: None)
    clinic = feed.clinic
    freed = _single(clinic, hour=15)
    patient = PatientFactory(home_site=clinic.site)
    later = services.appointment_book(
        patient=patient,
        site=clinic.site,
        starts_at=dt.datetime(2026, 3, 20, 14, tzinfo=dt.UTC),
        actor=clinic.front_desk.user,
        now=NOW,
        chair=clinic.chairs[1],
    )
    entry = waitlist_add(
        patient=patient,
        site=clinic.site,
        earliest_date=dt.date(2026, 3, 2),
        latest_date=None,
        actor=clinic.front_desk.user,
        now=NOW,
        replaces=later,
    )
    with django_capture_on_commit_callbacks(execute=True):
        services.appointment_cancel(appointment=freed, actor=clinic.front_desk.user, reason="Flu", now=NOW)
    waitlist_offer_accept(offer=WaitlistOffer.objects.get(entry=entry), actor=clinic.front_desk.user, now=NOW)
    assert list(SiuMessage.objects.filter(appointment=freed).order_by("sequence").values_list("event", flat=True)) == [
        "S12",
        "S15",
    ]
    assert list(SiuMessage.objects.filter(appointment=later).order_by("sequence").values_list("event", flat=True)) == [
        "S12",
        "S13",
    ]


@pytest.mark.django_db
def test_a_receiver_turned_off_by_another_process_turns_the_feed_off_not_the_booking(feed):
    outbox.enabled_receivers()  # this process's map still names the receiver ...
    SiuReceiver.objects.filter(pk=feed.receiver.pk).update(enabled=False)  # ... turned off elsewhere
    assert outbox.enabled_receivers() == {feed.clinic.site.pk: feed.receiver.pk}
    appointment = _single(feed.clinic, hour=15)
    assert appointment.pk and not SiuMessage.objects.exists()


@pytest.mark.django_db
def test_a_receiver_moved_to_another_site_by_another_process_never_gets_this_sites_patients(feed):
    outbox.enabled_receivers()  # this process's map still names the receiver for the clinic's site ...
    other_site = SiteFactory()
    SiuReceiver.objects.filter(pk=feed.receiver.pk).update(site=other_site)  # ... moved elsewhere
    appointment = _single(feed.clinic, hour=15)
    wrong = SiuMessage.objects.filter(appointment=appointment, receiver__site=other_site)
    assert not wrong.exists(), "a booking at one site was queued to another site's receiver"
