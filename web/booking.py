"""Picking a time by hand: booking one session (maintenance, or a make-up for a
missed one) and moving one session. Both show every free start over a few days
(the free-slot finder), each checked against the plan's rules; a time the rules
refuse shows why, and only a clinician may take it, with a reason. The write
goes through appointment_book / appointment_move, which re-check under locks."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from clinic.audit import patients_shown
from clinic.errors import DomainError
from clinic.form_fields import RefusesControlCharacters
from clinic.models import Chair, Site, StaffMember
from clinic.permissions import PrescribersOnly, scope_to_staff, works_at
from clinic.public_holidays import unclosed_public_holidays
from patients.models import Patient
from scheduling.engine.wallclock import local_day
from scheduling.forms import DayRangeForm
from scheduling.models import (
    BOOKABLE_PLAN_STATUSES,
    INFUSION_STATUSES,
    UPCOMING_STATUSES,
    Appointment,
    Phase,
    PlanStatus,
    TreatmentPlan,
)
from scheduling.selectors import MaintenanceDue, induction_rule, maintenance_due
from scheduling.services import appointment_book, appointment_move
from scheduling.services.appointments import may_accept_rule_breaks
from scheduling.services.courses import induction_site
from scheduling.services.slot_finder import MAX_DAYS, find_free_slots
from web.access import DESK_ROLES, staff_required
from web.common import (
    ServiceProblem,
    describe,
    free_gap_from_query,
    screening_problem,
    session_label,
    slot_choice,
)
from web.scope import booking_reach, course_elsewhere, staff_sites

DEFAULT_DAYS = 7
MAINTENANCE, MAKE_UP = "maintenance", "make-up"
KINDS = [(MAINTENANCE, "Maintenance session"), (MAKE_UP, "Make-up for a missed session")]


class SlotSearchForm(DayRangeForm):
    max_days = MAX_DAYS
    chair = forms.ModelChoiceField(
        label="Chair", queryset=Chair.objects.none(), required=False, empty_label="Any chair"
    )

    def __init__(self, *args: Any, site: Site, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["chair"].queryset = Chair.objects.filter(site=site, active=True).order_by("name", "pk")
        self.fields["chair"].label_from_instance = lambda chair: chair.name  # str() would load the site per chair


CHOOSE_KIND = "Choose which session to book: one of the kinds listed."


class SingleSearchForm(SlotSearchForm):
    kind = forms.ChoiceField(
        label="Session",
        choices=KINDS,
        widget=forms.RadioSelect,
        initial=MAINTENANCE,
        error_messages={"required": CHOOSE_KIND, "invalid_choice": CHOOSE_KIND},
    )

    field_order = ["kind", "first_day", "last_day", "chair"]

    def __init__(self, *args: Any, in_induction: bool = False, make_up_only: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if make_up_only:
            # A desk of the course's site only (book_session): maintenance goes to the plan's site.
            self.fields["kind"].choices = [(MAKE_UP, "Induction or make-up session")]
        elif in_induction:
            # During the induction `make-up` books the plan's next induction session, whether it
            # replaces a missed one or not (a draft plan's first session too): the label says both.
            # Maintenance stays offered; booking says it follows the induction.
            self.fields["kind"].choices = [(MAKE_UP, "Induction or make-up session"), KINDS[0]]


def default_kind(plan: TreatmentPlan) -> str:
    """Maintenance follows the induction: a plan whose induction round is not all booked yet books
    an induction (or make-up) session; otherwise maintenance."""
    if plan.phase != Phase.INDUCTION:
        return MAINTENANCE
    booked = plan.appointments.filter(
        phase=Phase.INDUCTION, induction_round=plan.induction_round, status__in=INFUSION_STATUSES
    ).count()
    return MAKE_UP if booked < induction_rule(plan.protocol).total_sessions else MAINTENANCE


class SlotPickForm(RefusesControlCharacters, forms.Form):
    """The chosen start and chair, as shown on the page; the service re-checks everything."""

    slot = forms.CharField(error_messages={"required": "Pick one of the free times."})
    override_reason = forms.CharField(
        label="Reason for accepting a rule break",
        required=False,
        max_length=500,
        strip=True,
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def clean_slot(self) -> tuple[dt.datetime, int]:
        chosen = slot_choice(self.cleaned_data["slot"])
        if chosen is None:
            raise forms.ValidationError("Pick one of the free times.")
        return chosen


def _pick_data(request: HttpRequest) -> QueryDict:
    """The booking form as posted, its pick the suggested time when that time's own button (at the top
    of the list) was pressed: the radio below may name another, and the button says what it books."""
    data = request.POST.copy()
    if suggested := request.POST.get("suggested"):
        data["slot"] = suggested
    return data


def _may_accept_rule_breaks(request: HttpRequest) -> bool:
    return may_accept_rule_breaks(request.user)


def _search_initial(now: dt.datetime, site: Site, around: dt.date | None = None) -> dict[str, Any]:
    first = local_day(now, site.zone) + dt.timedelta(days=1)
    if around is not None:
        first = max(first, around - dt.timedelta(days=3))
    return {"first_day": first, "last_day": first + dt.timedelta(days=DEFAULT_DAYS - 1)}


def _chair_names(site: Site) -> dict[int, str]:
    return dict(Chair.objects.filter(site=site).values_list("pk", "name"))


def _slot_days(
    request: HttpRequest,
    form: SlotSearchForm,
    *,
    site: Site,
    patient: Patient,
    plan: TreatmentPlan | None,
    phase: str,
    duration: dt.timedelta,
    route: str,
    now: dt.datetime,
    exclude_id: int | None = None,
) -> list[Any] | None:
    if not form.is_bound or not form.is_valid():
        return None
    chair = form.cleaned_data["chair"]
    days = find_free_slots(
        site=site,
        patient=patient,
        first_day=form.cleaned_data["first_day"],
        last_day=form.cleaned_data["last_day"],
        duration=duration,
        route=route,
        now=now,
        plan=plan,
        phase=phase,
        chair_ids=[chair.pk] if chair else None,
        exclude_id=exclude_id,
    )
    names = _chair_names(site)
    holidays = unclosed_public_holidays(site=site, days=[day.day for day in days if day.choices])
    rows = []
    for day in days:
        choices = [
            {
                "value": f"{c.slot.start.isoformat()}|{c.slot.chair_id}",
                "start": c.slot.start,
                "end": c.slot.end,
                "chair": names.get(c.slot.chair_id, "a chair"),
                "refused": c.refused,
                "why": c.why,
                "preferred": c.preferred,
            }
            for c in day.choices
        ]
        rows.append(
            {
                "day": day.day,
                "reason": day.reason,
                "choices": choices,
                "free": [c for c in choices if not c["refused"]],
                "refused_groups": _group_refusals(choices),
                # Placement takes a public holiday like any open day: the desk is told, and chooses.
                "holiday": holidays.get(day.day),
            }
        )
    return rows


def _group_refusals(choices: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Neighbouring refused times with the same reasons, as one line: a day of them would bury the free ones."""
    groups: list[dict[str, Any]] = []
    current: dict[str, Any] | None = None
    for choice in choices:
        if not choice["refused"]:
            current = None  # a free time in between starts a new run
        elif current is not None and current["reasons"] == choice["refused"]:
            current["choices"].append(choice)
            current["last"] = choice
        else:
            current = {"reasons": choice["refused"], "first": choice, "last": choice, "choices": [choice]}
            groups.append(current)
    return groups


def _render(
    request: HttpRequest, template: str, site: Site, context: dict[str, Any], status: int = 200
) -> HttpResponse:
    may_override = context.setdefault("may_override", _may_accept_rule_breaks(request))
    days = context.get("days")
    if request.method == "POST" and request.POST.get("slot"):
        # A refused pick comes back with the time that was picked still picked (and its group open).
        context["preselect"] = request.POST["slot"]
    if days is not None:
        if context.get("preselect") is None:
            # Nothing named (no pick sent, no gap from the board): the time the site's placement policy
            # suggests is picked, so Book takes it; any other time is one click away.
            context["preselect"] = next((c["value"] for day in days for c in day["free"] if c["why"]), None)
        for day in days:
            for group in day["refused_groups"]:
                group["open"] = any(choice["value"] == context.get("preselect") for choice in group["choices"])
        # A submit button with nothing to pick does nothing visible: shown only when a time can be taken.
        # Times the plan's rules refused: only then is a prescriber the way round.
        context["rule_refused"] = any(day["refused_groups"] for day in days)
        context["any_preferred"] = any(c["preferred"] for day in days for c in day["free"])
        context["pickable"] = any(day["free"] for day in days) or (may_override and context["rule_refused"])
    with timezone.override(site.zone):
        return render(request, template, context, status=status)


def _board_url(appointment: Appointment) -> str:
    day = local_day(appointment.starts_at, appointment.site.zone)
    return f"{reverse('web:board')}?site={appointment.site_id}&day={day.isoformat()}"


def _picked_slot(pick: SlotPickForm, site: Site) -> tuple[dt.datetime, Chair]:
    """The start and chair of the slot picked on a valid pick form; a chair of another site is a 404."""
    starts_at, chair_id = pick.cleaned_data["slot"]
    chair = Chair.objects.filter(pk=chair_id, site=site).first()
    if chair is None:
        raise Http404("No such chair here.")
    return starts_at, chair


def _refused(context: dict[str, Any], exc: DomainError) -> int:
    """Explain on the page why the booking or move was refused; return the page's status."""
    context["problem"] = describe(exc)
    return 403 if isinstance(exc, PrescribersOnly) else 409


def _prefill(request: HttpRequest, site: Site, kind: str) -> tuple[dict[str, str], str] | None:
    """A free gap from the day board: search that chair on that day and pick that start if it is free."""
    gap = free_gap_from_query(request)
    if gap is None:
        return None
    chair, starts_at = gap.chair, gap.starts_at
    day = local_day(starts_at, site.zone).isoformat()
    data = {"kind": kind, "first_day": day, "last_day": day, "chair": chair}
    return data, f"{starts_at.astimezone(dt.UTC).isoformat()}|{chair}"


@staff_required(DESK_ROLES)
@require_http_methods(["GET", "POST"])
def book_session(request: HttpRequest, patient_id: int) -> HttpResponse:
    """One session on the patient's open plan (maintenance, or an induction or make-up session while
    the plan is in its induction), at a time picked from the free slots."""
    staff: StaffMember = request.staff  # type: ignore[attr-defined]
    now = timezone.now()
    patient = get_object_or_404(scope_to_staff(Patient.objects.select_related("home_site"), staff), pk=patient_id)
    patients_shown(request, [patient.pk])
    # The patient has one open plan at most (plan_one_open_per_patient): read it wherever it is, then
    # check the desk may book on it.
    reach = booking_reach(
        staff,
        TreatmentPlan.objects.select_related("protocol", "site")
        .filter(patient=patient, status__in=BOOKABLE_PLAN_STATUSES)
        .first(),
    )
    # A desk of the course's site only books its make-up alone; a desk of neither site sees no plan.
    plan = reach.plan if reach is not None else None
    course_site = reach.make_up_only_at if reach is not None else None
    make_up_only = course_site is not None
    context: dict[str, Any] = {"nav": "patients", "patient": patient, "plan": plan}
    if plan is None:
        # A paused plan at the desk's sites takes no session until a clinician resumes it: said so,
        # rather than "no open plan" (a prescriber asked to create one would be refused: one is open).
        paused = (
            TreatmentPlan.objects.filter(patient=patient, status=PlanStatus.PAUSED).select_related("protocol").first()
        )
        paused_reach = booking_reach(staff, paused)
        return render(
            request,
            "web/booking/single.html",
            {**context, "no_plan": True, "paused_plan": paused_reach.plan if paused_reach is not None else None},
        )
    data = request.POST if request.method == "POST" else (request.GET if "first_day" in request.GET else None)
    usual = MAKE_UP if make_up_only else default_kind(plan)
    # A make-up goes where the course is, which may be another site than the plan's.
    making_up = make_up_only or (
        plan.phase == Phase.INDUCTION and (data.get("kind", usual) if data is not None else usual) != MAINTENANCE
    )
    site = (course_site or induction_site(plan)) if making_up else plan.site
    elsewhere: Site | None = None
    if making_up and not works_at(staff, site):
        # A desk of the plan's site only, whose course was booked at a site they do not work at: its
        # times there cannot be booked by them (appointment_book refuses them), so none is offered.
        # The search stays on the plan's site, where the maintenance the page offers would go.
        elsewhere, site = site, plan.site
    prefill = _prefill(request, site, usual) if data is None else None
    if prefill is not None:
        data, context["preselect"] = prefill
    search = SingleSearchForm(
        data,
        site=site,
        in_induction=plan.phase == Phase.INDUCTION,
        make_up_only=make_up_only,
        initial={**_search_initial(now, site), "kind": usual},
    )
    kind = search.data.get("kind") if search.is_bound else usual
    phase = Phase.MAINTENANCE if kind == MAINTENANCE else plan.phase
    duration = dt.timedelta(minutes=plan.protocol.session_minutes)
    status = 200
    pick = SlotPickForm(_pick_data(request) if request.method == "POST" else None)
    if elsewhere is not None:
        context["problem"] = ServiceProblem(message=course_elsewhere(elsewhere), items=[])
        if request.method == "POST":
            status = 403
        elif search.is_bound and not search.is_valid():
            status = 400
        context.update(search=search, pick=pick, days=None, site=site)
        return _render(request, "web/booking/single.html", site, context, status=status)
    if request.method == "POST" and search.is_valid() and pick.is_valid():
        starts_at, chair = _picked_slot(pick, site)
        try:
            appointment = appointment_book(
                patient=patient,
                site=site,
                starts_at=starts_at,
                plan=plan,
                phase=phase,
                chair=chair,
                actor=request.user,
                now=now,
                override_reason=pick.cleaned_data["override_reason"],
            )
        except DomainError as exc:
            status = _refused(context, exc)
        else:
            when = appointment.starts_at.astimezone(site.zone)
            if kind == MAINTENANCE:
                label = "a maintenance session"
            elif plan.status == PlanStatus.DRAFT:
                label = "an induction session"  # the course's first: nothing to make up yet
            else:
                label = "a make-up session"
            messages.success(request, f"Booked {label} for {patient.full_name} on {when:%a %-d %b %H:%M}.")
            return redirect(_board_url(appointment))
    elif request.method == "POST" or (search.is_bound and not search.is_valid()):
        status = 400
    screening = screening_problem(plan, request.user, now) if "problem" not in context else None
    if screening is not None:
        # Said before any time is offered: booking would refuse each one at the last click.
        context.update(problem=screening, screening_blocked=True, search=search, pick=pick, days=None, site=site)
        return _render(request, "web/booking/single.html", site, context, status=status)
    days = _slot_days(
        request,
        search,
        site=site,
        patient=patient,
        plan=plan,
        phase=phase,
        duration=duration,
        route=plan.protocol.route,
        now=now,
    )
    context.update(search=search, pick=pick, days=days, site=site)
    if kind == MAINTENANCE:
        due = maintenance_due(plan)
        context.update(due=due, due_note=_due_note(due, days, today=local_day(now, plan.site.zone)))
    return _render(request, "web/booking/single.html", site, context, status=status)


def _due_note(due: MaintenanceDue | None, days: list[Any] | None, *, today: dt.date) -> str:
    """How the suggested time's day stands to the day the maintenance session is due: placement may
    take a quieter day inside the plan's interval, and the desk should see that it did."""
    suggested = next((day["day"] for day in days or () for choice in day["free"] if choice["why"]), None)
    if due is None or suggested is None:
        return ""
    offset = (suggested - due.day).days
    was = "was" if due.day < today else "is"
    if offset == 0:
        return f"That is the day it {was} due."
    count = f"{abs(offset)} day{'s' if abs(offset) != 1 else ''}"
    return f"That is {count} {'after' if offset > 0 else 'before'} the day it {was} due ({due.day:%a %-d %b})."


@staff_required(DESK_ROLES)
@require_http_methods(["GET", "POST"])
def move_session(request: HttpRequest, appointment_id: int) -> HttpResponse:
    """Move one session to a free time; the plan's spacing rules are checked and explained."""
    staff: StaffMember = request.staff  # type: ignore[attr-defined]
    now = timezone.now()
    appointment = get_object_or_404(
        Appointment.objects.select_related("patient", "site", "chair", "plan__protocol", "plan__site"),
        pk=appointment_id,
        site__in=staff_sites(staff),
    )
    patients_shown(request, [appointment.patient_id])
    site = appointment.site
    plan = appointment.plan
    context: dict[str, Any] = {
        "nav": "board",
        "appointment": appointment,
        "patient": appointment.patient,
        "plan": plan,
        "label": session_label(appointment),
        "site": site,
    }
    if appointment.status not in UPCOMING_STATUSES or appointment.starts_at <= now:
        context["closed"] = True
        return _render(request, "web/booking/move.html", site, context)
    data = request.POST if request.method == "POST" else (request.GET if "first_day" in request.GET else None)
    search = SlotSearchForm(
        data, site=site, initial=_search_initial(now, site, local_day(appointment.starts_at, site.zone))
    )
    duration = appointment.ends_at - appointment.starts_at
    route = appointment.session_route
    status = 200
    pick = SlotPickForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and search.is_valid() and pick.is_valid():
        starts_at, chair = _picked_slot(pick, site)
        if starts_at == appointment.starts_at and chair.pk == appointment.chair_id:
            # The same form sent again after the move: nothing to do, and nothing to undo.
            messages.info(request, "The session is already at that time.")
            return redirect(_board_url(appointment))
        try:
            old = appointment.starts_at.astimezone(site.zone)
            moved = appointment_move(
                appointment=appointment,
                starts_at=starts_at,
                chair=chair,
                actor=request.user,
                now=now,
                override_reason=pick.cleaned_data["override_reason"],
            )
        except DomainError as exc:
            status = _refused(context, exc)
        else:
            when = moved.starts_at.astimezone(site.zone)
            messages.success(
                request,
                f"Moved {appointment.patient.full_name}'s session from {old:%a %-d %b %H:%M} to {when:%a %-d %b %H:%M}.",
            )
            return redirect(_board_url(moved))
    elif request.method == "POST" or (search.is_bound and not search.is_valid()):
        status = 400
    days = _slot_days(
        request,
        search,
        site=site,
        patient=appointment.patient,
        plan=plan,
        phase=appointment.phase,
        duration=duration,
        route=route,
        now=now,
        exclude_id=appointment.pk,
    )
    # Its own time comes in another chair than its own, if any (find_free_slots): a move to nowhere is not listed.
    context.update(search=search, pick=pick, days=days)
    return _render(request, "web/booking/move.html", site, context, status=status)
