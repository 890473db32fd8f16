"""$book of a held make-up session that makes the induction whole again takes back the flag the
short induction raised, as a booking made on the desk's pages does."""

from __future__ import annotations

import pytest

from scheduling import services
from tests.interop.fhir_support import find_body, parse, post, proposed, reference
from tests.scheduling.conftest import NOW, START

pytestmark = pytest.mark.django_db


def test_booking_a_held_make_up_through_fhir_clears_the_course_short_flag(world):
    desk_user = world.clinic.front_desk.user
    plan = world.clinic.plan(patient=world.patient_a)
    course = services.course_book(plan=plan, actor=desk_user, now=NOW, start_date=START)
    outcome = services.appointment_cancel(appointment=course[4], actor=desk_user, reason="Away", now=NOW)
    plan.refresh_from_db()
    assert plan.needs_attention and outcome.replacement_starts_at is not None
    day = outcome.replacement_starts_at.astimezone(world.clinic.site.zone).date()

    desk = world.client("front_desk")
    found = proposed(parse(post(desk, "Appointment/$find", find_body(world, world.patient_a, day=day, count=1))))
    assert found, "the make-up's day offers a time"
    held = parse(post(desk, "Appointment/$hold", reference("appointment-reference", f"Appointment/{found[0].id}")))
    hold_id = held.entry[0].resource.id
    plan.refresh_from_db()
    assert plan.needs_attention  # a hold is not a booking

    booked = post(desk, "Appointment/$book", reference("appointment-reference", f"Appointment/{hold_id}"))

    assert booked.status_code == 200, booked.content
    plan.refresh_from_db()
    assert not plan.needs_attention and plan.attention_reason == ""
    latest = plan.history.order_by("-history_date", "-history_id").first()
    assert latest.history_change_reason.startswith("Attention cleared: the induction holds its")
