"""Small helpers shared by the page modules."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest
from simple_history.models import HistoricalRecords

from clinic.dates import in_range, query_day
from clinic.permissions import may_see_field
from scheduling.errors import NotEligible, SchedulingError
from scheduling.labels import session_label as session_label  # the pages' name for it, one rule
from scheduling.models import BLOCKING_STATUSES, Appointment, TreatmentPlan
from scheduling.services.courses import courses_short_by
from scheduling.services.eligibility import require_eligible


def mark_plan_attention(appointments: Iterable[Appointment], request: HttpRequest) -> None:
    """Mark each session of a plan flagged for attention, loaded with its plan and protocol, as the
    chart marks the plan: `course_short` (courses_short_by, as the chart's "Course short" notice) for the desk and clinicians, a scheduling fact shown with a
    link to book the make-up; `attention_reason`, the flag's reason, for those who may read it
    (clinicians) only. Only the plan's live sessions (BLOCKING_STATUSES: held, booked, confirmed,
    checked in, in the chair, completed) are marked: a cancelled session or a no-show, still drawn
    on the board, is no session of the course any more. Nothing for those who see no patients. One
    query when a listed plan is flagged in its induction, none otherwise."""
    rows = list(appointments)
    for appointment in rows:
        appointment.course_short = 0  # type: ignore[attr-defined]
        appointment.attention_reason = ""  # type: ignore[attr-defined]
    if not request.can["patient_chart"]:  # type: ignore[attr-defined]
        return
    live = [a for a in rows if a.status in BLOCKING_STATUSES]
    flagged = {a.plan_id: a.plan for a in live if a.plan_id and a.plan.needs_attention}
    short = courses_short_by(flagged.values())
    reads_reason = may_see_field(request.staff.role, "plan", "attention_reason")  # type: ignore[attr-defined]
    for appointment in live:
        plan = flagged.get(appointment.plan_id)
        if plan is None:
            continue
        appointment.course_short = short.get(plan.pk, 0)  # type: ignore[attr-defined]
        appointment.attention_reason = plan.attention_reason if reads_reason else ""  # type: ignore[attr-defined]


@dataclass
class ServiceProblem:
    """A service error in the words the page shows."""

    message: str
    items: list[str]


def describe(exc: SchedulingError) -> ServiceProblem:
    details = exc.details or {}
    items: list[str] = []
    for key in ("violations", "reasons", "days"):
        value = details.get(key)
        if isinstance(value, list):
            items.extend(str(v) for v in value if str(v) not in exc.message)
    return ServiceProblem(message=exc.message, items=items)


def screening_problem(plan: TreatmentPlan, user: Any, now: dt.datetime) -> ServiceProblem | None:
    """Why the patient's screening stops anything being booked on `plan` now, said before any time
    is offered (booking would refuse each one at the last click), in the words booking would use
    for `user` (the reasons for a clinician, that a prescriber's decision is needed for the desk)."""
    try:
        require_eligible(plan=plan, now=now, actor=user)
    except NotEligible as exc:
        return describe(exc)
    return None


def flash_error(request: HttpRequest, exc: SchedulingError) -> None:
    problem = describe(exc)
    messages.error(request, " ".join([problem.message, *problem.items]))


def parse_day(raw: str | None, fallback: dt.date) -> dt.date:
    """`?day=`: empty means `fallback`; malformed or outside the clinical range answers 400."""
    return query_day(raw, fallback)


@dataclass(frozen=True)
class FreeGap:
    """A free gap picked on the day board, carried as `?chair=<id>&at=<ISO time with offset>`."""

    chair: str
    at: str
    starts_at: dt.datetime


def free_gap_from_query(request: HttpRequest) -> FreeGap | None:
    """The board's free gap in the query string, or None when it is missing or malformed (the page
    then behaves as if nothing was picked). Only the shape is checked; the booking checks the chair."""
    chair, at = request.GET.get("chair", ""), request.GET.get("at", "")
    try:
        starts_at = dt.datetime.fromisoformat(at)
    except ValueError:
        return None
    if not chair.isdigit() or starts_at.tzinfo is None or not in_range(starts_at):
        return None
    return FreeGap(chair=chair, at=at, starts_at=starts_at)


def slot_choice(raw: str) -> tuple[dt.datetime, int] | None:
    """A free time picked from a list, posted as `<ISO start with offset>|<chair id>`: the start and
    the chair, or None when it is not one (malformed, no offset, or outside the clinical range, which
    a hand-edited form can send). Only the shape is checked; the booking service checks the rest."""
    try:
        start_raw, chair_raw = raw.split("|")
        starts_at = dt.datetime.fromisoformat(start_raw)
    except ValueError:
        return None
    if not chair_raw.isascii() or not chair_raw.isdigit() or starts_at.tzinfo is None or not in_range(starts_at):
        return None
    return starts_at, int(chair_raw)


@contextlib.contextmanager
def acting_for_the_link() -> Iterator[None]:
    """Writes made through a signed link (a reminder's confirm or cancel, a waitlist offer's accept)
    act for the link's patient, whoever is signed in on that browser: their history names no user
    (simple_history would take the signed-in one from the request)."""
    request = getattr(HistoricalRecords.context, "request", None)
    if request is None:
        yield
        return
    signed_in = request.user
    request.user = AnonymousUser()
    try:
        yield
    finally:
        request.user = signed_in
