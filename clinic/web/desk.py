"""Front-desk pages: the day board, the week, patient search, booking a
course and the session buttons (check in, no-show, cancel)."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

from django.contrib import messages
from django.core import signing
from django.db.models import Min, Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from clinic.models import Chair, Site, StaffMember
from clinic.permissions import sites_of
from clinic.web.access import page_required, safe_next, scoped
from clinic.web.common import describe, flash_error, parse_day, session_label
from patients.forms import PatientSearchForm
from patients.models import Patient
from scheduling.engine.wallclock import day_bounds, local_day
from scheduling.errors import SchedulingError
from scheduling.forms import CancelForm, CourseStartForm, next_weekday
from scheduling.models import (
    UPCOMING_STATUSES,
    Appointment,
    AppointmentStatus,
    PlanStatus,
    TreatmentPlan,
)
from scheduling.selectors import day_board
from scheduling.services import (
    ProposedSession,
    appointment_cancel,
    appointment_check_in,
    appointment_confirm,
    appointment_mark_no_show,
    course_book,
    course_propose,
)

PROPOSAL_SALT = "clinic.web.course-proposal"
PROPOSAL_MAX_AGE = 60 * 60
SEARCH_LIMIT = 50
ARRIVED = (AppointmentStatus.CHECKED_IN, AppointmentStatus.IN_CHAIR)


def sites_for(staff: StaffMember) -> list[Site]:
    """The sites `staff` works at (every site for clinic-wide staff); none is a 404 page, not all."""
    return sites_of(staff)


def _pick_site(request: HttpRequest, sites: list[Site]) -> Site:
    wanted = request.GET.get("site")
    if wanted:
        for site in sites:
            if str(site.pk) == wanted:
                return site
        raise Http404("No such site for you.")
    if not sites:
        raise Http404("No site is set up yet.")
    return sites[0]


def board_context(request: HttpRequest, *, now: dt.datetime) -> dict[str, Any]:
    """The day board of one site: chairs as rows, each with its sessions in time order. Four queries."""
    sites = sites_for(request.staff)  # type: ignore[attr-defined]
    site = _pick_site(request, sites)
    today = local_day(now, site.zone)
    day = parse_day(request.GET.get("day"), today)
    appointments = day_board(site=site, day=day)
    chairs = list(Chair.objects.filter(site=site, active=True).order_by("name", "pk"))
    by_chair: dict[int, list[Appointment]] = defaultdict(list)
    for appointment in appointments:
        appointment.label = session_label(appointment)  # type: ignore[attr-defined]
        appointment.is_late = appointment.status in UPCOMING_STATUSES and appointment.starts_at <= now  # type: ignore[attr-defined]
        appointment.can_no_show = appointment.is_late  # type: ignore[attr-defined]
        appointment.can_check_in = appointment.status in UPCOMING_STATUSES  # type: ignore[attr-defined]
        appointment.can_cancel = appointment.status in (*UPCOMING_STATUSES, AppointmentStatus.CHECKED_IN)  # type: ignore[attr-defined]
        appointment.ride = appointment.ride_home or appointment.patient.escort_name  # type: ignore[attr-defined]
        by_chair[appointment.chair_id].append(appointment)
    known = {chair.pk for chair in chairs}
    # A session on a chair since retired still shows, under its own name.
    retired = {a.chair_id: a.chair for a in appointments if a.chair_id not in known}
    rows = [(chair, by_chair[chair.pk]) for chair in [*chairs, *retired.values()]]
    live = [a for a in appointments if a.status != AppointmentStatus.CANCELLED]
    return {
        "nav": "board",
        "site": site,
        "sites": sites,
        "day": day,
        "today": today,
        "is_today": day == today,
        "previous_day": day - dt.timedelta(days=1),
        "next_day": day + dt.timedelta(days=1),
        "rows": rows,
        "arrivals": [a for a in live if a.status in ARRIVED],
        "late": [a for a in live if a.is_late],  # type: ignore[attr-defined]
        "no_ride": [a for a in live if not a.ride and a.status in (*UPCOMING_STATUSES, *ARRIVED)],  # type: ignore[attr-defined]
        "counts": {"total": len(live), "done": sum(a.status == AppointmentStatus.COMPLETED for a in live)},
        "cancel_form": CancelForm(),
        "now": now,
    }


def render_board(request: HttpRequest) -> HttpResponse:
    """The board page for `request.staff`, already checked by the caller."""
    context = board_context(request, now=timezone.now())
    with timezone.override(context["site"].zone):
        return render(request, "web/board.html", context)


@require_GET
@page_required("board")
def board(request: HttpRequest) -> HttpResponse:
    return render_board(request)


@require_GET
@page_required("week")
def week(request: HttpRequest) -> HttpResponse:
    """Seven days of one site, Monday first. Three queries."""
    now = timezone.now()
    sites = sites_for(request.staff)  # type: ignore[attr-defined]
    site = _pick_site(request, sites)
    day = parse_day(request.GET.get("day"), local_day(now, site.zone))
    monday = day - dt.timedelta(days=day.weekday())
    start, _ = day_bounds(monday, site.zone)
    _, end = day_bounds(monday + dt.timedelta(days=6), site.zone)
    appointments = list(
        Appointment.objects.filter(site=site, starts_at__lt=end, ends_at__gt=start)
        .exclude(status=AppointmentStatus.CANCELLED)
        .select_related("patient", "chair", "plan__protocol")
        .order_by("starts_at", "chair__name")
    )
    days: dict[dt.date, list[Appointment]] = {monday + dt.timedelta(days=i): [] for i in range(7)}
    for appointment in appointments:
        appointment.label = session_label(appointment)  # type: ignore[attr-defined]
        days.setdefault(local_day(appointment.starts_at, site.zone), []).append(appointment)
    context = {
        "nav": "week", "site": site, "sites": sites, "days": sorted(days.items()), "monday": monday, "day": day,
        "previous_week": monday - dt.timedelta(days=7), "next_week": monday + dt.timedelta(days=7),
        "today": local_day(now, site.zone),
    }
    with timezone.override(site.zone):
        return render(request, "web/week.html", context)


@require_GET
@page_required("patient_search")
def patient_search(request: HttpRequest) -> HttpResponse:
    """Patients by name, email or phone, each with the next session. One query."""
    now = timezone.now()
    form = PatientSearchForm(request.GET or None)
    results: list[Patient] = []
    searched = False
    if form.is_valid() and form.cleaned_data["q"]:
        searched = True
        query = Q()
        for word in form.cleaned_data["q"].split()[:4]:
            query &= (
                Q(first_name__icontains=word) | Q(last_name__icontains=word)
                | Q(email__icontains=word) | Q(mobile_phone__icontains=word)
            )
        results = list(
            scoped(Patient.objects.filter(query), request)
            .select_related("home_site")
            .annotate(
                next_session=Min(
                    "appointments__starts_at",
                    filter=Q(appointments__status__in=UPCOMING_STATUSES, appointments__starts_at__gte=now),
                )
            )
            .order_by("last_name", "first_name")[:SEARCH_LIMIT]
        )
    return render(request, "web/patient_search.html", {"form": form, "results": results, "searched": searched, "nav": "patients"})


def _book_page(request: HttpRequest, plan: TreatmentPlan, **extra: Any) -> HttpResponse:
    context = {"plan": plan, "patient": plan.patient, "nav": "patients", **extra}
    with timezone.override(plan.site.zone):
        return render(request, "web/book_course.html", context, status=extra.pop("status", 200))


def _proposal_rows(sessions: list[ProposedSession]) -> list[dict[str, Any]]:
    chairs = Chair.objects.in_bulk({s.chair_id for s in sessions})
    nurses = StaffMember.objects.select_related("user").in_bulk({s.nurse_id for s in sessions})
    return [
        {
            "sequence": s.sequence, "starts_at": s.starts_at, "ends_at": s.ends_at,
            "chair": chairs.get(s.chair_id), "nurse": nurses.get(s.nurse_id),
        }
        for s in sessions
    ]


def _encode(plan: TreatmentPlan, sessions: list[ProposedSession]) -> str:
    payload = {
        "plan": plan.pk,
        "sessions": [
            [s.sequence, s.phase, s.starts_at.isoformat(), s.ends_at.isoformat(), s.chair_id, s.nurse_id, s.site_id]
            for s in sessions
        ],
    }
    return signing.dumps(payload, salt=PROPOSAL_SALT, compress=True)


def _decode(token: str, plan: TreatmentPlan) -> list[ProposedSession] | None:
    try:
        payload = signing.loads(token, salt=PROPOSAL_SALT, max_age=PROPOSAL_MAX_AGE)
    except signing.BadSignature:
        return None
    if payload.get("plan") != plan.pk:
        return None
    return [
        ProposedSession(
            sequence=seq, phase=phase, starts_at=dt.datetime.fromisoformat(start), ends_at=dt.datetime.fromisoformat(end),
            chair_id=chair, nurse_id=nurse, site_id=site,
        )
        for seq, phase, start, end, chair, nurse, site in payload["sessions"]
    ]


@page_required("book_course")
def book_course(request: HttpRequest, plan_id: int) -> HttpResponse:
    """Pick a start date, see every proposed session, book them all in one POST."""
    plan = get_object_or_404(
        scoped(TreatmentPlan.objects.select_related("patient", "protocol", "site", "prescriber__user"), request), pk=plan_id
    )
    now = timezone.now()
    if plan.status not in (PlanStatus.DRAFT, PlanStatus.ACTIVE):
        return _book_page(request, plan, closed=True, form=None)
    if request.method == "GET":
        first = max(plan.start_date, local_day(now, plan.site.zone) + dt.timedelta(days=1))
        return _book_page(request, plan, form=CourseStartForm(initial={"start_date": next_weekday(first)}))
    if request.method != "POST":
        return HttpResponse(status=405)
    form = CourseStartForm(request.POST)
    if "proposal" in request.POST:
        sessions = _decode(request.POST["proposal"], plan)
        if sessions is None:
            messages.error(request, "That proposal has expired; here is a fresh one.")
            return _book_page(request, plan, form=form, status=400)
        try:
            created = course_book(plan=plan, actor=request.user, now=now, sessions=sessions)
        except SchedulingError as exc:
            return _book_page(request, plan, form=form, problem=describe(exc), status=409)
        first_day = local_day(created[0].starts_at, plan.site.zone)
        messages.success(request, f"Booked {len(created)} sessions for {plan.patient.full_name}.")
        return redirect(f"{reverse('web:board')}?site={plan.site_id}&day={first_day.isoformat()}")
    if not form.is_valid():
        return _book_page(request, plan, form=form, status=400)
    try:
        proposal = course_propose(plan=plan, start_date=form.cleaned_data["start_date"], now=now)
    except SchedulingError as exc:
        problem = describe(exc)
        alternatives = [
            {"label": alt["label"], "first": dt.datetime.fromisoformat(alt["first_session"])}
            for alt in (exc.details or {}).get("alternatives", [])
        ]
        return _book_page(request, plan, form=form, problem=problem, alternatives=alternatives, status=409)
    return _book_page(
        request, plan, form=form, proposal=_proposal_rows(proposal.sessions), notes=proposal.notes,
        token=_encode(plan, proposal.sessions),
    )


def _appointment_for_staff(request: HttpRequest, appointment_id: int) -> Appointment:
    return get_object_or_404(scoped(Appointment.objects.select_related("patient", "site"), request), pk=appointment_id)


def _board_url(appointment: Appointment) -> str:
    day = local_day(appointment.starts_at, appointment.site.zone)
    return f"{reverse('web:board')}?site={appointment.site_id}&day={day.isoformat()}"


@require_POST
@page_required("appointment_action")
def appointment_action(request: HttpRequest, appointment_id: int, action: str) -> HttpResponse:
    appointment = _appointment_for_staff(request, appointment_id)
    back = safe_next(request, _board_url(appointment))
    now = timezone.now()
    name = appointment.patient.full_name
    try:
        if action == "check-in":
            appointment_check_in(appointment=appointment, actor=request.user, now=now)
            messages.success(request, f"{name} is checked in.")
        elif action == "confirm":
            appointment_confirm(appointment=appointment, actor=request.user, now=now)
            messages.success(request, f"{name}'s session is confirmed.")
        elif action == "no-show":
            appointment_mark_no_show(appointment=appointment, actor=request.user, now=now)
            messages.success(request, f"{name} is marked as a no-show.")
        elif action == "cancel":
            form = CancelForm(request.POST)
            if not form.is_valid():
                messages.error(request, " ".join(form.errors["reason"]))
                return redirect(back)
            appointment_cancel(appointment=appointment, actor=request.user, reason=form.cleaned_data["reason"], now=now)
            messages.success(request, f"{name}'s session is cancelled.")
        else:
            raise Http404("Unknown action.")
    except SchedulingError as exc:
        flash_error(request, exc)
    return redirect(back)

