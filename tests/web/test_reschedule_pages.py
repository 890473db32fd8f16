"""Patients moving their own session within the clinic's rules: the notice period
(the reminder policy's patient_notice_hours) and the protocol's spacing."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.urls import reverse

from clinic.models import ReminderPolicy
from patients.models import Contraindication, Patient
from scheduling.models import Appointment, Phase, TreatmentPlan
from scheduling.services import appointment_book, appointment_move
from tests.web.conftest import NOW, login, make_patient
from web import reschedule

pytestmark = pytest.mark.django_db
NY = ZoneInfo("America/New_York")


def _url(appointment) -> str:
    return reverse("web:portal-reschedule", args=[appointment.pk])


def _times(response):
    return [slot for day in response.context["days"] for slot in day["times"]]


def _post(client, appointment, response, slot):
    return client.post(
        _url(appointment),
        {
            "first_day": response.context["search"].data["first_day"],
            "last_day": response.context["search"].data["last_day"],
            "slot": f"{slot.start.isoformat()}|{slot.chair_id}",
        },
    )


def test_the_portal_offers_to_change_the_time_and_moves_the_session_to_an_allowed_time(client, web):
    last = web.sessions_a[-1]
    login(client, web.patient_a.user)
    assert _url(last) in client.get(reverse("home")).content.decode()
    response = client.get(_url(last))
    assert response.status_code == 200
    times = _times(response)
    assert times and all(slot.start != last.starts_at for slot in times)
    target = times[-1]
    moved = client.post(
        _url(last),
        {
            "first_day": response.context["search"].data["first_day"],
            "last_day": response.context["search"].data["last_day"],
            "slot": f"{target.start.isoformat()}|{target.chair_id}",
        },
    )
    assert moved.status_code == 302 and moved["Location"] == reverse("home")
    last.refresh_from_db()
    assert last.starts_at == target.start
    assert last.history.first().history_user == web.patient_a.user
    assert "Your session has moved from" in client.get(reverse("home")).content.decode()


def test_times_that_break_the_protocols_spacing_are_not_offered_and_are_refused_when_forged(client, web):
    second, third = web.sessions_a[1], web.sessions_a[2]
    login(client, web.patient_a.user)
    response = client.get(_url(second), {"first_day": "2026-03-02", "last_day": "2026-03-08"})
    assert all(abs(slot.start - third.starts_at) >= dt.timedelta(hours=48) for slot in _times(response))
    forged = third.starts_at - dt.timedelta(hours=24)
    refused = client.post(
        _url(second),
        {
            "first_day": "2026-03-02",
            "last_day": "2026-03-08",
            "slot": f"{forged.isoformat()}|{web.clinic.chairs[2].pk}",
        },
    )
    assert refused.status_code == 409
    assert "less than 48 hours from session" in refused.content.decode()
    second.refresh_from_db()
    assert second.starts_at == web.sessions_a[1].starts_at


def test_inside_the_notice_period_the_patient_is_asked_to_call(client, web):
    first = web.sessions_a[0]  # 2 March 13:00 UTC; the policy wants 24 hours' notice
    with time_machine.travel(first.starts_at - dt.timedelta(hours=20), tick=False):
        login(client, web.patient_a.user)  # signed in then: days earlier the idle sign-out would have ended it
        page = client.get(_url(first)).content.decode()
        assert "can no longer be changed online" in page and "call" in page
        assert client.post(_url(first), {"slot": "x"}).status_code == 409
    first.refresh_from_db()
    assert first.starts_at == web.sessions_a[0].starts_at


def test_a_new_time_inside_the_notice_period_is_refused(client, web):
    last = web.sessions_a[-1]
    login(client, web.patient_a.user)
    soon = NOW + dt.timedelta(hours=3)
    response = client.post(
        _url(last),
        {"first_day": "2026-02-27", "last_day": "2026-03-05", "slot": f"{soon.isoformat()}|{web.clinic.chairs[0].pk}"},
    )
    assert response.status_code == 409
    assert "less than 24 hours away cannot be booked online" in response.content.decode()


def test_another_patients_session_is_not_found_and_staff_are_refused(client, web):
    login(client, web.patient_b.user)
    assert client.get(_url(web.sessions_a[-1])).status_code == 404
    assert client.post(_url(web.sessions_a[-1]), {"slot": "x"}).status_code == 404
    client.logout()
    login(client, web.desk.user)
    assert client.get(_url(web.sessions_a[-1])).status_code == 403


def test_the_portal_moves_a_session_to_the_chosen_time_on_the_chair_the_policy_takes(client, web):
    # The patient picks a time; the chair sent with it (a forged or stale one here: the third
    # chair) is not the patient's to choose. The booking service places the session by the
    # site's policy at that time, on a chair free then.
    last = web.sessions_a[-1]
    login(client, web.patient_a.user)
    response = client.get(_url(last))
    target = _times(response)[-1]
    forged_chair = next(c for c in web.clinic.chairs if c.pk != target.chair_id)
    moved = client.post(
        _url(last),
        {
            "first_day": response.context["search"].data["first_day"],
            "last_day": response.context["search"].data["last_day"],
            "slot": f"{target.start.isoformat()}|{forged_chair.pk}",
        },
    )

    assert moved.status_code == 302
    last.refresh_from_db()
    assert last.starts_at == target.start
    assert last.chair_id == target.chair_id  # the policy's chair at that time (earliest: the first free)


def test_a_patient_whose_screening_now_stops_booking_is_offered_no_time_and_cannot_move_their_session(client, web):
    last = web.sessions_a[-1]
    before = last.starts_at
    login(client, web.patient_a.user)
    page = client.get(_url(last))
    target = _times(page)[-1]
    Contraindication.objects.get_or_create(
        code="seizures", defaults={"label": "History of seizures", "kind": Contraindication.Kind.SEIZURE_HISTORY}
    )
    Patient.objects.filter(pk=web.patient_a.pk).update(seizure_history=True)

    moved = _post(client, last, page, target)
    shown = client.get(_url(last))

    last.refresh_from_db()
    assert last.starts_at == before, "moved to a new time that booking refuses"
    assert moved.status_code == 409 and shown.status_code == 200
    assert "days" not in shown.context, "times were offered to a patient the screening stops"
    assert "the clinic needs to speak with you first" in shown.content.decode()
    assert "seizures" not in shown.content.decode()


def test_a_patient_whose_screening_changed_after_the_check_is_asked_to_call(client, web, monkeypatch):
    last = web.sessions_a[-1]
    login(client, web.patient_a.user)
    page = client.get(_url(last))
    Contraindication.objects.get_or_create(
        code="seizures", defaults={"label": "History of seizures", "kind": Contraindication.Kind.SEIZURE_HISTORY}
    )

    def flagged_meanwhile(**kwargs):
        # The flag lands between the page's screening check and the patient's move.
        Patient.objects.filter(pk=web.patient_a.pk).update(seizure_history=True)
        return appointment_move(**kwargs)

    monkeypatch.setattr(reschedule, "appointment_move", flagged_meanwhile)
    moved = _post(client, last, page, _times(page)[-1])

    assert moved.status_code == 409
    assert "the clinic needs to speak with you first" in moved.content.decode()
    assert "seizures" not in moved.content.decode()


def _maintenance_patient_with_a_single_session(web):
    """A patient in maintenance (sessions 21 days apart, 10:00 New York) who also has a single
    infusion (no plan) on Thursday 19 March 10:00."""
    patient = make_patient(web.clinic, "patient_c", "Cara", "Cole")
    plan = web.clinic.plan(patient=patient, maintenance_interval_days=21)
    TreatmentPlan.objects.filter(pk=plan.pk).update(phase=Phase.MAINTENANCE)
    plan.refresh_from_db()
    days = (dt.date(2026, 3, 2), dt.date(2026, 3, 23), dt.date(2026, 4, 13))
    sessions = web.clinic.book(
        plan, [dt.datetime.combine(d, dt.time(10), tzinfo=NY) for d in days], phase=Phase.MAINTENANCE
    )
    single = appointment_book(
        patient=patient,
        site=web.clinic.site,
        starts_at=dt.datetime(2026, 3, 19, 10, tzinfo=NY),
        chair=web.clinic.chairs[1],
        actor=web.desk.user,
        now=NOW,
    )
    return patient, plan, sessions, single


def test_a_maintenance_session_is_kept_the_protocols_gap_from_the_patients_other_infusion(client, web):
    patient, plan, (_, second, _), single = _maintenance_patient_with_a_single_session(web)
    gap = dt.timedelta(hours=plan.protocol.min_gap_hours)
    login(client, patient.user)
    page = client.get(_url(second), {"first_day": "2026-03-16", "last_day": "2026-03-22"})
    assert page.status_code == 200
    too_close = [s for s in _times(page) if abs(s.start - single.starts_at) < gap]
    forged = dt.datetime(2026, 3, 20, 10, tzinfo=NY)  # 24 hours after the single infusion
    moved = client.post(
        _url(second),
        {
            "first_day": "2026-03-16",
            "last_day": "2026-03-22",
            "slot": f"{forged.isoformat()}|{web.clinic.chairs[0].pk}",
        },
    )
    second.refresh_from_db()
    assert too_close == [], f"offered {len(too_close)} times within {plan.protocol.min_gap_hours} hours of an infusion"
    assert second.starts_at == dt.datetime(2026, 3, 23, 10, tzinfo=NY) and moved.status_code == 409
    assert f"less than {plan.protocol.min_gap_hours} hours from the patient&#x27;s infusion" in moved.content.decode()


def test_a_desk_move_into_the_notice_period_while_the_page_was_open_stops_the_patients_move(client, web, monkeypatch):
    last = web.sessions_a[-1]
    login(client, web.patient_a.user)
    page = client.get(_url(last))
    target = _times(page)[-1]
    inside_notice = NOW + dt.timedelta(hours=20)  # the policy wants 24 hours' notice

    def desk_moves_it_first(**kwargs):
        # The desk's move lands between the page's read of the session and the patient's move.
        length = last.ends_at - last.starts_at
        Appointment.objects.filter(pk=last.pk).update(starts_at=inside_notice, ends_at=inside_notice + length)
        return appointment_move(**kwargs)

    monkeypatch.setattr(reschedule, "appointment_move", desk_moves_it_first)
    response = _post(client, last, page, target)

    last.refresh_from_db()
    assert last.starts_at == inside_notice, "a session inside the notice period was moved online"
    assert response.status_code == 409
    assert "less than 24 hours" in response.content.decode()


def test_home_shows_the_default_notice_when_the_sites_policy_is_missing(client, web):
    ReminderPolicy.objects.filter(site=web.clinic.site).delete()
    default_notice = ReminderPolicy._meta.get_field("patient_notice_hours").default
    first = web.sessions_a[0]
    with time_machine.travel(first.starts_at - dt.timedelta(hours=20), tick=False):
        login(client, web.patient_a.user)
        page = client.get(reverse("home")).content.decode()
    assert f"Less than {default_notice} hours to go" in page, "the notice hours are missing from the home page"
