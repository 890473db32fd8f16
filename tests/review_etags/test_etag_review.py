"""Review of 58e91c3 (representation ETags and If-Match): each test names the rule it checks."""

from __future__ import annotations

import datetime as dt

from clinic.models import AccessLog

V1 = "/api/v1"


def _move_body(appointment) -> dict:
    return {"starts_at": (appointment.starts_at + dt.timedelta(days=1)).isoformat()}


def test_a_conditional_action_with_a_status_filter_in_the_query_is_not_a_500(world):
    """get_object() runs the list filters (filter_queryset); AppointmentFilter.status is a
    MultipleChoiceFilter, which adds DISTINCT, and the new row lock adds FOR UPDATE: PostgreSQL
    refuses the pair, so the request 500s. Without If-Match the same request answers 200."""
    url = f"{V1}/appointments/{world.appointment_a.pk}/"
    desk = world.client("front_desk")
    tag = desk.get(url)["ETag"]
    response = desk.post(f"{url}confirm/?status=booked", HTTP_IF_MATCH=tag)
    assert response.status_code == 200, response.content[:300]


def test_a_replayed_move_names_its_patient_in_the_access_log(world):
    """The move's get_object() (which names the patient shown, PatientsShownMixin) moved inside
    the idempotent perform(): a replay now shows the session (patient id and name) without the
    access log naming the patient, which it did before this change."""
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
    """Before this change the move read the session (scoped to the asker's sites) before the
    replay; now a replay skips get_object(), so a desk member taken off the site still gets the
    session back (patient name, chair, nurse) where a read answers 404."""
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
    """finalize_response tags any 2xx Mapping answer at a detail URL, OPTIONS's metadata too: a
    client that takes that ETag (OPTIONS is how the README says to learn one's writes) and sends
    it as If-Match is refused 412 though nothing changed."""
    url = f"{V1}/patients/{world.appointment_b.patient_id}/"
    desk = world.client("front_desk")
    options = desk.options(url)
    assert options.status_code == 200
    assert not options.has_header("ETag") or options["ETag"] == desk.get(url)["ETag"]


def test_if_match_on_a_session_holds_while_the_session_row_is_unchanged(world):
    """README: a session action sent with the ETag as If-Match 'is made only if nobody changed the
    row since'. The tag is a digest of the representation, which shows the chair's, nurse's and
    patient's names: renaming the chair (another row) refuses the desk's check-in with 412
    `changed_since_read` though the session itself was not changed."""
    appointment = world.appointment_a
    url = f"{V1}/appointments/{appointment.pk}/"
    desk = world.client("front_desk")
    tag = desk.get(url)["ETag"]
    chair_url = f"{V1}/chairs/{appointment.chair_id}/"
    renamed = world.client("clinic_admin").patch(chair_url, {"name": "Window chair"}, format="json")
    assert renamed.status_code == 200, renamed.content[:300]
    confirmed = desk.post(f"{url}confirm/", HTTP_IF_MATCH=tag)
    assert confirmed.status_code == 200, confirmed.content[:300]


def test_a_patient_never_learns_another_patients_tag_through_if_match(world):
    """Checked fine: another patient's objects answer 404 before any tag is compared."""
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
