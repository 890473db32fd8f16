"""A course keeps clear of the patient's other infusions on every day it books (not only the one
before it), and resuming a plan offers alternatives only at the asker's sites."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from zoneinfo import ZoneInfo

import pytest

from clinic.errors import DomainError
from scheduling import services
from scheduling.engine.wallclock import local_day
from scheduling.models import BLOCKING_STATUSES, Appointment
from tests.scheduling.conftest import NOW, START, at_new_york, make_clinic, start_plus

pytestmark = pytest.mark.django_db
NY = ZoneInfo("America/New_York")


def test_a_course_is_not_booked_with_a_session_on_a_day_the_patient_already_has_an_infusion():
    """The single booking refuses a plan session on a day with the patient's one-off infusion
    (plan_rule_violations now reads all the patient's sessions); course_propose/course_book only
    keep the gap from the infusion *before* the course (_last_infusion), so a one-off infusion
    inside the course's window gets a course session beside it on the same day."""
    clinic = make_clinic()
    plan = clinic.plan()
    services.appointment_book(
        patient=plan.patient,
        site=clinic.site,
        starts_at=at_new_york(start_plus(2), 8),  # Wednesday morning, inside the course's window
        chair=clinic.chairs[1],
        actor=clinic.front_desk.user,
        now=NOW,
    )
    try:
        services.course_book(plan=plan, actor=clinic.front_desk.user, now=NOW, start_date=START)
    except DomainError:
        return  # refusing (or placing around it) is fine
    days = Counter(
        local_day(a.starts_at, clinic.site.zone)
        for a in Appointment.objects.filter(patient=plan.patient, status__in=BLOCKING_STATUSES)
    )
    assert max(days.values()) == 1, f"two infusions on one day: {days}"


def test_resume_offers_alternatives_only_at_sites_the_asker_works_at(db):
    """1bed91c limits a refused course's alternatives to the asker's sites on propose-course and
    book-course (course_propose(actor=...)), but plan_resume calls course_propose without the actor:
    a prescriber of site one resuming a paused plan whose course no longer fits there is offered
    site two's chairs, nurses and free times (the same leak the commit closed)."""
    import time_machine

    from clinic.models import Chair
    from scheduling.models import TreatmentPlan
    from tests.api.conftest import build_world

    with time_machine.travel(NOW, tick=False):
        built = build_world(two_sites=True)
        prescriber = built.users["prescriber"]  # works at site one only
        # The world's patient b has a screening flag; resuming needs the prescriber's override first.
        services.plan_override_eligibility(plan=built.plan_b, reason="Psychiatry reviewed", actor=prescriber, now=NOW)
        services.plan_pause(plan=built.plan_b, reason="Influenza", actor=prescriber, now=NOW)
        Chair.objects.filter(site=built.site).update(active=False)  # nothing fits at the plan's site now
        version = TreatmentPlan.objects.get(pk=built.plan_b.pk).version
        response = built.client("prescriber").post(
            f"/api/v1/plans/{built.plan_b.pk}/resume/",
            {"resume_date": "2026-03-09", "reason": "Back from travel"},
            format="json",
            HTTP_IF_MATCH=f'"{version}"',
        )
    assert response.status_code == 409, response.content
    alternatives = response.json()["error"]["details"]["alternatives"]
    offered = {a["site"] for a in alternatives} | {s["site"] for a in alternatives for s in a["sessions"]}
    assert built.two.site.pk not in offered, alternatives


def test_a_course_session_after_an_infusion_may_start_exactly_the_gap_after_it():
    """The gap is start to start, as booking checks it: with the patient's infusion on Wednesday at
    08:00 inside the course's window, the course's next session may start Friday at 08:00."""
    clinic = make_clinic()
    plan = clinic.plan()
    infusion = services.appointment_book(
        patient=plan.patient,
        site=clinic.site,
        starts_at=at_new_york(start_plus(2), 8),
        chair=clinic.chairs[1],
        actor=clinic.front_desk.user,
        now=NOW,
    )

    proposal = services.course_propose(plan=plan, start_date=START, now=NOW)

    after = min(s.starts_at for s in proposal.sessions if s.starts_at > infusion.starts_at)
    assert after - infusion.starts_at == dt.timedelta(hours=plan.protocol.min_gap_hours), after
