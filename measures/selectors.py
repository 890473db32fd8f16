"""Reads: a patient's responses and the outcome summary of their course.

`outcome_summary` runs three queries at most (plans, the patient's sessions, responses),
whatever the number of rows; a caller that already holds the plans and sessions (the
clinician's chart) passes them in and the summary costs one query."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field

from django.db.models import QuerySet

from measures.models import QuestionnaireResponse
from measures.outcomes import (
    FirstSession,
    InstrumentOutcome,
    IntervalSuggestion,
    PlanState,
    ScorePoint,
    instrument_outcome,
    interval_suggestion,
)
from measures.scoring import Instrument
from patients.models import Patient
from scheduling.models import (
    INFUSION_STATUSES,
    OPEN_PLAN_STATUSES,
    Appointment,
    AppointmentStatus,
    Phase,
    PlanStatus,
    TreatmentPlan,
)
from scheduling.reminders.rendering import QUESTIONNAIRE_WINDOW


def responses_visible(queryset: QuerySet[QuestionnaireResponse] | None = None) -> QuerySet[QuestionnaireResponse]:
    queryset = queryset if queryset is not None else QuestionnaireResponse.objects.all()
    return queryset.select_related("patient", "entered_by").order_by("completed_at", "id")


def patient_responses(patient: Patient) -> list[QuestionnaireResponse]:
    return list(QuestionnaireResponse.objects.filter(patient=patient).order_by("completed_at", "id"))


@dataclass
class OutcomeSummary:
    patient: Patient
    plan: TreatmentPlan | None
    first_session: Appointment | None
    outcomes: dict[Instrument, InstrumentOutcome]
    responses: dict[Instrument, list[QuestionnaireResponse]]
    session_times: list[dt.datetime]
    suggestion: IntervalSuggestion | None
    latest_flagged: list[QuestionnaireResponse] = field(default_factory=list)


def current_plan(plans: Sequence[TreatmentPlan]) -> TreatmentPlan | None:
    """The open plan, else the most recently created one."""
    open_plans = [p for p in plans if p.status in OPEN_PLAN_STATUSES]
    candidates = open_plans or list(plans)
    return max(candidates, key=lambda p: (p.created_at, p.pk)) if candidates else None


def first_session_of(plan: TreatmentPlan | None, appointments: Sequence[Appointment]) -> Appointment | None:
    if plan is None:
        return None
    # Cancelled and missed sessions never treated the patient, so they do not start the course; nor
    # does an outside system's hold (FHIR $hold), which is not a booking yet.
    sessions = [a for a in appointments if a.plan_id == plan.pk and a.status in INFUSION_STATUSES]
    return min(sessions, key=lambda a: a.starts_at, default=None)


def outcome_summary(
    *,
    patient: Patient,
    now: dt.datetime,
    plans: Sequence[TreatmentPlan] | None = None,
    appointments: Sequence[Appointment] | None = None,
) -> OutcomeSummary:
    if plans is None:
        plans = list(patient.plans.select_related("protocol"))
    if appointments is None:
        appointments = list(Appointment.objects.filter(patient=patient).order_by("starts_at"))
    plan = current_plan(plans)
    first = first_session_of(plan, appointments)
    by_instrument: dict[Instrument, list[QuestionnaireResponse]] = {}
    for response in patient_responses(patient):
        by_instrument.setdefault(Instrument(response.instrument), []).append(response)
    first_session = (
        # Until the infusion began: in the chair, or (that step not recorded) the session's start.
        FirstSession(first.pk, first.starts_at, answers_until=first.in_chair_at or first.starts_at)
        if first is not None
        else None
    )
    # The end of the patient's course before this one, if any: this course's baseline comes after it
    # (also while the new course has no session booked yet).
    begins = first.starts_at if first is not None else now
    since = max(
        (
            p.ended_at
            for p in plans
            if plan is not None and p.pk != plan.pk and p.ended_at is not None and p.ended_at <= begins
        ),
        default=None,
    )
    outcomes = {
        instrument: instrument_outcome(
            instrument,
            [ScorePoint(r.completed_at, r.total_score, r.appointment_id) for r in rows],
            first_session,
            since=since,
        )
        for instrument, rows in by_instrument.items()
    }
    plan_state = None
    if plan is not None:
        plan_state = PlanState(
            in_maintenance=plan.phase == Phase.MAINTENANCE,
            active=plan.status == PlanStatus.ACTIVE,
            interval_days=plan.maintenance_interval_days,
            min_interval_days=plan.protocol.maintenance_min_days,
        )
    happened = [
        a.starts_at
        for a in appointments
        if a.status == AppointmentStatus.COMPLETED or (a.status in INFUSION_STATUSES and a.starts_at <= now)
    ]
    latest_flagged = [rows[-1] for rows in by_instrument.values() if rows[-1].flags]
    return OutcomeSummary(
        patient=patient,
        plan=plan,
        first_session=first,
        outcomes=outcomes,
        responses=by_instrument,
        session_times=sorted(happened),
        suggestion=interval_suggestion(outcomes.values(), plan_state),
        latest_flagged=latest_flagged,
    )


# --- Questionnaires due before the next session (portal links) ---

# The portal asks for questionnaires from this long before a session; a reminder inside it carries
# the link (scheduling.reminders.rendering.questionnaire_offset_minutes).
DUE_BEFORE_SESSION = QUESTIONNAIRE_WINDOW


@dataclass(frozen=True)
class DueQuestionnaire:
    instrument: str
    title: str
    appointment: Appointment


def due_questionnaires(
    *, patient: Patient, upcoming: Sequence[Appointment], now: dt.datetime
) -> list[DueQuestionnaire]:
    """Before the next session (within DUE_BEFORE_SESSION): the PHQ-9 and every questionnaire the
    patient has answered before, unless already answered for that session. One query."""
    from measures.questions import PHQ9, PORTAL_QUESTIONNAIRES
    from scheduling.models import UPCOMING_STATUSES

    upcoming_sessions = [
        a for a in upcoming if a.status in UPCOMING_STATUSES and now < a.starts_at <= now + DUE_BEFORE_SESSION
    ]
    if not upcoming_sessions:
        return []
    session = min(upcoming_sessions, key=lambda a: a.starts_at)
    answered = set(
        QuestionnaireResponse.objects.filter(patient=patient).values_list("instrument", "appointment_id").distinct()
    )
    tracked = {PHQ9.instrument.value} | {instrument for instrument, _ in answered}
    done = {instrument for instrument, appointment_id in answered if appointment_id == session.pk}
    return [
        DueQuestionnaire(instrument=code, title=questionnaire.title, appointment=session)
        for code, questionnaire in PORTAL_QUESTIONNAIRES.items()
        if code in tracked and code not in done
    ]
