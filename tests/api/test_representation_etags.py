"""Optimistic concurrency outside the plans: each patient, session and configuration row answers
its GET with an ETag (a digest of the representation), and a write to it sent with If-Match is
made only while that tag holds (RFC 9110 §13.1.1), with the row locked from the check to the
commit, so two editors who read the same version cannot both write over each other."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from django.db import connection
from knox.models import AuthToken
from rest_framework.test import APIClient

from clinic.models import AccessLog, Closure
from scheduling.models import Appointment, AppointmentStatus

V1 = "/api/v1"


def _patient_url(world) -> str:
    return f"{V1}/patients/{world.appointment_b.patient_id}/"


def test_a_patient_read_carries_an_etag_and_a_patch_with_it_is_made(world):
    desk = world.client("front_desk")
    read = desk.get(_patient_url(world))
    tag = read["ETag"]
    assert tag.startswith('"') and tag.endswith('"')
    changed = desk.patch(_patient_url(world), {"escort_name": "Sam Lee"}, format="json", HTTP_IF_MATCH=tag)
    assert changed.status_code == 200, changed.content[:300]
    assert changed["ETag"] != tag, "the change is a new version"
    assert desk.get(_patient_url(world))["ETag"] == changed["ETag"], "the answer's tag is the next read's"


def test_a_patch_with_the_tag_of_a_version_someone_changed_is_refused_and_changes_nothing(world):
    desk = world.client("front_desk")
    tag = desk.get(_patient_url(world))["ETag"]
    other = world.client("front_desk").patch(_patient_url(world), {"escort_name": "First Editor"}, format="json")
    assert other.status_code == 200
    late = desk.patch(_patient_url(world), {"escort_name": "Second Editor"}, format="json", HTTP_IF_MATCH=tag)
    assert late.status_code == 412, late.content[:300]
    error = late.json()["error"]
    assert error["code"] == "changed_since_read"
    assert error["details"]["current_etag"] == desk.get(_patient_url(world))["ETag"]
    assert desk.get(_patient_url(world)).json()["escort_name"] == "First Editor"


def test_the_etag_is_the_readers_own_representation(world):
    """Clinicians see the medications, the desk does not: each role's tag is of what it read, and
    each role's tag holds for its own writes."""
    desk_tag = world.client("front_desk").get(_patient_url(world))["ETag"]
    clinician_tag = world.client("prescriber").get(_patient_url(world))["ETag"]
    assert desk_tag != clinician_tag
    changed = world.client("front_desk").patch(
        _patient_url(world), {"escort_name": "Kim"}, format="json", HTTP_IF_MATCH=desk_tag
    )
    assert changed.status_code == 200, changed.content[:300]


@pytest.mark.parametrize(
    ("header", "status"),
    [
        ("", 400),  # names no tag: not read as a condition that fails, nor as no condition
        ("  ,  ", 400),
        ("5f2c", 400),  # not an entity tag (unquoted)
        ('"nope"', 412),
    ],
)
def test_if_match_that_is_empty_or_malformed_is_a_400_and_a_wrong_tag_a_412(world, header, status):
    desk = world.client("front_desk")
    before = desk.get(_patient_url(world)).json()["escort_name"]
    response = desk.patch(_patient_url(world), {"escort_name": "Changed"}, format="json", HTTP_IF_MATCH=header)
    assert response.status_code == status, response.content[:300]
    if status == 400:
        assert "If-Match" in response.json()["error"]["fields"]
    assert desk.get(_patient_url(world)).json()["escort_name"] == before


def test_a_weak_tag_never_matches_and_a_list_holding_the_current_tag_does(world):
    desk = world.client("front_desk")
    tag = desk.get(_patient_url(world))["ETag"]
    weak = desk.patch(_patient_url(world), {"escort_name": "Weak"}, format="json", HTTP_IF_MATCH=f"W/{tag}")
    assert weak.status_code == 412
    listed = desk.patch(_patient_url(world), {"escort_name": "Listed"}, format="json", HTTP_IF_MATCH=f'"old", {tag}')
    assert listed.status_code == 200, listed.content[:300]


def test_an_empty_if_match_on_a_plan_change_is_a_400_not_a_stale_version(world):
    plan = world.plan_b
    response = world.client("prescriber").post(
        f"{V1}/plans/{plan.pk}/pause/", {"reason": "Travel"}, format="json", HTTP_IF_MATCH=""
    )
    assert response.status_code == 400, response.content[:300]
    plan.refresh_from_db()
    assert plan.status != "paused"


def test_reminder_preferences_have_their_own_tag(world):
    url = f"{_patient_url(world)}reminder-preferences/"
    patient = world.client("patient_b")
    read = patient.get(url)
    whole = patient.get(_patient_url(world))["ETag"]
    assert read["ETag"] != whole
    refused = patient.patch(url, {"reminder_consent": False}, format="json", HTTP_IF_MATCH=whole)
    assert refused.status_code == 412
    made = patient.patch(url, {"reminder_consent": False}, format="json", HTTP_IF_MATCH=read["ETag"])
    assert made.status_code == 200, made.content[:300]
    assert made.json()["reminder_consent"] is False
    assert made["ETag"] == patient.get(url)["ETag"]


def _move_body(appointment: Appointment) -> dict:
    return {"starts_at": (appointment.starts_at + dt.timedelta(days=1)).isoformat()}


def test_a_move_sent_with_the_tag_of_a_session_changed_since_is_not_made(world):
    appointment = world.appointment_a  # a single session: a day later breaks no course spacing
    url = f"{V1}/appointments/{appointment.pk}/"
    desk = world.client("front_desk")
    tag = desk.get(url)["ETag"]
    confirmed = world.client("patient_a").post(f"{url}confirm/")
    assert confirmed.status_code == 200, confirmed.content[:300]
    moved = desk.post(f"{url}move/", _move_body(appointment), format="json", HTTP_IF_MATCH=tag)
    assert moved.status_code == 412, moved.content[:300]
    assert Appointment.objects.get(pk=appointment.pk).starts_at == appointment.starts_at
    fresh = desk.get(url)["ETag"]
    assert fresh == confirmed["ETag"], "an action's answer carries the session's new tag"
    again = desk.post(f"{url}move/", _move_body(appointment), format="json", HTTP_IF_MATCH=fresh)
    assert again.status_code == 200, again.content[:300]
    assert again["ETag"] == desk.get(url)["ETag"]


def test_a_retried_move_is_answered_from_the_first_even_though_its_tag_is_now_old(world):
    """The retry carries the same Idempotency-Key and the same If-Match; the first move changed the
    session, so the tag no longer holds, yet the retry must get the first answer back, not a 412."""
    appointment = world.appointment_a
    url = f"{V1}/appointments/{appointment.pk}/"
    desk = world.client("front_desk")
    headers = {"HTTP_IF_MATCH": desk.get(url)["ETag"], "HTTP_IDEMPOTENCY_KEY": "move-once-7f3a"}
    first = desk.post(f"{url}move/", _move_body(appointment), format="json", **headers)
    assert first.status_code == 200, first.content[:300]
    retry = desk.post(f"{url}move/", _move_body(appointment), format="json", **headers)
    assert retry.status_code == 200, retry.content[:300]
    assert retry["Idempotent-Replayed"] == "true"


def test_a_cancel_answers_with_the_sessions_own_tag(world):
    url = f"{V1}/appointments/{world.appointment_b.pk}/"
    desk = world.client("front_desk")
    cancelled = desk.post(f"{url}cancel/", {"reason": "Unwell"}, format="json", HTTP_IF_MATCH=desk.get(url)["ETag"])
    assert cancelled.status_code == 200, cancelled.content[:300]
    assert "course_outcome" in cancelled.json()
    assert cancelled["ETag"] == desk.get(url)["ETag"]
    assert Appointment.objects.get(pk=world.appointment_b.pk).status == AppointmentStatus.CANCELLED


def test_configuration_writes_are_conditional_too(world):
    admin = world.client("clinic_admin")
    chair_url = f"{V1}/chairs/{world.clinic.chairs[0].pk}/"
    chair_tag = admin.get(chair_url)["ETag"]
    assert admin.patch(chair_url, {"name": "Window chair"}, format="json").status_code == 200
    refused = admin.patch(chair_url, {"name": "Door chair"}, format="json", HTTP_IF_MATCH=chair_tag)
    assert refused.status_code == 412
    assert admin.get(chair_url).json()["name"] == "Window chair"

    closure_url = f"{V1}/closures/{world.closure.pk}/"
    closure_tag = admin.get(closure_url)["ETag"]
    assert admin.patch(closure_url, {"reason": "Memorial Day (observed)"}, format="json").status_code == 200
    deleted = admin.delete(closure_url, HTTP_IF_MATCH=closure_tag)
    assert deleted.status_code == 412
    assert Closure.objects.filter(pk=world.closure.pk).exists()
    assert admin.delete(closure_url, HTTP_IF_MATCH=admin.get(closure_url)["ETag"]).status_code == 204


def test_a_create_sent_with_if_match_is_still_refused(world):
    """A new resource has no representation yet that a tag could name."""
    response = world.client("clinic_admin").post(
        f"{V1}/chairs/", {"site": world.site.pk, "name": "New chair"}, format="json", HTTP_IF_MATCH='"abc"'
    )
    assert response.status_code == 412


@pytest.mark.django_db(transaction=True)
def test_two_editors_with_the_same_tag_at_once_make_one_change(personas):
    """Both read the same version; the row lock makes the second wait for the first to commit and
    then see the tag it holds is old, so exactly one change is made and the other is told."""
    patient = personas.patient_b
    url = f"{V1}/patients/{patient.pk}/"
    _, key = AuthToken.objects.create(personas.front_desk.user)
    reader = APIClient()
    reader.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    tag = reader.get(url)["ETag"]
    start = threading.Barrier(2)
    outcomes: dict[str, int] = {}

    def edit(name: str) -> None:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
        try:
            start.wait()
            outcomes[name] = client.patch(url, {"escort_name": name}, format="json", HTTP_IF_MATCH=tag).status_code
        finally:
            connection.close()

    threads = [threading.Thread(target=edit, args=(name,)) for name in ("Ana", "Ben")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(outcomes.values()) == [200, 412], outcomes
    winner = next(name for name, code in outcomes.items() if code == 200)
    patient.refresh_from_db()
    assert patient.escort_name == winner


def test_a_conditional_action_with_a_status_filter_in_the_query_is_not_a_500(world):
    """get_object() runs the list filters; AppointmentFilter.status is a MultipleChoiceFilter,
    which adds DISTINCT, and PostgreSQL refuses FOR UPDATE with DISTINCT: the row is locked on its
    own, by id."""
    url = f"{V1}/appointments/{world.appointment_a.pk}/"
    desk = world.client("front_desk")
    tag = desk.get(url)["ETag"]
    response = desk.post(f"{url}confirm/?status=booked", HTTP_IF_MATCH=tag)
    assert response.status_code == 200, response.content[:300]


def test_a_replayed_move_names_its_patient_in_the_access_log(world):
    """A replay shows the session (patient id and name): the access log names the patient, as for
    the first answer (the session is read before the replay, the If-Match compared after)."""
    appointment = world.appointment_a
    url = f"{V1}/appointments/{appointment.pk}/"
    desk = world.client("front_desk")
    headers = {"HTTP_IDEMPOTENCY_KEY": "review-move-log"}
    assert desk.post(f"{url}move/", _move_body(appointment), format="json", **headers).status_code == 200
    retry = desk.post(f"{url}move/", _move_body(appointment), format="json", **headers)
    assert retry.status_code == 200 and retry["Idempotent-Replayed"] == "true"
    assert retry.json()["patient"] == appointment.patient_id
    logged = AccessLog.objects.filter(path=f"{url}move/").order_by("-id").first()
    assert logged.patient_ids == [appointment.patient_id]


def test_a_replayed_move_is_not_answered_to_someone_who_no_longer_works_at_the_site(world):
    """A replay is scoped as a read: a desk member taken off the site gets 404, not the session."""
    appointment = world.appointment_a
    url = f"{V1}/appointments/{appointment.pk}/"
    desk = world.client("front_desk")
    headers = {"HTTP_IDEMPOTENCY_KEY": "review-move-scope"}
    assert desk.post(f"{url}move/", _move_body(appointment), format="json", **headers).status_code == 200
    world.users["front_desk"].staff.sites.clear()
    assert desk.get(url).status_code == 404
    retry = desk.post(f"{url}move/", _move_body(appointment), format="json", **headers)
    assert retry.status_code == 404, retry.content[:300]


def test_options_on_a_tagged_object_carries_no_etag(world):
    """OPTIONS's metadata is not the object's representation: its tag, sent back as If-Match,
    would be refused though nothing changed."""
    url = f"{V1}/patients/{world.appointment_b.patient_id}/"
    desk = world.client("front_desk")
    options = desk.options(url)
    assert options.status_code == 200
    assert not options.has_header("ETag") or options["ETag"] == desk.get(url)["ETag"]


def test_a_name_shown_in_the_session_counts_as_a_change(world):
    """The tag is of what was read (README): the session shows its chair's name, so a chair renamed
    since the read makes the desk read again before a conditional action, rather than act on a
    board that no longer matches."""
    appointment = world.appointment_a
    url = f"{V1}/appointments/{appointment.pk}/"
    desk = world.client("front_desk")
    tag = desk.get(url)["ETag"]
    chair_url = f"{V1}/chairs/{appointment.chair_id}/"
    renamed = world.client("clinic_admin").patch(chair_url, {"name": "Window chair"}, format="json")
    assert renamed.status_code == 200, renamed.content[:300]
    assert desk.post(f"{url}confirm/", HTTP_IF_MATCH=tag).status_code == 412
    assert desk.post(f"{url}confirm/", HTTP_IF_MATCH=desk.get(url)["ETag"]).status_code == 200


def test_a_patient_never_learns_another_patients_tag_through_if_match(world):
    """Another patient's objects answer 404 before any tag is compared."""
    other = world.appointment_b
    patient_a = world.client("patient_a")
    prefs = patient_a.patch(
        f"{V1}/patients/{other.patient_id}/reminder-preferences/",
        {"reminder_consent": False},
        format="json",
        HTTP_IF_MATCH='"x"',
    )
    cancel = patient_a.post(f"{V1}/appointments/{other.pk}/cancel/", {}, format="json", HTTP_IF_MATCH='"x"')
    assert (prefs.status_code, cancel.status_code) == (404, 404)
    assert b"current_etag" not in prefs.content + cancel.content
