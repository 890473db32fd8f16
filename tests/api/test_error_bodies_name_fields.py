"""a refused API write says which field is wrong and why.

clinic/api_errors.py documents the error shape: `fields` holds the per-field input problems of
a 400. The brief for this review: bad input gets a clear error that names the field and the
problem; a vague message, or one naming a database constraint, is a defect."""

from __future__ import annotations

import pytest

from clinic.models import Closure, Shift

V1 = "/api/v1"


def _names(error: dict, field: str) -> bool:
    return field in error["fields"] or (error.get("details") or {}).get("field") == field


def test_a_shift_that_ends_before_it_starts_is_refused_naming_ends_at(world):
    """A shift typed the wrong way round says so, on the end's field (the exclusion constraint's
    range cannot even be built from it: not "A value is out of range.")."""
    nurse = world.clinic.nurses[0]
    before = Shift.objects.count()
    response = world.client("clinic_admin").post(
        f"{V1}/shifts/",
        {
            "site": world.site.pk,
            "staff": nurse.pk,
            "starts_at": "2026-06-02T20:00:00Z",
            "ends_at": "2026-06-02T10:00:00Z",
        },
        format="json",
    )
    assert response.status_code == 400
    assert Shift.objects.count() == before
    error = response.json()["error"]
    assert _names(error, "ends_at"), error
    assert "out of range" not in error["message"]


def test_a_closure_that_ends_before_it_starts_is_refused_naming_ends_at(world):
    """The field and the rule, not a database constraint's name ("Constraint
    “closure_starts_before_end” is violated.")."""
    before = Closure.objects.count()
    response = world.client("clinic_admin").post(
        f"{V1}/closures/",
        {
            "site": world.site.pk,
            "starts_at": "2026-06-02T00:00:00Z",
            "ends_at": "2026-06-01T00:00:00Z",
            "reason": "Staff training",
        },
        format="json",
    )
    assert response.status_code == 400
    assert Closure.objects.count() == before
    error = response.json()["error"]
    assert _names(error, "ends_at"), error
    assert "Constraint" not in error["message"]


def test_a_protocol_whose_infusion_outlasts_the_session_is_refused_naming_the_field(world, wide_admin):
    response = wide_admin.post(
        f"{V1}/protocols/",
        {
            "name": "Too long",
            "route": "iv",
            "session_minutes": 60,
            "infusion_minutes": 90,
            "induction_pattern": "window",
            "induction_sessions": 6,
            "induction_window_days": 21,
        },
        format="json",
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert _names(error, "infusion_minutes") or _names(error, "session_minutes"), error
    assert "Constraint" not in error["message"]


def test_a_maintenance_interval_outside_the_protocols_range_names_days(world):
    """A service's refusal of an input names it in `fields`, so a client can tell which to fix."""
    plan = world.plan_b
    response = world.client("prescriber").post(
        f"{V1}/plans/{plan.pk}/change-interval/",
        {"reason": "longer relief", "days": 1, "version": plan.version},
        format="json",
    )
    assert response.status_code == 400
    assert _names(response.json()["error"], "days"), response.json()


def test_booking_with_another_patients_plan_names_plan(world):
    response = world.client("front_desk").post(
        f"{V1}/appointments/",
        {
            "patient": world.appointment_a.patient_id,
            "site": world.site.pk,
            "starts_at": "2026-03-10T15:00:00Z",
            "plan": world.plan_b.pk,
        },
        format="json",
    )
    assert response.status_code == 400
    assert _names(response.json()["error"], "plan"), response.json()


def test_moving_a_session_into_the_past_names_starts_at(world):
    response = world.client("front_desk").post(
        f"{V1}/appointments/{world.appointment_a.pk}/move/", {"starts_at": "2026-02-20T15:00:00Z"}, format="json"
    )
    assert response.status_code == 400
    assert _names(response.json()["error"], "starts_at"), response.json()


@pytest.mark.parametrize(
    ("field", "value"), [("total_mg", "-5"), ("dose_mg_per_kg", "9.5")], ids=["negative_total", "implausible_dose"]
)
def test_an_implausible_correction_names_the_field(world, field, value):
    response = world.client("nurse").post(
        f"{V1}/clinical/controlled-substance-log/{world.cs_entry.pk}/correct/",
        {"reason": "typo on the sheet", field: value},
        format="json",
    )
    assert response.status_code == 400
    assert _names(response.json()["error"], field), response.json()


@pytest.mark.parametrize("field", ["first_name", "last_name"])
def test_a_line_break_in_a_patient_name_is_refused(world, field):
    """A name is one line: it is printed on the board, in text messages, calendar entries and the
    HL7 feed: "Ann\\nMSH|^~" is refused as a first name, as other control characters are."""
    from patients.models import Patient

    before = Patient.objects.count()
    body = {"first_name": "Ann", "last_name": "Lee", "date_of_birth": "1980-01-01", "home_site": world.site.pk}
    body[field] = "Ann\nMSH|^~"
    response = world.client("front_desk").post(f"{V1}/patients/", body, format="json")
    assert response.status_code == 400, response.json()
    assert field in response.json()["error"]["fields"]
    assert Patient.objects.count() == before


def test_a_slot_step_that_does_not_divide_an_hour_is_refused(world):
    """Start times repeat every hour on one grid (08:00, 08:15 ...): a 7-minute step would offer 08:07."""
    response = world.client("clinic_admin").patch(
        f"{V1}/sites/{world.site.pk}/", {"slot_step_minutes": 7}, format="json"
    )
    assert response.status_code == 400
    assert "slot_step_minutes" in response.json()["error"]["fields"]
    world.site.refresh_from_db()
    assert world.site.slot_step_minutes != 7


@pytest.mark.parametrize("key", ["a\x01b", "ключ", "x" * 201])
def test_an_idempotency_key_is_printable_ascii_of_at_most_200_characters(world, key):
    """The key is stored and shown (the admin lists it): control characters, other scripts and
    overlong keys are refused before anything is booked."""
    from scheduling.models import Appointment, IdempotencyRecord

    before = Appointment.objects.count()
    response = world.client("front_desk").post(
        f"{V1}/appointments/",
        {"patient": world.appointment_a.patient_id, "site": world.site.pk, "starts_at": "2026-03-10T15:00:00Z"},
        format="json",
        HTTP_IDEMPOTENCY_KEY=key,
    )
    assert response.status_code == 400
    assert "Idempotency-Key" in response.json()["error"]["fields"]
    assert Appointment.objects.count() == before and not IdempotencyRecord.objects.exists()
