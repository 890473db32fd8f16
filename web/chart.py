"""The patient's page for staff. The front desk sees contact and scheduling
data; clinicians also see screening, the plan's timeline, the adjustment form
and the plan's history."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from clinic.audit import patients_shown
from clinic.errors import DomainError
from clinic.form_fields import RefusesControlCharacters
from clinic.models import CLINICIAN_ROLES, Role
from clinic.permissions import PrescribersOnly
from patients.models import Patient
from scheduling.engine.wallclock import local_day
from scheduling.errors import StaleVersion
from scheduling.forms import CancelForm, PlanAdjustForm
from scheduling.models import (
    BOOKABLE_PLAN_STATUSES,
    OPEN_PLAN_STATUSES,
    UPCOMING_STATUSES,
    Appointment,
    AppointmentStatus,
    Phase,
    PlanStatus,
    TreatmentPlan,
)
from scheduling.services import (
    patient_eligibility,
    plan_change_interval,
    plan_change_review_date,
    plan_clear_attention,
    plan_end,
    plan_new_induction,
    plan_pause,
    plan_resume,
)
from scheduling.services.appointments import check_in_window
from scheduling.services.courses import courses_short_by
from scheduling.services.plans import (
    CHANGING_THE_INTERVAL,
    CHANGING_THE_REVIEW_DATE,
    ENDING_A_PLAN,
    STARTING_A_NEW_INDUCTION,
    resume_elsewhere,
    resume_enters_maintenance,
    resume_spacing,
)
from web.access import page_required, scoped
from web.common import describe, session_label
from web.measures import chart_section as measures_chart_section
from web.scope import BookingReach, booking_reach, course_elsewhere, make_up_elsewhere

HISTORY_LIMIT = 50


def _check_in_open(appointment: Appointment, now: dt.datetime) -> bool:
    opens, closes = check_in_window(appointment)
    return opens <= now < closes


def allowed_actions(plan: TreatmentPlan) -> list[str]:
    if plan.status == PlanStatus.ACTIVE:
        return [
            PlanAdjustForm.INTERVAL,
            PlanAdjustForm.REVIEW,
            PlanAdjustForm.PAUSE,
            PlanAdjustForm.END,
            PlanAdjustForm.NEW_INDUCTION,
        ]
    if plan.status == PlanStatus.PAUSED:
        return [
            PlanAdjustForm.RESUME,
            PlanAdjustForm.INTERVAL,
            PlanAdjustForm.REVIEW,
            PlanAdjustForm.END,
            PlanAdjustForm.NEW_INDUCTION,
        ]
    if plan.status == PlanStatus.DRAFT:
        return [PlanAdjustForm.INTERVAL, PlanAdjustForm.REVIEW, PlanAdjustForm.END]
    return []


# Clinical decisions about a course: the prescriber's alone (the services refuse anyone else too),
# each named as its service names it in that refusal.
PRESCRIBER_DECISIONS = {
    PlanAdjustForm.INTERVAL: CHANGING_THE_INTERVAL,
    PlanAdjustForm.REVIEW: CHANGING_THE_REVIEW_DATE,
    PlanAdjustForm.END: ENDING_A_PLAN,
    PlanAdjustForm.NEW_INDUCTION: STARTING_A_NEW_INDUCTION,
}
PRESCRIBER_ACTIONS = frozenset(PRESCRIBER_DECISIONS)


def actions_for(plan: TreatmentPlan, staff) -> list[str]:
    """The changes this member of staff may make to the plan now: the form offers only these."""
    actions = allowed_actions(plan)
    if staff.role != Role.PRESCRIBER:
        actions = [a for a in actions if a not in PRESCRIBER_ACTIONS]
    return actions


def refusal_ahead_of_the_form(plan: TreatmentPlan, staff, posted: QueryDict) -> DomainError | None:
    """The API's answer to a posted change that the form, offering only what the plan's state and
    `staff`'s role allow now, would call "not a valid choice"; in the order the API checks: a
    prescriber's decision asked by anyone else (403, as `actions_for` hides it), then a version
    other than the plan's (409: the page was drawn before someone else changed the plan). The
    services check both again, the version under the plan's lock; None when neither applies."""
    decision = PRESCRIBER_DECISIONS.get(posted.get("action", ""))
    if decision is not None and staff.role != Role.PRESCRIBER:
        return PrescribersOnly(f"{decision} is a prescriber's decision.")
    try:
        drawn = int(posted.get("version", ""))
    except ValueError:
        return None  # the form says what is wrong with it
    if drawn >= 1 and drawn != plan.version:
        return StaleVersion.of_plan(current=plan.version, edited=drawn)
    return None


def resume_is_prescribers(plan: TreatmentPlan, staff) -> bool:
    """Whether resuming the paused `plan` is a decision `staff` may not take: every session of its
    induction was held (the last during the pause), so the resume moves it into maintenance, which
    plan_resume leaves to a prescriber. The chart does not offer a nurse that resume."""
    return staff.role != Role.PRESCRIBER and plan.status == PlanStatus.PAUSED and resume_enters_maintenance(plan)


class ClearAttentionForm(RefusesControlCharacters, forms.Form):
    """A clinician's review of the plan's "needs attention" flag; the reason is kept in the plan's history."""

    prefix = "attention"  # the plan-change form on the same page has its own `reason`
    reason = forms.CharField(
        label="Reason for clearing",
        widget=forms.Textarea(attrs={"rows": 2}),
        max_length=1000,
        strip=True,
        error_messages={"required": "Give a reason for clearing the flag; it is kept in the plan's history."},
    )
    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1)


def course_short_by(plan: TreatmentPlan | None) -> int:
    """How many sessions the open plan's induction is missing, for the desk as for clinicians
    (courses_short_by)."""
    return courses_short_by([plan]).get(plan.pk, 0) if plan is not None else 0


def timeline(plan: TreatmentPlan, appointments: list[Appointment]) -> list[dict[str, Any]]:
    """The plan's phases in order (induction round 1, maintenance, induction round 2, ...) with their sessions.
    A phase is one block whatever the dates of its sessions: a new induction started before a
    maintenance session it released has that session's date among its own."""
    by_key: dict[tuple[int, str], dict[str, Any]] = {}
    for appointment in appointments:
        if appointment.plan_id != plan.pk:
            continue
        key = (appointment.induction_round, appointment.phase)
        if key not in by_key:
            title = (
                f"Induction{' round ' + str(appointment.induction_round) if appointment.induction_round > 1 else ''}"
                if appointment.phase == Phase.INDUCTION
                else "Maintenance"
            )
            by_key[key] = {"key": key, "title": title, "phase": appointment.phase, "sessions": []}
        by_key[key]["sessions"].append(appointment)
    # Each round's induction, then the maintenance that follows it.
    phases = sorted(by_key.values(), key=lambda phase: (phase["key"][0], phase["phase"] != Phase.INDUCTION))
    for phase in phases:
        everything = phase["sessions"]
        # Released sessions are listed under "Past and cancelled"; the timeline shows the plan as it stands.
        phase["sessions"] = [a for a in everything if a.is_blocking or a.status == AppointmentStatus.NO_SHOW]
        phase["released"] = sum(a.status == AppointmentStatus.CANCELLED for a in everything)
        phase["done"] = sum(a.status == AppointmentStatus.COMPLETED for a in everything)
        booked = sum(a.is_blocking for a in everything)
        # An induction counts against its protocol: a paused 3-2-1-1-1 after six sessions is
        # "6 of 8 done", not "6 of 6" (the released sessions are not on the timeline).
        planned = plan.protocol.induction_session_count if phase["phase"] == Phase.INDUCTION else 0
        phase["total"] = max(booked, planned)
    return [phase for phase in phases if phase["sessions"] or phase["released"]]


def chart_context(
    request: HttpRequest,
    patient_id: int,
    *,
    now: dt.datetime,
    form: PlanAdjustForm | None = None,
    clear_form: ClearAttentionForm | None = None,
) -> dict[str, Any]:
    patient = get_object_or_404(scoped(Patient.objects.select_related("home_site"), request), pk=patient_id)
    patients_shown(request, [patient.pk])
    staff = request.staff  # type: ignore[attr-defined]
    clinician = staff.role in CLINICIAN_ROLES
    # Only what happened at the viewer's sites: a patient seen at two sites shows each site its own part.
    plans = list(
        scoped(patient.plans.all(), request)
        .select_related("protocol", "site", "prescriber__user", "eligibility_override_by__user")
        .order_by("-created_at")
    )
    open_plan = next((p for p in plans if p.status in OPEN_PLAN_STATUSES), None)
    appointments = list(
        scoped(patient.appointments.all(), request)
        .select_related("site", "chair", "nurse__user", "plan__protocol")
        .order_by("starts_at")
    )
    for appointment in appointments:
        appointment.label = session_label(appointment)  # type: ignore[attr-defined]
        appointment.is_past = appointment.starts_at <= now  # type: ignore[attr-defined]
        appointment.can_cancel = appointment.status in (*UPCOMING_STATUSES, AppointmentStatus.CHECKED_IN)  # type: ignore[attr-defined]
        upcoming_status = appointment.status in UPCOMING_STATUSES
        appointment.can_check_in = upcoming_status and _check_in_open(appointment, now)  # type: ignore[attr-defined]
        appointment.can_undo_check_in = appointment.status == AppointmentStatus.CHECKED_IN  # type: ignore[attr-defined]
        appointment.can_no_show = upcoming_status and appointment.is_past  # type: ignore[attr-defined]
        appointment.can_move = upcoming_status and not appointment.is_past  # type: ignore[attr-defined]
    upcoming = [a for a in appointments if not a.is_past and a.status in UPCOMING_STATUSES]  # type: ignore[attr-defined]
    past = [a for a in appointments if a.is_past or a.status not in UPCOMING_STATUSES]  # type: ignore[attr-defined]
    bookable = next((p for p in plans if p.status in BOOKABLE_PLAN_STATUSES), None)
    # A plan read scoped to the viewer's sites is at one of them: booking_reach's first answer, with
    # no query. Otherwise the patient's open plan elsewhere (one at most: plan_one_open_per_patient)
    # may still be theirs to book a make-up on, at the site its course was booked at.
    reach = (
        BookingReach(plan=bookable)
        if bookable is not None
        else booking_reach(
            staff,
            TreatmentPlan.objects.select_related("site")
            .filter(patient=patient, status__in=BOOKABLE_PLAN_STATUSES)
            .first(),
        )
    )
    make_up_at = reach.make_up_only_at if reach is not None else None
    short_by = course_short_by(open_plan)
    # A course booked at a site the viewer does not work at is made up there, by a desk of that
    # site: the callout says so instead of linking a make-up page that would offer them nothing.
    course_site_elsewhere = make_up_elsewhere(staff, open_plan) if open_plan is not None and short_by else None
    context: dict[str, Any] = {
        "patient": patient,
        "nav": "patients",
        "clinician": clinician,
        "plans": plans,
        "open_plan": open_plan,
        "upcoming": upcoming,
        "past": list(reversed(past)),
        "can_book": open_plan is not None
        and open_plan.status in BOOKABLE_PLAN_STATUSES
        and open_plan.phase != Phase.MAINTENANCE
        and not any(
            a.plan_id == open_plan.pk and a.phase == Phase.INDUCTION and a.induction_round == open_plan.induction_round
            for a in upcoming
        ),
        # The booking page's own test (web.scope.booking_reach): a draft or active plan at the viewer's sites.
        "has_bookable_plan": reach is not None and make_up_at is None,
        # A desk of the course's site only books that course's make-up there (the same test) and sees
        # no more of the plan than that: where the course is and how many sessions it is missing.
        "course_make_up": (
            {"site": make_up_at, "short_by": course_short_by(reach.plan)}
            if reach is not None and make_up_at is not None
            else None
        ),
        "cancel_form": CancelForm(),
        "course_short_by": short_by,
        "course_elsewhere": course_elsewhere(course_site_elsewhere) if course_site_elsewhere is not None else "",
        "age": patient.age_on(local_day(now, patient.home_site.zone)),
    }
    if clinician:
        today = local_day(now, patient.home_site.zone)
        context["eligibility"] = eligibility = patient_eligibility(patient=patient, on=today)
        context["not_overridden"] = eligibility.not_overridden(open_plan) if open_plan else eligibility.reasons
        context["evaluations"] = list(patient.evaluations.select_related("recorded_by")[:3])
        context["flags"] = list(patient.flags.select_related("contraindication", "recorded_by"))
        context["measures"] = measures_chart_section(patient=patient, plans=plans, appointments=appointments, now=now)
        if open_plan is not None:
            context["timeline"] = timeline(open_plan, appointments)
            if open_plan.needs_attention:
                context["clear_attention_form"] = clear_form or ClearAttentionForm(
                    initial={"version": open_plan.version}
                )
            actions = actions_for(open_plan, staff)
            # Offered, the service would refuse it: the chart says whose decision it is instead. A resume
            # sent from a page drawn before the induction was all held is still the service's to refuse.
            context["resume_is_prescribers"] = resume_is_prescribers(open_plan, staff)
            if context["resume_is_prescribers"]:
                actions = [a for a in actions if a != PlanAdjustForm.RESUME]
            elif PlanAdjustForm.RESUME in actions:
                # The rest of the course is booked at its own site, which may not be one of theirs.
                context["resume_elsewhere"] = resume_elsewhere(open_plan, staff)
                if context["resume_elsewhere"]:
                    actions = [a for a in actions if a != PlanAdjustForm.RESUME]
            if form is not None:
                # Drawn again after a refusal: it offers what the chart offers now, and those changes'
                # fields, not what the service refused (the posted choice shows as none chosen).
                form.offer_only(actions)
            context["adjust_form"] = form or PlanAdjustForm(
                allowed=actions,
                initial={
                    "version": open_plan.version,
                    "interval_days": open_plan.maintenance_interval_days,
                    "review_date": open_plan.review_date,
                    "from_date": _default_from_date(open_plan, now),
                    "action": actions[0] if actions else None,
                },
            )
        history_plan = open_plan or (plans[0] if plans else None)
        if history_plan is not None:
            context["history_plan"] = history_plan
            context["history"] = list(
                history_plan.history.select_related("history_user").order_by("-history_date", "-history_id")[
                    :HISTORY_LIMIT
                ]
            )
    return context


def _render_chart(request: HttpRequest, context: dict[str, Any], status: int = 200) -> HttpResponse:
    with timezone.override(context["patient"].home_site.zone):
        return render(request, "web/patient.html", context, status=status)


@require_GET
@page_required("patient_chart")
def patient_chart(request: HttpRequest, patient_id: int) -> HttpResponse:
    return _render_chart(request, chart_context(request, patient_id, now=timezone.now()))


@require_POST
@page_required("plan_adjust")
def plan_adjust(request: HttpRequest, plan_id: int) -> HttpResponse:
    plan = get_object_or_404(
        scoped(TreatmentPlan.objects.select_related("patient", "protocol", "site"), request), pk=plan_id
    )
    patients_shown(request, [plan.patient_id])
    now = timezone.now()
    refused = refusal_ahead_of_the_form(plan, request.staff, request.POST)  # type: ignore[attr-defined]
    if refused is not None:
        # Drawn again as the plan stands now: its version, and the changes it offers this clinician.
        context = chart_context(request, plan.patient_id, now=now)
        context["adjust_problem"] = describe(refused)
        return _render_chart(request, context, status=refused.http_status)
    form = PlanAdjustForm(request.POST, allowed=actions_for(plan, request.staff))  # type: ignore[attr-defined]
    problem = None
    status = 400  # the form refused the input
    if form.is_valid():
        data = form.cleaned_data
        common = {
            "plan": plan,
            "reason": data["reason"],
            "actor": request.user,
            "now": now,
            "expected_version": data["version"],
        }
        try:
            action = data["action"]
            if action == PlanAdjustForm.PAUSE:
                plan_pause(**common)
                messages.success(request, "The plan is paused; its future sessions were released.")
            elif action == PlanAdjustForm.RESUME:
                booked = plan_resume(resume_date=data["from_date"], **common)
                if booked:
                    messages.success(request, f"The plan is resumed; {len(booked)} sessions booked.")
                else:
                    # Nothing booked is news the clinician must read: the plan's flag says why.
                    plan.refresh_from_db(fields=["needs_attention", "attention_reason"])
                    why = plan.attention_reason if plan.needs_attention else ""
                    messages.warning(request, f"The plan is resumed; no session was booked. {why}".strip())
            elif action == PlanAdjustForm.END:
                plan_end(**common)
                messages.success(request, "The plan is ended.")
            elif action == PlanAdjustForm.INTERVAL:
                replan = plan_change_interval(days=data["interval_days"], **common)
                messages.success(
                    request,
                    f"The maintenance interval is now {data['interval_days']} days: {replan.summary(plan.site)}.",
                )
            elif action == PlanAdjustForm.REVIEW:
                changed = plan_change_review_date(review_date=data["review_date"], **common)
                text = f"The review date is now {changed.review_date:%a %-d %b %Y}."
                if changed.needs_attention:
                    messages.warning(request, f"{text} {changed.attention_reason}")
                else:
                    messages.success(request, text)
            elif action == PlanAdjustForm.NEW_INDUCTION:
                booked = plan_new_induction(start_date=data["from_date"], **common)
                messages.success(request, f"A new induction is booked: {len(booked)} sessions.")
            return redirect(reverse("web:patient", args=[plan.patient_id]) + "#plan")
        except DomainError as exc:
            # The refusal's own status, as the API answers it: a prescriber's decision is a 403, a
            # state conflict a 409, a refused input a 400.
            problem, status = describe(exc), exc.http_status
    context = chart_context(request, plan.patient_id, now=now, form=form)
    context["adjust_problem"] = problem
    return _render_chart(request, context, status=status)


@require_POST
@page_required("plan_adjust")
def plan_clear_attention_page(request: HttpRequest, plan_id: int) -> HttpResponse:
    """A clinician clears the plan's "needs attention" flag after review, with a reason, through the
    same service as the API (plan_clear_attention: the plan's lock, its version, its history)."""
    plan = get_object_or_404(scoped(TreatmentPlan.objects.select_related("patient"), request), pk=plan_id)
    patients_shown(request, [plan.patient_id])
    form = ClearAttentionForm(request.POST)
    problem, status = None, 400
    if form.is_valid():
        try:
            plan_clear_attention(
                plan=plan,
                reason=form.cleaned_data["reason"],
                actor=request.user,
                expected_version=form.cleaned_data["version"],
            )
        except DomainError as exc:
            problem, status = describe(exc), exc.http_status
        else:
            messages.success(request, "The flag is cleared; the plan's history keeps your reason.")
            return redirect(reverse("web:patient", args=[plan.patient_id]) + "#plan")
    context = chart_context(request, plan.patient_id, now=timezone.now(), clear_form=form)
    context["attention_problem"] = problem
    return _render_chart(request, context, status=status)


def _default_from_date(plan: TreatmentPlan, now: dt.datetime) -> dt.date:
    """Tomorrow; for a paused plan, not before the plan's rhythm from the last session held
    (which also keeps the protocol's minimum spacing: resuming the day after would be too soon),
    in the phase the resume enters (maintenance's, for an induction all held during the pause)."""
    tomorrow = local_day(now, plan.site.zone) + dt.timedelta(days=1)
    if plan.status != PlanStatus.PAUSED:
        return tomorrow
    suggested = resume_spacing(plan).suggested
    return max(tomorrow, suggested) if suggested is not None else tomorrow
