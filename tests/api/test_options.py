"""OPTIONS describes an endpoint (DRF's metadata) to any role that may use some of it, and names
only the writes that role may make (on an extra action such as .../start/, that action's own
write); a role with no access to the endpoint gets 403, as for any
other method, and an anonymous caller 401."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


def test_the_front_desk_is_told_it_may_book(world):
    response = world.client("front_desk").options("/api/v1/appointments/")
    assert response.status_code == 200, response.content
    body = response.json()
    assert "POST" in body["actions"]
    assert "starts_at" in body["actions"]["POST"]


def test_a_patient_may_read_appointments_but_is_not_offered_a_booking_form(world):
    response = world.client("patient_a").options("/api/v1/appointments/")
    assert response.status_code == 200, response.content
    assert "POST" not in response.json().get("actions", {})


@pytest.mark.parametrize(("role", "status"), [("patient_a", 403), ("outsider", 403), ("anonymous", 401)])
def test_a_role_without_access_is_refused(world, role, status):
    assert world.client(role).options("/api/v1/reminder-policies/").status_code == status


def test_an_administrator_may_write_configuration_and_is_told_so(world):
    response = world.client("clinic_admin").options("/api/v1/reminder-policies/")
    assert response.status_code == 200, response.content


def test_front_desk_is_not_offered_a_post_on_starting_a_session(world):
    """Rule: appointments' `start` is CLINICIANS only; the front desk's OPTIONS on
    /appointments/<id>/start/ must not list POST."""
    response = world.client("front_desk").options(f"/api/v1/appointments/{world.appointment_b.pk}/start/")
    assert response.status_code == 200, response.content
    assert "POST" not in response.json().get("actions", {})
    # ...and the POST itself is refused, so the description above would be a false offer.
    assert world.client("front_desk").post(f"/api/v1/appointments/{world.appointment_b.pk}/start/").status_code == 403


def test_a_nurse_is_not_offered_a_post_on_ending_a_plan(world):
    """Rule: plans' `end` is PRESCRIBERS only; a nurse's OPTIONS on /plans/<id>/end/ must not list POST."""
    response = world.client("nurse").options(f"/api/v1/plans/{world.plan_b.pk}/end/")
    assert response.status_code == 200, response.content
    assert "POST" not in response.json().get("actions", {})
