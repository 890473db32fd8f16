"""Front-desk pages: the day board, the week, patient search, booking a
course and the session buttons (check in, no-show, cancel, the ride home)."""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from collections.abc import Mapping
from typing import Any
from zoneinfo import ZoneInfo

import phonenumbers
from django import forms
from django.conf import settings
from django.contrib import messages
from django.core import signing
from django.db import transaction
from django.db.models import Exists, Max, Min, OuterRef, Prefetch, Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_GET, require_POST

from clinic.api_fields import MAX_ID
from clinic.audit import patient_ids_of, patients_shown
from clinic.errors import DomainError
from clinic.form_fields import RefusesControlCharacters
from clinic.models import Chair, Closure, Role, Shift, Site, StaffMember
from clinic.permissions import sites_of
from clinic.public_holidays import days_closed_all_day, site_public_holiday, spans_cover, unclosed_public_holidays
from patients.forms import PatientSearchForm
from patients.models import Patient, one_form
from scheduling.engine import Availability, NoFit, SiteSnapshot
from scheduling.engine.wallclock import day_bounds, local_day
from scheduling.forms import CancelForm, CourseStartForm, UndoCheckInForm, next_weekday
from scheduling.models import (
    BEGUN_STATUSES,
    BLOCKING_STATUSES,
    BOOKABLE_PLAN_STATUSES,
    INFUSION_STATUSES,
    UPCOMING_STATUSES,
    Appointment,
    AppointmentStatus,
    Phase,
    PlanStatus,
    TreatmentPlan,
    lapsed_holds,
)
from scheduling.selectors import (
    day_board,
    maintenance_due,
    opening_hours,
    preferred_starts_of_day,
    protocol_nurse_work,
    session_problem,
    shortest_session_minutes_by_chair,
    site_snapshot,
)
from scheduling.services import (
    ProposedSession,
    appointment_cancel,
    appointment_check_in,
    appointment_confirm,
    appointment_mark_no_show,
    appointment_set_ride,
    appointment_undo_check_in,
    course_book,
    course_propose,
)
from scheduling.services.appointments import check_in_window
from scheduling.services.courses import induction_reflow_propose
from scheduling.services.waitlist import DEFAULT_SESSION, waitlist_fits
from web.access import page_required, safe_next, scoped
from web.board_grid import build_grid
from web.common import (
    FreeGap,
    ServiceProblem,
    describe,
    flash_error,
    free_gap_from_query,
    mark_plan_attention,
    parse_day,
    screening_problem,
    session_label,
)
from web.scope import mark_make_up_elsewhere, staff_sites

PROPOSAL_SALT = "clinic.web.course-proposal"  # the old module path, kept: proposals signed before the move still verify
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


def closures_between(*, site: Site, start: dt.datetime, end: dt.datetime) -> list[Closure]:
    """The site's own closures (its chairs' out-of-use periods among them: `chair` set) and the
    all-site ones that overlap [start, end). One query."""
    return list(
        Closure.objects.filter(Q(site=site) | Q(site__isnull=True), starts_at__lt=end, ends_at__gt=start)
        .select_related("site", "chair")
        .order_by("starts_at", "pk")
    )


def mark_all_day_closures(closures: list[Closure], zone: ZoneInfo) -> None:
    """Sets `all_day_first` and `all_day_last` (local days) on each closure that runs from a local
    midnight to a local midnight, so it reads "Closed all day Thu 26 Nov", never "00:00–00:00"."""
    for closure in closures:
        starts, ends = closure.starts_at.astimezone(zone), closure.ends_at.astimezone(zone)
        whole_days = starts.time() == dt.time(0) and ends.time() == dt.time(0)
        closure.all_day_first = starts.date() if whole_days else None  # type: ignore[attr-defined]
        closure.all_day_last = ends.date() - dt.timedelta(days=1) if whole_days else None  # type: ignore[attr-defined]


def _check_in_open(appointment: Appointment, now: dt.datetime) -> bool:
    opens, closes = check_in_window(appointment)
    return opens <= now < closes


def _natural(chair: Chair) -> list[Any]:
    """ "Chair 2" before "Chair 10", as the desk reads them."""
    return [int(part) if part.isdecimal() else part.lower() for part in re.split(r"(\d+)", chair.name)]


def _nurse_shifts(site: Site, start: dt.datetime, end: dt.datetime, now: dt.datetime) -> list[Shift]:
    """The nurses' shifts over the day: a nurse since deactivated keeps only the shifts she has
    worked (as the engine, which books none of her time, counts her on none to come)."""
    return list(
        Shift.objects.filter(site=site, staff__role=Role.NURSE, starts_at__lt=end, ends_at__gt=start)
        .filter(Q(staff__active=True) | Q(ends_at__lte=now))
        .select_related("staff__user")
        .order_by("starts_at", "pk")
    )


def _hands_on(appointments: list[Appointment]) -> dict[int, list[tuple[dt.datetime, dt.datetime]]]:
    """Each nurse's hands-on intervals (setup, checks, discharge of their sessions' protocols)."""
    found: dict[int, list[tuple[dt.datetime, dt.datetime]]] = {}
    for appointment in appointments:
        if appointment.nurse_id is None or appointment.status not in BLOCKING_STATUSES:
            continue
        work = protocol_nurse_work(appointment.plan.protocol if appointment.plan_id else None)
        found.setdefault(appointment.nurse_id, []).extend(
            (span.start, span.end) for span in work.hands_on(appointment.starts_at, appointment.ends_at)
        )
    return found


def _free_starts(
    snapshot: SiteSnapshot, day: dt.date, gap_minutes: Mapping[int, int], now: dt.datetime
) -> dict[int, list[dt.datetime]]:
    """Each chair's free starts for a session of its own `gap_minutes`, from the engine's one
    free-slot search (a chair, a nurse on shift with room, no closure), so every gap the board offers
    can be booked. One search per distinct length, over the chairs measured by it; a chair without
    a length is searched for no start."""
    chairs_by_minutes: dict[int, set[int]] = {}
    for chair_id, minutes in gap_minutes.items():
        chairs_by_minutes.setdefault(minutes, set()).add(chair_id)
    availability = Availability(snapshot)
    starts: dict[int, list[dt.datetime]] = {}
    for minutes, chair_ids in chairs_by_minutes.items():
        duration = dt.timedelta(minutes=minutes)
        for slot in availability.free_slots(day, duration, None, chair_ids=chair_ids, not_before=now):
            starts.setdefault(slot.chair_id, []).append(slot.start)
    return starts


def board_context(request: HttpRequest, *, now: dt.datetime) -> dict[str, Any]:
    """The day board of one site: a chair-by-time grid over the day's opening hours, with free gaps,
    closures, nurse shifts, nurse load and the preferred starts (the day's plan's, else the day
    template's). Seven reads, whatever the number of sessions (one more when a plan on the board is
    flagged in its induction; one more when one is short and the viewer does not work at every site,
    and induction_site's for each such course with a session elsewhere: mark_make_up_elsewhere; one
    fewer on a closed day, which draws no nurse shifts)."""
    sites = sites_for(request.staff)  # type: ignore[attr-defined]
    site = _pick_site(request, sites)
    today = local_day(now, site.zone)
    day = parse_day(request.GET.get("day"), today)
    appointments = day_board(site=site, day=day, now=now)
    patients_shown(request, patient_ids_of(appointments))
    chairs = sorted(Chair.objects.filter(site=site, active=True).order_by("name", "pk"), key=_natural)
    shows_patients = request.can["patient_chart"]  # type: ignore[attr-defined]
    # A plan flagged for a short induction, as the chart says it (its plan comes with each row).
    mark_plan_attention(appointments, request)
    mark_make_up_elsewhere(appointments, request.staff)  # type: ignore[attr-defined]
    for appointment in appointments:
        appointment.site = site  # every row is at this site; saves a query per row
        appointment.label = session_label(appointment)  # type: ignore[attr-defined]
        appointment.blocking = appointment.status in BLOCKING_STATUSES  # type: ignore[attr-defined]
        appointment.is_late = appointment.status in UPCOMING_STATUSES and appointment.starts_at <= now  # type: ignore[attr-defined]
        appointment.can_no_show = appointment.is_late  # type: ignore[attr-defined]
        appointment.can_check_in = appointment.status in UPCOMING_STATUSES and _check_in_open(appointment, now)  # type: ignore[attr-defined]
        appointment.can_undo_check_in = appointment.status == AppointmentStatus.CHECKED_IN  # type: ignore[attr-defined]
        appointment.can_move = appointment.status in UPCOMING_STATUSES and not appointment.is_late  # type: ignore[attr-defined]
        appointment.can_cancel = appointment.status in (*UPCOMING_STATUSES, AppointmentStatus.CHECKED_IN)  # type: ignore[attr-defined]
        # Who drives the patient home is the patient's data (a name, often the family's): those
        # who see no patients (clinic administrators) are told only whether a ride is recorded.
        ride = appointment.ride_home or appointment.patient.escort_name
        appointment.ride = ride if shows_patients or not ride else "recorded"  # type: ignore[attr-defined]
        appointment.has_actions = any(  # type: ignore[attr-defined]
            (
                appointment.can_check_in,
                appointment.can_undo_check_in,
                appointment.can_move,  # type: ignore[attr-defined]
                appointment.can_no_show,
                appointment.can_cancel,
            )  # type: ignore[attr-defined]
        )
    known = {chair.pk for chair in chairs}
    # A session on a chair since retired still shows, under its own name.
    retired = {a.chair_id: a.chair for a in appointments if a.chair_id not in known}
    live = [a for a in appointments if a.status != AppointmentStatus.CANCELLED]
    day_start, day_end = day_bounds(day, site.zone)
    closures = closures_between(site=site, start=day_start, end=day_end)
    for closure in closures:
        closure.all_day = closure.starts_at <= day_start and closure.ends_at >= day_end  # type: ignore[attr-defined]
    # A chair out of use is drawn in its own row (build_grid) and listed apart: the site is open.
    out_of_use = [closure for closure in closures if closure.chair_id is not None]
    # Closed all day by one closure or by several between them (a morning's and an afternoon's), as
    # closed_all_day counts it, from the closures read above rather than a query of its own.
    closed_all_day_here = spans_cover(
        sorted((c.starts_at, c.ends_at) for c in closures if c.chair_id is None), day_start, day_end
    )
    holiday = site_public_holiday(site=site, day=day)
    # Sessions booked on a public holiday the site is not closed for: most likely nobody typed the closure in.
    unclosed_holiday = holiday if holiday and live and not closed_all_day_here else None
    # A gap is offered in a chair only if the shortest session that chair can take (an active protocol
    # whose route it is equipped for) fits in it: a session is booked only in a chair equipped for its
    # route, so a shorter protocol another chair takes must not open holes here. A chair equipped for
    # no active protocol's route is offered none; with no active protocol at all, the default session.
    by_chair = shortest_session_minutes_by_chair(site=site)
    if by_chair is None:
        by_chair = dict.fromkeys((chair.pk for chair in chairs), int(DEFAULT_SESSION.total_seconds() // 60))
    snapshot = site_snapshot(site=site, start=day_start, end=day_end, chairs=chairs, now=now)
    # A session booked before the site's set-up changed (a closure, hours, a chair, a shift) is
    # marked where it stands, for the desk to move it.
    as_set_up = Availability(snapshot)
    for appointment in appointments:
        upcoming = appointment.status in UPCOMING_STATUSES and appointment.starts_at > now
        appointment.out_of_rule = session_problem(as_set_up, appointment) if upcoming else None  # type: ignore[attr-defined]
    not_open = snapshot.opening.get(day.weekday()) is None
    # A closed day draws no empty grid (no gap to offer, a nurse load of 0/0): only the chairs that
    # still hold a session (booked before the closure was typed in), for the desk to move it. A
    # cancelled one is nothing to move: once the desk has cancelled them all, no chair is drawn.
    closed = not_open or closed_all_day_here
    holding = {appointment.chair_id for appointment in appointments if appointment.status in BLOCKING_STATUSES}
    drawn = [chair for chair in [*chairs, *retired.values()] if not closed or chair.pk in holding]
    # Nor are the nurses' shifts and hands-on minutes drawn then: they plan a working day, and the
    # sessions still booked on a closed one are there only to be moved. Unless one is under way or
    # done (a closure typed in during the day, a burst pipe): its nurses are at work with it.
    worked = closed and any(appointment.status in BEGUN_STATUSES for appointment in appointments)
    nurses_drawn = not closed or worked
    shifts = _nurse_shifts(site, day_start, day_end, now) if nurses_drawn else []
    starred, stars_from_day_plan = preferred_starts_of_day(
        site_id=site.pk,
        day=day,
        opening=snapshot.opening.get(day.weekday()),
        placement_policy=site.placement_policy,
    )
    grid = build_grid(
        day=day,
        zone=site.zone,
        opening=snapshot.opening.get(day.weekday()),
        chairs=drawn,
        sessions=appointments,
        closures=closures,
        shifts=shifts,
        now=now,
        free_starts={} if closed else _free_starts(snapshot, day, by_chair, now),
        gap_minutes=by_chair,
        step_minutes=site.slot_step_minutes,
        max_patients_per_nurse=site.max_patients_per_nurse,
        hands_on=_hands_on(live) if nurses_drawn else {},
        preferred_starts=starred,
    )
    return {
        # The stars are this day's plan (the template solved again around its bookings), not the template.
        "stars_from_day_plan": stars_from_day_plan,
        "closures": [closure for closure in closures if closure.chair_id is None],
        "out_of_use": out_of_use,
        # A weekday without opening hours: the site does not open, so nothing is booked on it.
        "not_open": not_open,
        # Not open, or closed all day: the message stands for the grid unless a session is booked on it.
        "closed": closed,
        # A closed day with a session under way or done: its nurses' shifts are drawn, and only the
        # sessions not yet begun are to be moved.
        "worked": worked,
        # Whether a session still stands on the day (cancelled ones aside): on a closed day, its chairs are drawn.
        "holding": bool(holding),
        "unclosed_holiday": unclosed_holiday,
        "nav": "board",
        "site": site,
        "sites": sites,
        "day": day,
        "today": today,
        "is_today": day == today,
        "previous_day": day - dt.timedelta(days=1),
        "next_day": day + dt.timedelta(days=1),
        "grid": grid,
        "sessions": sorted(appointments, key=lambda a: (_natural(a.chair), a.starts_at)),
        "arrivals": [a for a in live if a.status in ARRIVED],
        "late": [a for a in live if a.is_late],  # type: ignore[attr-defined]
        "to_move": [a for a in live if a.out_of_rule],  # type: ignore[attr-defined]
        "no_ride": [a for a in live if not a.ride and a.status in (*UPCOMING_STATUSES, *ARRIVED)],  # type: ignore[attr-defined]
        "counts": {
            "total": len(live),
            "done": sum(a.status == AppointmentStatus.COMPLETED for a in live),
            # Listed on the day sheet with their reason, apart from the total.
            "cancelled": sum(a.status == AppointmentStatus.CANCELLED for a in appointments),
        },
        "cancel_form": CancelForm(),
        "now": now,
    }


def render_board(request: HttpRequest) -> HttpResponse:
    """The board page for `request.staff`, already checked by the caller."""
    context = board_context(request, now=timezone.now())
    if request.GET.get("print"):
        template = "web/board_print.html"
    elif getattr(request, "htmx", False) and not request.htmx.boosted:  # type: ignore[attr-defined]
        # The 60-second refresh asks for the board's body only.
        template = "web/_board_body.html"
    else:
        template = "web/board.html"
    with timezone.override(context["site"].zone):
        response = render(request, template, context)
    patch_vary_headers(response, ("HX-Request",))
    return response


@require_GET
@page_required("board")
def board(request: HttpRequest) -> HttpResponse:
    return render_board(request)


@require_GET
@page_required("week")
def week(request: HttpRequest) -> HttpResponse:
    """Seven days of one site, Monday first. Three queries (without `?day=`, also the opening hours
    and the closures of the days they still open this week: _week_to_show)."""
    now = timezone.now()
    sites = sites_for(request.staff)  # type: ignore[attr-defined]
    site = _pick_site(request, sites)
    ahead = False
    if request.GET.get("day"):
        day = parse_day(request.GET["day"], local_day(now, site.zone))
    else:
        day = _week_to_show(site, now)
        ahead = day > local_day(now, site.zone)
    monday = day - dt.timedelta(days=day.weekday())
    start, _ = day_bounds(monday, site.zone)
    _, end = day_bounds(monday + dt.timedelta(days=6), site.zone)
    # Cancelled ones too: they are only counted, not listed. Each under the local day it starts on:
    # one running over Sunday midnight into this Monday is the previous week's. A hold lapsed by now
    # is free time, as on the board (lapsed_holds), though the sweep may not have cancelled it yet.
    appointments = list(
        Appointment.objects.filter(site=site, starts_at__gte=start, starts_at__lt=end)
        .exclude(lapsed_holds(now))
        .select_related("patient", "chair", "plan__protocol")
        .order_by("starts_at", "chair__name")
    )
    patients_shown(request, patient_ids_of([a for a in appointments if a.status != AppointmentStatus.CANCELLED]))
    days: dict[dt.date, list[Appointment]] = {monday + dt.timedelta(days=i): [] for i in range(7)}
    tallies: dict[dt.date, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for appointment in appointments:
        on = local_day(appointment.starts_at, site.zone)
        tallies[on][appointment.status] += 1
        if appointment.status == AppointmentStatus.CANCELLED:
            continue
        appointment.label = session_label(appointment)  # type: ignore[attr-defined]
        days.setdefault(on, []).append(appointment)
    closures = closures_between(site=site, start=start, end=end)
    mark_all_day_closures(closures, site.zone)
    closed: dict[dt.date, list[Closure]] = defaultdict(list)
    for closure in closures:
        for offset in range(7):
            day_start, day_end = day_bounds(monday + dt.timedelta(days=offset), site.zone)
            if closure.starts_at < day_end and closure.ends_at > day_start:
                closed[monday + dt.timedelta(days=offset)].append(closure)
    context = {
        "nav": "week",
        "site": site,
        "sites": sites,
        "monday": monday,
        "day": day,
        "days": [(d, sessions, closed[d], _status_counts(tallies[d])) for d, sessions in sorted(days.items())],
        "previous_week": monday - dt.timedelta(days=7),
        "next_week": monday + dt.timedelta(days=7),
        "today": local_day(now, site.zone),
        "ahead": ahead,
    }
    with timezone.override(site.zone):
        return render(request, "web/week.html", context)


def _week_to_show(site: Site, now: dt.datetime) -> dt.date:
    """The day whose week the page shows without `?day=`: today while the site still opens this week
    (today before its closing time, or a later day up to Sunday), else the coming Monday: on a Sunday
    or a Saturday of a weekday clinic the desk works on the week ahead, not the one just ended. A day
    the site's closures cover all day (closed_all_day, as the board counts one) does not open it: the
    Wednesday evening before Thanksgiving and its Friday closed shows the week after. Two queries:
    the opening hours, and the closures of the days they still open this week (none when there is none)."""
    local = now.astimezone(site.zone)
    today = local.date()
    hours = opening_hours(site)
    opening_days = [
        day
        for day in (today + dt.timedelta(days=offset) for offset in range(7 - today.weekday()))
        if (opening := hours.get(day.weekday())) is not None and (day > today or local.time() < opening[1])
    ]
    # The closures are read only when the weekly hours still open a day this week (one query).
    if set(opening_days) - days_closed_all_day(site=site, days=opening_days):
        return today
    return today + dt.timedelta(days=7 - today.weekday())


def _status_counts(tally: dict[str, int]) -> list[dict[str, Any]]:
    """(status, label, count, listed) in the order a day runs, only the statuses that occur. The week
    lists no cancelled session (`listed` False), so its count says it is not among those listed."""
    return [
        {
            "status": status.value,
            "label": status.label,
            "count": tally[status.value],
            "listed": status != AppointmentStatus.CANCELLED,
        }
        for status in AppointmentStatus
        if tally.get(status.value)
    ]


PHONE_CHARACTERS = re.compile(r"^\+?[\d\s().\-/]+$")
# Fewer digits than this is more likely part of a date or an id than a phone number.
PHONE_MIN_DIGITS = 3


def phone_query(text: str) -> Q | None:
    """A query typed as a phone number, however it is formatted ("303-555-0109", "(303) 555-0109",
    "+1 303 555 0109"), matched against the stored E.164 number; a partial run of digits matches
    anywhere in it. None when the text is not a phone number."""
    text = text.strip()
    digits = re.sub(r"\D", "", text)
    if not PHONE_CHARACTERS.match(text) or len(digits) < PHONE_MIN_DIGITS:
        return None
    try:
        parsed = phonenumbers.parse(text, settings.PHONENUMBER_DEFAULT_REGION)
    except phonenumbers.NumberParseException:
        parsed = None
    if parsed is not None and phonenumbers.is_possible_number(parsed):
        whole = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
        return Q(mobile_phone=whole) | Q(mobile_phone__contains=digits)
    return Q(mobile_phone__contains=digits)


def _search_query(text: str) -> Q:
    """Patients whose name, email or phone holds `text` (every word of it); all patients when blank."""
    text = one_form(text)
    query = phone_query(text)
    if query is None:
        query = Q()
        for word in text.split()[:4]:
            query &= (
                Q(first_name__icontains=word)
                | Q(last_name__icontains=word)
                | Q(email__icontains=word)
                | Q(mobile_phone__icontains=word)
            )
    return query


@require_GET
@page_required("patient_search")
def patient_search(request: HttpRequest) -> HttpResponse:
    """Patients by name, email or phone, each with the next session (or, with none booked, when maintenance is
    due). With "Due for a session", only those on an active maintenance plan with nothing booked ahead whose
    next session is due within the days chosen or overdue, the longest overdue first; with no name, every
    such patient of the desk's sites. Two queries, whatever the number of rows (one more naming the chair of a
    board gap the search was reached from)."""
    now = timezone.now()
    free_time = free_gap_from_query(request)
    form = PatientSearchForm(request.GET or None)
    results: list[Patient] = []
    searched = False
    status = 200
    if form.is_bound and not form.is_valid():
        status = 400
    elif form.is_valid() and (form.cleaned_data["q"] or form.cleaned_data["due"] is not None):
        searched = True
        due_within: int | None = form.cleaned_data["due"]
        sites = staff_sites(request.staff)  # type: ignore[attr-defined]
        maintenance = TreatmentPlan.objects.filter(status=PlanStatus.ACTIVE, phase=Phase.MAINTENANCE, site__in=sites)
        patients = scoped(Patient.objects.filter(_search_query(form.cleaned_data["q"])), request)
        if due_within is not None:
            patients = patients.filter(Exists(maintenance.filter(patient=OuterRef("pk"))))
        patients = (
            patients.select_related("home_site")
            .annotate(
                # At the viewer's sites, as the chart shows a patient seen at two sites.
                next_session=Min(
                    "appointments__starts_at",
                    filter=Q(
                        appointments__status__in=UPCOMING_STATUSES,
                        appointments__starts_at__gte=now,
                        appointments__site__in=sites,
                    ),
                ),
                # The same test as the booking page's: a plan sessions can be booked on, at the viewer's sites.
                has_bookable_plan=Exists(
                    TreatmentPlan.objects.filter(
                        patient=OuterRef("pk"),
                        status__in=BOOKABLE_PLAN_STATUSES,
                        site__in=sites,
                    )
                ),
            )
            .prefetch_related(
                # An active maintenance plan at the viewer's sites, with its last session: when nothing is
                # booked ahead, the desk sees when the next one is due. One query for every row.
                Prefetch(
                    "plans",
                    queryset=maintenance.select_related("protocol", "site")
                    .annotate(
                        last_session=Max(
                            "appointments__starts_at", filter=Q(appointments__status__in=INFUSION_STATUSES)
                        )
                    )
                    .order_by("pk"),
                    to_attr="maintenance_plans",
                )
            )
            .order_by("last_name", "first_name", "pk")
        )
        if due_within is None:
            results = list(patients[:SEARCH_LIMIT])
            for patient in results:
                patient.maintenance_due = _maintenance_due(patient, now=now)  # type: ignore[attr-defined]
        else:
            # The due day is each plan's interval after its last session on its site's calendar, which the
            # database cannot compare across sites' zones: every candidate (on a maintenance plan at these
            # sites, nothing booked there) is read, in the same two queries, and the due ones kept.
            due: list[tuple[dt.date, Patient]] = []
            for patient in patients.filter(next_session__isnull=True):
                found = _due_plan(patient)
                if found is None:
                    continue
                plan, day = found
                if day <= local_day(now, plan.site.zone) + dt.timedelta(days=due_within):
                    patient.maintenance_due = _maintenance_due(patient, now=now)  # type: ignore[attr-defined]
                    due.append((day, patient))
            # Sorted by day only: the rows came by name, so a day's patients stay in name order.
            results = [patient for _, patient in sorted(due, key=lambda pair: pair[0])][:SEARCH_LIMIT]
        patients_shown(request, patient_ids_of(results))
    context = {
        "form": form,
        "results": results,
        "searched": searched,
        "due_within": form.cleaned_data.get("due") if form.is_valid() else None,
        "nav": "patients",
        "free_time": free_time,
        # Its chair, named only when it is one of the desk's sites' (the id came in the address).
        "free_chair": _free_gap_chair(free_time, request.staff),  # type: ignore[attr-defined]
    }
    if getattr(request, "htmx", False) and not request.htmx.boosted:  # type: ignore[attr-defined]
        # Typing in the box asks for the results only.
        response = render(request, "web/_patient_results.html", context, status=status)
    else:
        response = render(request, "web/patient_search.html", context, status=status)
    patch_vary_headers(response, ("HX-Request",))
    return response


def _free_gap_chair(free_time: FreeGap | None, staff: StaffMember) -> str | None:
    """The name of the board gap's chair, when it is a chair of the desk's sites (the id came in the
    address: any other, or one no key could be, names nothing)."""
    if free_time is None or not free_time.chair.isascii() or len(free_time.chair) > 9:
        return None
    return (
        Chair.objects.filter(pk=int(free_time.chair), site__in=staff_sites(staff))
        .values_list("name", flat=True)
        .first()
    )


def _due_plan(patient: Patient) -> tuple[TreatmentPlan, dt.date] | None:
    """The patient's active maintenance plan with a session given, and the day its next session is due:
    the plan's interval after its last session, as maintenance is laid out (maintenance_target). None
    without such a plan."""
    for plan in patient.maintenance_plans:  # type: ignore[attr-defined]
        if plan.last_session is None:
            continue
        due = maintenance_due(plan, plan.last_session)
        if due is not None:
            return plan, due.day
    return None


def _maintenance_due(patient: Patient, *, now: dt.datetime) -> dict[str, Any] | None:
    """When the next maintenance session of the patient's active maintenance plan is due, with nothing
    booked ahead (_due_plan), and whether that day has passed. None when a session is booked or no such plan."""
    if patient.next_session is not None:  # type: ignore[attr-defined]
        return None
    found = _due_plan(patient)
    if found is None:
        return None
    plan, due = found
    # Due today is due, not overdue: overdue once the day has passed without a session.
    return {"day": due, "overdue": due < local_day(now, plan.site.zone)}


def _book_page(request: HttpRequest, plan: TreatmentPlan, **extra: Any) -> HttpResponse:
    patients_shown(request, [plan.patient_id])
    context = {"plan": plan, "patient": plan.patient, "nav": "patients", **extra}
    with timezone.override(plan.site.zone):
        return render(request, "web/book_course.html", context, status=extra.pop("status", 200))


def _proposal_rows(sessions: list[ProposedSession], *, site: Site) -> list[dict[str, Any]]:
    chairs = Chair.objects.in_bulk({s.chair_id for s in sessions})
    nurses = StaffMember.objects.select_related("user").in_bulk({s.nurse_id for s in sessions})
    # Placement takes a public holiday like any open day: each session on one says so, for the desk to choose.
    holidays = unclosed_public_holidays(site=site, days=[local_day(s.starts_at, site.zone) for s in sessions])
    return [
        {
            "sequence": s.sequence,
            "starts_at": s.starts_at,
            "ends_at": s.ends_at,
            "chair": chairs.get(s.chair_id),
            "nurse": nurses.get(s.nurse_id),
            "why": s.why,
            "holiday": holidays.get(local_day(s.starts_at, site.zone)),
        }
        for s in sessions
    ]


def _alternative_rows(found: list[dict[str, Any]], *, plan: TreatmentPlan) -> list[dict[str, Any]]:
    """The nearest courses a refusal offers (`CourseDoesNotFit.details["alternatives"]`), each with
    its sessions' starts and the public holidays among their days that its site is not closed for:
    placement takes a holiday like any open day, as in a proposal. An alternative at another site is
    shown in that site's zone (the page renders each row under `site.zone`), and `zone_name` names
    the zone (its abbreviation at the first session) when it is not the plan site's, so the desk
    is not misled by a time that looks like the plan site's. One query per site offered."""
    sites = {plan.site_id: plan.site}
    others = {alt["site"] for alt in found} - set(sites)
    if others:
        sites.update(Site.objects.in_bulk(others))
    rows = []
    for alt in found:
        site = sites.get(alt["site"])
        if site is None:
            continue
        first = _instant(alt["first_session"])
        rows.append(
            {
                "label": alt["label"],
                "site": site,
                "first": first,
                "first_day": local_day(first, site.zone),
                "zone_name": first.astimezone(site.zone).tzname() if site.time_zone != plan.site.time_zone else "",
                "starts": [_instant(session["starts_at"]) for session in alt["sessions"]],
                # Why the site's placement policy chose the first session's time: the reasons alone,
                # as the line already gives the day and time (each session has its why: "Propose
                # this" shows them all).
                "why": alt["sessions"][0].get("because", "") if alt["sessions"] else "",
            }
        )
    for site_id, site in sites.items():
        mine = [row for row in rows if row["site"].pk == site_id]
        holidays = unclosed_public_holidays(
            site=site, days=[local_day(start, site.zone) for row in mine for start in row["starts"]]
        )
        for row in mine:
            days = sorted({local_day(start, site.zone) for start in row["starts"]})
            row["holidays"] = [holidays[day] for day in days if day in holidays]
    return rows


# Said of a site the desk may not use, whatever the reason (not one of theirs, unknown, not an id),
# so the answer does not tell which sites exist.
NOT_YOUR_SITE = "That site is not one of the sites you work at; propose a course at one of yours."


def _site_to_propose_at(request: HttpRequest, plan: TreatmentPlan) -> Site | None:
    """The site the POST asks the course to be proposed at (an alternative's "Propose this" names
    it): the plan's when it names none or the plan's, else one of the sites the desk works at, the
    rule the API applies to propose-course's `site` (scope_serializer) and course_book to the
    sessions' site (require_works_at). None when it names any other: another's, unknown, not an id."""
    raw = request.POST.get("site")
    if raw is None or raw == "":
        return plan.site
    # MAX_ID: a larger one would fail in the database (ids are 64-bit), not say why.
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= MAX_ID:
        return None
    if int(raw) == plan.site_id:
        return plan.site  # as when none is named: the page's own proposal
    return staff_sites(request.staff).filter(pk=int(raw)).first()  # type: ignore[attr-defined]


def _instant(text: str) -> dt.datetime:
    """An instant as a refusal's details give it (ISO 8601, UTC written `Z`)."""
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


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
            sequence=seq,
            phase=phase,
            starts_at=dt.datetime.fromisoformat(start),
            ends_at=dt.datetime.fromisoformat(end),
            chair_id=chair,
            nurse_id=nurse,
            site_id=site,
        )
        for seq, phase, start, end, chair, nurse, site in payload["sessions"]
    ]


@page_required("book_course")
def book_course(request: HttpRequest, plan_id: int) -> HttpResponse:
    """Pick a start date, see every proposed session, book them all in one POST."""
    plan = get_object_or_404(
        scoped(TreatmentPlan.objects.select_related("patient", "protocol", "site", "prescriber__user"), request),
        pk=plan_id,
    )
    now = timezone.now()
    if plan.status not in BOOKABLE_PLAN_STATUSES:
        return _book_page(request, plan, closed=True, form=None)
    # The screening is said first: booking would refuse every session of every proposal.
    screening = screening_problem(plan, request.user, now)
    if request.method == "GET":
        first = max(plan.start_date, local_day(now, plan.site.zone) + dt.timedelta(days=1))
        return _book_page(
            request,
            plan,
            form=CourseStartForm(initial={"start_date": next_weekday(first)}),
            problem=screening,
            screening_blocked=screening is not None,
        )
    if request.method != "POST":
        return HttpResponse(status=405)
    form = CourseStartForm(request.POST)
    site = _site_to_propose_at(request, plan)
    if site is None:
        return _book_page(request, plan, form=form, problem=ServiceProblem(message=NOT_YOUR_SITE, items=[]), status=400)
    expired = False
    if "proposal" in request.POST:
        sessions = _decode(request.POST["proposal"], plan)
        expired = sessions is None
        if sessions is None:
            if form.is_valid():
                # Proposed afresh from the same start date, below (the message says so).
                messages.error(request, "That proposal has expired; here is a fresh one.")
            else:
                messages.error(request, "That proposal has expired; choose the start date again.")
                return _book_page(request, plan, form=form, status=400)
        else:
            try:
                created = course_book(plan=plan, actor=request.user, now=now, sessions=sessions)
            except DomainError as exc:
                return _book_page(request, plan, form=form, problem=describe(exc), status=409)
            messages.success(request, f"Booked {len(created)} sessions for {plan.patient.full_name}.")
            # The board of the site the sessions were booked at (another than the plan's, from an alternative).
            return redirect(_board_url(created[0]))
    if not form.is_valid():
        return _book_page(request, plan, form=form, status=400)
    if screening is not None:
        return _book_page(request, plan, form=form, problem=screening, screening_blocked=True, status=409)
    try:
        proposal = course_propose(
            plan=plan, start_date=form.cleaned_data["start_date"], now=now, site=site, actor=request.user
        )
    except DomainError as exc:
        problem = describe(exc)
        alternatives = _alternative_rows((exc.details or {}).get("alternatives", []), plan=plan)
        return _book_page(
            request,
            plan,
            form=form,
            problem=problem,
            alternatives=alternatives,
            # Each public holiday the alternatives run over, said once (as a proposal says it).
            alternative_holidays=list(
                {(alt["site"].pk, h.day): (h, alt["site"]) for alt in alternatives for h in alt["holidays"]}.values()
            ),
            status=409,
        )
    return _book_page(
        request,
        plan,
        form=form,
        proposal=_proposal_rows(proposal.sessions, site=proposal.site),
        proposal_site=proposal.site,
        notes=proposal.notes,
        token=_encode(plan, proposal.sessions),
        # The proposal sent was refused (expired or altered): a fresh one, but the request failed.
        status=400 if expired else 200,
    )


class RideHomeForm(RefusesControlCharacters, forms.Form):
    # Blank and too long are the service's to refuse, in the words the API answers too.
    ride_home = forms.CharField(label="Driver home", required=False, strip=True)


def _appointment_for_staff(request: HttpRequest, appointment_id: int) -> Appointment:
    return get_object_or_404(scoped(Appointment.objects.select_related("patient", "site"), request), pk=appointment_id)


def _board_url(appointment: Appointment) -> str:
    day = local_day(appointment.starts_at, appointment.site.zone)
    return f"{reverse('web:board')}?site={appointment.site_id}&day={day.isoformat()}"


def _placed(starts_and_chairs: Any) -> str:
    """The replacement a rebook page showed, as its form carries it back: each time and chair."""
    return " ".join(f"{start.astimezone(dt.UTC).isoformat()}@{chair_id}" for start, chair_id in starts_and_chairs)


class _NotTheReplacementShown(Exception):
    """The rebook would book other times than the page showed: nothing is kept."""


def _cancel_rebook_page(
    request: HttpRequest,
    appointment: Appointment,
    *,
    reason: str,
    back: str,
    now: dt.datetime,
    changed: bool = False,
) -> HttpResponse:
    """Show the replacement a cancel-and-rebook would book, before anything is written (`changed`:
    again, because the one shown before was taken meanwhile)."""
    replacement: list[dt.datetime] = []
    reasons: list[str] = []
    shown = ""
    problem = ""
    if (
        appointment.plan_id
        and appointment.phase == Phase.INDUCTION
        and appointment.status in (*UPCOMING_STATUSES, AppointmentStatus.CHECKED_IN)
    ):
        plan = TreatmentPlan.objects.select_related("protocol", "site", "patient").get(pk=appointment.plan_id)
        proposal = induction_reflow_propose(plan=plan, missed=appointment, now=now)
        if isinstance(proposal, NoFit):
            problem = proposal.reason
        elif proposal is not None:
            replacement = [slot.start for slot in proposal.slots]
            reasons = proposal.reasons or [""] * len(replacement)
            shown = _placed((slot.start, slot.chair_id) for slot in proposal.slots)
    else:
        problem = "Only an upcoming induction session of a course has a replacement to book."
    context = {
        "a": appointment,
        "reason": reason,
        "back": back,
        "replacement": replacement,
        # Each replacement's time and why the site's placement policy chose it.
        "replacement_rows": [{"starts_at": start, "why": why} for start, why in zip(replacement, reasons, strict=True)],
        "replacement_problem": problem,
        "shown": shown,
        "changed": changed,
        "nav": "board",
        "site": appointment.site,
    }
    with timezone.override(appointment.site.zone):
        return render(request, "web/cancel_rebook.html", context)


@require_POST
@page_required("appointment_action")
def appointment_action(request: HttpRequest, appointment_id: int, action: str) -> HttpResponse:
    appointment = _appointment_for_staff(request, appointment_id)
    patients_shown(request, [appointment.patient_id])
    back = safe_next(request, _board_url(appointment))
    now = timezone.now()
    name = appointment.patient.full_name
    try:
        if action == "check-in":
            appointment_check_in(appointment=appointment, actor=request.user, now=now)
            messages.success(request, f"{name} is checked in.")
        elif action == "undo-check-in":
            undo = UndoCheckInForm(request.POST)
            if not undo.is_valid():
                messages.error(request, " ".join(undo.errors["reason"]))
                return redirect(back)
            appointment_undo_check_in(
                appointment=appointment, actor=request.user, reason=undo.cleaned_data["reason"], now=now
            )
            messages.success(request, f"{name}'s check-in is undone.")
        elif action == "confirm":
            appointment_confirm(appointment=appointment, actor=request.user, now=now)
            messages.success(request, f"{name}'s session is confirmed.")
        elif action == "ride":
            ride = RideHomeForm(request.POST)
            if not ride.is_valid():
                messages.error(request, " ".join(ride.errors["ride_home"]))
                return redirect(back)
            appointment_set_ride(
                appointment=appointment, ride_home=ride.cleaned_data["ride_home"], actor=request.user, now=now
            )
            messages.success(request, f"{name}'s ride home is recorded.")
        elif action == "no-show":
            outcome = appointment_mark_no_show(appointment=appointment, actor=request.user, now=now)
            messages.success(request, f"{name} is marked as a no-show. {outcome.course}")
        elif action == "cancel":
            form = CancelForm(request.POST)
            if not form.is_valid():
                messages.error(request, " ".join(form.errors["reason"]))
                return redirect(back)
            reason = form.cleaned_data["reason"]
            mode = request.POST.get("mode", "cancel-only")
            if mode == "propose-rebook":
                return _cancel_rebook_page(request, appointment, reason=reason, back=back, now=now)
            # Only an explicit "cancel and rebook" books a replacement; a plain cancel never does. It
            # books the replacement the page showed, or nothing: the desk may have told the patient.
            shown = request.POST.get("shown") if mode == "rebook" else None
            try:
                with transaction.atomic():
                    outcome = appointment_cancel(
                        appointment=appointment, actor=request.user, reason=reason, now=now, rebook=mode == "rebook"
                    )
                    # Booked other times, or none where the page showed some (a refusal by the
                    # screening books none either, and says so: that cancel stands).
                    booked = _placed((a.starts_at, a.chair_id) for a in outcome.rebooked)
                    refused_by_screening = not outcome.rebooked and outcome.replacement_starts_at is not None
                    if shown is not None and booked != shown and not refused_by_screening:
                        raise _NotTheReplacementShown
            except _NotTheReplacementShown:
                appointment.refresh_from_db()
                return _cancel_rebook_page(request, appointment, reason=reason, back=back, now=now, changed=True)
            # Named from the offer's own matching (the offers are written by a task after the commit).
            fits = (
                [entry.patient.full_name for entry in waitlist_fits(freed=outcome.appointment, now=now)]
                if outcome.waitlist_offered
                else []
            )
            waiting = f" Waiting patients who fit ({', '.join(fits)}) will be offered the chair." if fits else ""
            messages.success(request, f"{name}'s session is cancelled. {outcome.course}{waiting}")
        else:
            raise Http404("Unknown action.")
    except DomainError as exc:
        flash_error(request, exc)
    return redirect(back)
