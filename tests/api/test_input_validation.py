"""Input the API refuses with a 400 in the error shape: dates outside the clinical range,
datetimes without an offset, ids that are not whole numbers, control characters, and
fields an endpoint does not accept."""

from __future__ import annotations

import pytest

from scheduling.models import Appointment, TreatmentPlan
from tests.api.conftest import World

V1 = "/api/v1"


def assert_400_naming(response, field: str) -> dict:
    assert response.status_code == 400, response.content[:400]
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert field in error["fields"], error
    return error


def plan_body(world: World, **changes) -> dict:
    body = {
        "patient": world.draft_plan.patient_id,
        "protocol": world.draft_plan.protocol_id,
        "start_date": "2026-03-09",
    }
    return {**body, **changes}


@pytest.mark.parametrize("start_date", ["9999-12-01", "1900-01-01", "0001-01-01"])
def test_plan_start_date_outside_the_clinical_range_is_refused(world, start_date):
    before = TreatmentPlan.objects.count()
    response = world.client("prescriber").post(f"{V1}/plans/", plan_body(world, start_date=start_date), format="json")
    assert_400_naming(response, "start_date")
    assert TreatmentPlan.objects.count() == before


def test_plan_review_date_outside_the_clinical_range_is_refused(world):
    response = world.client("prescriber").post(
        f"{V1}/plans/", plan_body(world, review_date="9999-12-31"), format="json"
    )
    assert_400_naming(response, "review_date")


def test_change_review_date_to_year_9999_is_refused(world):
    plan = world.plan_b
    response = world.client("prescriber").post(
        f"{V1}/plans/{plan.pk}/change-review-date/",
        {"review_date": "9999-12-01", "reason": "typo", "version": plan.version},
        format="json",
    )
    assert_400_naming(response, "review_date")


def test_earliest_start_after_latest_start_is_refused(world):
    response = world.client("prescriber").post(
        f"{V1}/plans/", plan_body(world, earliest_start="16:00", latest_start="09:00"), format="json"
    )
    assert_400_naming(response, "latest_start")


@pytest.mark.parametrize("starts_at", ["9999-12-01T15:00:00Z", "1900-03-05T15:00:00Z", "9999-12-31T23:00:00-05:00"])
def test_booking_outside_the_clinical_range_is_refused(world, starts_at):
    body = {"patient": world.appointment_a.patient_id, "site": world.site.pk, "starts_at": starts_at}
    assert_400_naming(world.client("front_desk").post(f"{V1}/appointments/", body, format="json"), "starts_at")


@pytest.mark.parametrize("start_date", ["9999-12-01", "1900-01-01"])
def test_free_slot_query_outside_the_clinical_range_is_refused(world, start_date):
    response = world.client("front_desk").get(
        f"{V1}/sites/{world.site.pk}/free-slots/",
        {"start_date": start_date, "end_date": start_date, "duration_minutes": 60},
    )
    assert_400_naming(response, "start_date")


@pytest.mark.parametrize("value", ["9999-12-31T23:00:00Z", "9999-12-31T23:00:00-05:00"])
@pytest.mark.parametrize("param", ["starts_after", "starts_before"])
def test_date_filter_outside_the_clinical_range_is_refused(world, param, value):
    response = world.client("front_desk").get(f"{V1}/appointments/", {param: value})
    assert_400_naming(response, param)


def test_naive_datetime_in_a_booking_is_refused_asking_for_an_offset(world):
    body = {"patient": world.appointment_a.patient_id, "site": world.site.pk, "starts_at": "2026-03-05T15:00:00"}
    error = assert_400_naming(world.client("front_desk").post(f"{V1}/appointments/", body, format="json"), "starts_at")
    assert "offset or Z" in error["fields"]["starts_at"][0]
    assert not Appointment.objects.filter(
        patient_id=world.appointment_a.patient_id, starts_at__date="2026-03-05"
    ).exists()


def test_naive_datetime_in_a_filter_is_refused(world):
    response = world.client("front_desk").get(f"{V1}/appointments/", {"starts_after": "2026-03-01T00:00:00"})
    assert_400_naming(response, "starts_after")


def test_datetime_with_a_trailing_nul_is_refused(world):
    body = {"patient": world.appointment_a.patient_id, "site": world.site.pk, "starts_at": "2026-03-05T15:00:00Z\x00"}
    assert_400_naming(world.client("front_desk").post(f"{V1}/appointments/", body, format="json"), "starts_at")


def test_control_characters_in_any_string_are_refused(world):
    response = world.client("front_desk").post(
        f"{V1}/appointments/{world.appointment_a.pk}/cancel/", {"reason": "called\x1b[2J in"}, format="json"
    )
    assert_400_naming(response, "reason")
    response = world.client("front_desk").get(f"{V1}/patients/", {"search": "smith\x00"})
    assert_400_naming(response, "search")


def test_newlines_and_tabs_in_free_text_are_accepted(world):
    response = world.client("front_desk").post(
        f"{V1}/appointments/{world.appointment_a.pk}/cancel/", {"reason": "Called:\n\tunwell"}, format="json"
    )
    assert response.status_code == 200, response.content


@pytest.mark.parametrize("bad_id", [17.5, 17.0, "17.5", True, "1e3"])
def test_a_non_integer_id_in_a_body_is_refused_not_truncated(world, bad_id):
    body = {"patient": bad_id, "site": world.site.pk, "starts_at": "2026-03-05T15:00:00Z"}
    assert_400_naming(world.client("front_desk").post(f"{V1}/appointments/", body, format="json"), "patient")


def test_a_float_id_that_would_truncate_to_a_real_patient_is_refused(world):
    patient_id = world.appointment_a.patient_id
    body = {"patient": patient_id + 0.5, "site": world.site.pk, "starts_at": "2026-03-05T15:00:00Z"}
    assert_400_naming(world.client("front_desk").post(f"{V1}/appointments/", body, format="json"), "patient")


@pytest.mark.parametrize("param", ["patient", "site", "chair"])
def test_a_non_integer_id_in_a_query_is_refused(world, param):
    response = world.client("front_desk").get(f"{V1}/appointments/", {param: "17.5"})
    assert_400_naming(response, param)


def test_a_non_integer_chair_in_a_free_slot_query_is_refused(world):
    response = world.client("front_desk").get(
        f"{V1}/sites/{world.site.pk}/free-slots/",
        {"start_date": "2026-03-05", "end_date": "2026-03-05", "duration_minutes": 60, "chair": "1.5"},
    )
    assert_400_naming(response, "chair")


def test_unknown_fields_in_a_booking_are_refused_by_name(world):
    body = {
        "patient": world.appointment_a.patient_id,
        "site": world.site.pk,
        "starts_at": "2026-03-05T15:00:00Z",
        "nurse_id": 3,
        "colour": "red",
    }
    error = assert_400_naming(world.client("front_desk").post(f"{V1}/appointments/", body, format="json"), "colour")
    assert "nurse_id" in error["fields"]


def test_unknown_fields_in_a_config_write_are_refused(world):
    response = world.client("clinic_admin").patch(
        f"{V1}/chairs/{world.clinic.chairs[0].pk}/", {"nmae": "Chair 9"}, format="json"
    )
    assert_400_naming(response, "nmae")


def test_unknown_top_level_fields_in_book_course_are_refused(world):
    response = world.client("front_desk").post(
        f"{V1}/plans/{world.draft_plan.pk}/book-course/",
        {"start_date": "2026-03-09", "phase": "maintenance", "sequence": 3},
        format="json",
    )
    error = assert_400_naming(response, "phase")
    assert "sequence" in error["fields"]
    assert not world.draft_plan.appointments.exists()
