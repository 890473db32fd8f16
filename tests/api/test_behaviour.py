"""Idempotent bookings, optimistic concurrency on plans, the error shape, filters and
query counts of the list endpoints."""

from __future__ import annotations

import datetime as dt
from unittest import mock

import pytest
from rest_framework.throttling import UserRateThrottle

from scheduling.models import Appointment, AppointmentStatus, IdempotencyRecord
from tests.api.conftest import World
from tests.factories import PatientFactory

V1 = "/api/v1"


def book_body(world: World, hour: int = 15) -> dict:
    return {"patient": world.appointment_a.patient_id, "site": world.site.pk, "starts_at": f"2026-03-05T{hour}:00:00Z"}


def test_retried_booking_with_same_key_returns_first_result_and_books_once(world):
    client = world.client("front_desk")
    first = client.post(f"{V1}/appointments/", book_body(world), format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    again = client.post(f"{V1}/appointments/", book_body(world), format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert Appointment.objects.filter(patient_id=world.appointment_a.patient_id).count() == 2  # the fixture's + one
    assert IdempotencyRecord.objects.count() == 1


def test_reused_key_with_a_different_body_is_refused(world):
    client = world.client("front_desk")
    assert (
        client.post(f"{V1}/appointments/", book_body(world), format="json", HTTP_IDEMPOTENCY_KEY="k-2").status_code
        == 201
    )
    other = client.post(f"{V1}/appointments/", book_body(world, hour=17), format="json", HTTP_IDEMPOTENCY_KEY="k-2")
    assert other.status_code == 422
    assert other.json()["error"]["code"] == "idempotency_key_reused"
    assert Appointment.objects.filter(starts_at=dt.datetime(2026, 3, 5, 17, tzinfo=dt.UTC)).count() == 0


def test_same_key_from_another_user_is_a_separate_booking_attempt(world):
    world.client("front_desk").post(f"{V1}/appointments/", book_body(world), format="json", HTTP_IDEMPOTENCY_KEY="k-3")
    second = world.client("nurse").post(
        f"{V1}/appointments/", book_body(world), format="json", HTTP_IDEMPOTENCY_KEY="k-3"
    )
    assert second.status_code == 409  # not a replay: the patient is already booked then
    assert second.json()["error"]["code"] == "booking_conflict"


def test_booking_conflict_is_409_in_the_error_shape(world):
    client = world.client("front_desk")
    taken = world.appointment_a
    response = client.post(
        f"{V1}/appointments/",
        {"patient": taken.patient_id, "site": world.site.pk, "starts_at": taken.starts_at.isoformat()},
        format="json",
    )
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "booking_conflict" and error["message"] and error["fields"] == {}


def test_invalid_input_is_400_naming_the_field(world):
    response = world.client("front_desk").post(f"{V1}/appointments/", {"site": world.site.pk}, format="json")
    assert response.status_code == 400
    assert {"patient", "starts_at"} <= set(response.json()["error"]["fields"])


def test_course_that_does_not_fit_is_409_with_alternatives(world):
    # Saturdays only, and the site is closed at weekends: nothing fits, alternatives are offered.
    plan = world.draft_plan
    plan.preferred_weekdays = [5]
    plan.save(update_fields=["preferred_weekdays"])
    response = world.client("front_desk").post(
        f"{V1}/plans/{plan.pk}/propose-course/", {"start_date": "2026-03-09"}, format="json"
    )
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "course_does_not_fit"
    assert error["details"]["alternatives"]


def test_plan_detail_carries_its_version_as_etag(world):
    response = world.client("nurse").get(f"{V1}/plans/{world.plan_b.pk}/")
    assert response["ETag"] == f'"{world.plan_b.version}"'


def test_plan_edit_without_if_match_is_428(world):
    response = world.client("nurse").post(f"{V1}/plans/{world.plan_b.pk}/pause/", {"reason": "Travel"}, format="json")
    assert response.status_code == 428
    assert response.json()["error"]["code"] == "precondition_required"


def test_plan_edit_with_a_stale_if_match_is_412_and_changes_nothing(world):
    """RFC 9110 §13.2.2: an If-Match that does not hold is a failed precondition, as for sessions,
    patients and configuration; a stale `version` in the body stays a conflict (next test)."""
    client = world.client("prescriber")  # the review date is a prescriber's decision
    stale = f'"{world.plan_b.version}"'
    first = client.post(
        f"{V1}/plans/{world.plan_b.pk}/change-review-date/",
        {"review_date": "2026-09-01", "reason": "Family meeting"},
        format="json",
        HTTP_IF_MATCH=stale,
    )
    assert first.status_code == 200
    assert first["ETag"] == f'"{world.plan_b.version + 1}"'
    second = client.post(
        f"{V1}/plans/{world.plan_b.pk}/pause/", {"reason": "Travel"}, format="json", HTTP_IF_MATCH=stale
    )
    assert second.status_code == 412
    assert second.json()["error"]["code"] == "changed_since_read"
    assert second.json()["error"]["details"]["current_version"] == world.plan_b.version + 1
    assert second.json()["error"]["details"]["current_etag"] == f'"{world.plan_b.version + 1}"'
    world.plan_b.refresh_from_db()
    assert world.plan_b.status == "active"


def test_plan_edit_with_a_stale_version_in_the_body_is_409_and_changes_nothing(world):
    client = world.client("prescriber")
    stale = world.plan_b.version
    first = client.post(
        f"{V1}/plans/{world.plan_b.pk}/change-review-date/",
        {"review_date": "2026-09-01", "reason": "Family meeting", "version": stale},
        format="json",
    )
    assert first.status_code == 200
    second = client.post(f"{V1}/plans/{world.plan_b.pk}/pause/", {"reason": "Travel", "version": stale}, format="json")
    assert second.status_code == 409
    assert second.json()["error"]["code"] == "stale_version"
    assert second.json()["error"]["details"]["current_version"] == stale + 1
    world.plan_b.refresh_from_db()
    assert world.plan_b.status == "active"


def test_version_in_the_body_stands_in_for_if_match(world):
    response = world.client("prescriber").post(
        f"{V1}/plans/{world.plan_b.pk}/end/", {"reason": "Moved away", "version": world.plan_b.version}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["plan"]["status"] == "ended"


def test_front_desk_sees_no_clinical_fields(world):
    patient = world.client("front_desk").get(f"{V1}/patients/{world.plan_b.patient_id}/").json()
    assert patient["medications"] is None and patient["seizure_history"] is None
    clinician = world.client("nurse").get(f"{V1}/patients/{world.plan_b.patient_id}/").json()
    assert clinician["seizure_history"] is False
    refused = world.client("front_desk").patch(
        f"{V1}/patients/{world.plan_b.patient_id}/", {"medications": "x"}, format="json"
    )
    assert refused.status_code == 400


def test_patient_lists_only_their_own_appointments_by_date_range(world):
    response = world.client("patient_b").get(
        f"{V1}/appointments/", {"starts_after": "2026-03-01T00:00:00Z", "starts_before": "2026-03-10T00:00:00Z"}
    )
    rows = response.json()["results"]
    assert rows and {row["patient"] for row in rows} == {world.plan_b.patient_id}
    assert all("2026-03-01" <= row["starts_at"][:10] < "2026-03-10" for row in rows)


def test_patient_cannot_cancel_online_inside_the_notice_period(world):
    soon = world.appointment_b
    with mock.patch("django.utils.timezone.now", return_value=soon.starts_at - dt.timedelta(hours=3)):
        response = world.client("patient_b").post(f"{V1}/appointments/{soon.pk}/cancel/", {}, format="json")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "too_late_for_online_change"
    soon.refresh_from_db()
    assert soon.status == AppointmentStatus.BOOKED


def test_patient_confirms_online_inside_the_notice_period_but_not_after_the_start(world):
    soon = world.appointment_b
    with mock.patch("django.utils.timezone.now", return_value=soon.starts_at + dt.timedelta(minutes=1)):
        late = world.client("patient_b").post(f"{V1}/appointments/{soon.pk}/confirm/", {}, format="json")
    assert late.status_code == 409
    with mock.patch("django.utils.timezone.now", return_value=soon.starts_at - dt.timedelta(hours=3)):
        response = world.client("patient_b").post(f"{V1}/appointments/{soon.pk}/confirm/", {}, format="json")
    assert response.status_code == 200, response.json()
    soon.refresh_from_db()
    assert soon.status == AppointmentStatus.CONFIRMED


def test_day_board_shows_every_chair_of_the_day(world):
    board = world.client("front_desk").get(f"{V1}/sites/{world.site.pk}/day-board/", {"date": "2026-03-02"}).json()
    assert [c["name"] for c in board["chairs"]] == ["Chair 1", "Chair 2", "Chair 3"]
    assert sum(len(c["appointments"]) for c in board["chairs"]) == 1


def test_free_slots_exclude_taken_chairs(world):
    taken = world.appointment_b
    response = world.client("front_desk").get(
        f"{V1}/sites/{world.site.pk}/free-slots/",
        {"start_date": "2026-03-02", "end_date": "2026-03-02", "duration_minutes": 120, "chair": taken.chair_id},
    )
    starts = {slot["starts_at"] for slot in response.json()["slots"]}
    assert response.status_code == 200 and starts
    assert taken.starts_at.isoformat().replace("+00:00", "Z") not in starts


def test_throttled_request_is_429_in_the_error_shape(world):
    with (
        mock.patch.object(UserRateThrottle, "allow_request", return_value=False),
        mock.patch.object(UserRateThrottle, "wait", return_value=30),
    ):
        response = world.client("front_desk").get(f"{V1}/sites/")
    assert response.status_code == 429
    assert response.json()["error"]["details"]["retry_after_seconds"] == 30


LISTS = [
    "sites",
    "chairs",
    "staff",
    "opening-hours",
    "closures",
    "patients",
    "evaluations",
    "patient-flags",
    "contraindications",
    "protocols",
    "plans",
    "appointments",
    "reminders",
]


GROWN = {
    "chairs",
    "closures",
    "patients",
    "evaluations",
    "patient-flags",
    "protocols",
    "plans",
    "appointments",
    "reminders",
}


def _grow(world: World, rows: int) -> None:
    """`rows` more of everything the lists show: patients (with evaluations and flags), chairs,
    closures, protocols, plans, appointments with nurses and reminders."""
    from clinic.models import Closure
    from patients.models import PatientFlag
    from scheduling.models import Reminder
    from tests.factories import AppointmentFactory, ChairFactory, PlanFactory, ProtocolFactory

    for index in range(rows):
        patient = PatientFactory(home_site=world.site)
        PatientFlag.objects.create(patient=patient, contraindication=world.flag_rule, recorded_by=world.users["nurse"])
        chair = ChairFactory(site=world.site, name=f"Extra {index}")
        Closure.objects.create(
            site=world.site,
            starts_at=dt.datetime(2026, 12, 1, tzinfo=dt.UTC) + dt.timedelta(days=index),
            ends_at=dt.datetime(2026, 12, 1, 8, tzinfo=dt.UTC) + dt.timedelta(days=index),
            reason="Holiday",
        )
        protocol = ProtocolFactory(name=f"Protocol {index}")
        PlanFactory(patient=patient, protocol=protocol, prescriber=world.clinic.prescriber)
        appointment = AppointmentFactory(
            patient=patient,
            chair=chair,
            nurse=world.clinic.nurses[0],
            starts_at=dt.datetime(2026, 4, 1, 15, tzinfo=dt.UTC),
        )
        Reminder.objects.create(
            appointment=appointment,
            channel="email",
            offset_minutes=60,
            session_starts_at=appointment.starts_at,
            due_at=appointment.starts_at,
            next_attempt_at=appointment.starts_at,
        )


@pytest.mark.parametrize("rows", [2, 30])
@pytest.mark.parametrize("resource", LISTS)
def test_list_query_count_does_not_grow_with_rows(world, django_assert_max_num_queries, resource, rows):
    _grow(world, rows)
    client = world.client("prescriber")
    with django_assert_max_num_queries(10):
        response = client.get(f"{V1}/{resource}/", {"limit": 200})
    assert response.status_code == 200
    if resource in GROWN:
        assert response.json()["count"] >= rows
    if resource in GROWN:
        assert response.json()["count"] >= rows


def test_no_show_answers_the_course_outcome_and_takes_only_a_rebook_flag(world):
    client = world.client("front_desk")
    url = f"{V1}/appointments/{world.past_b.pk}/no-show/"
    refused = client.post(url, {"rebook": "perhaps"}, format="json")
    assert refused.status_code == 400 and "rebook" in refused.json()["error"]["fields"]
    unknown = client.post(url, {"reason": "x"}, format="json")
    assert unknown.status_code == 400 and "reason" in unknown.json()["error"]["fields"]
    response = client.post(url, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "no_show"
    assert body["course_outcome"]["rebooked"] == []
    assert body["course_outcome"]["summary"] == "A single session, not part of a course."
