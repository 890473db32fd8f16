"""seed_demo on PostgreSQL: one realistic clinic, collision-free, idempotent."""

from __future__ import annotations

import copy
import datetime as dt
import io
import itertools
from collections import defaultdict
from decimal import Decimal

import pytest
from django.apps import apps
from django.conf import settings
from django.contrib import admin
from django.contrib.auth import authenticate, get_user_model
from django.core.management import call_command
from django.db import connection
from django.http import HttpRequest
from django.urls import reverse

from clinic.models import Chair, Closure, OpeningHours, Role, Shift, Site, StaffMember
from clinical.models import Administration, ControlledSubstanceEntry, VitalsPhase
from clinical.services import completion_missing, latest_vitals, start_hold_reasons
from patients.models import Contraindication, Evaluation, Patient
from scheduling.engine.placement import CLOSING_MARGIN
from scheduling.models import (
    BLOCKING_STATUSES,
    Appointment,
    AppointmentStatus,
    DayTemplate,
    DayTemplateState,
    Phase,
    PlanStatus,
    Protocol,
    TreatmentPlan,
)
from scheduling.selectors import protocol_nurse_work
from scheduling.services.plans import plan_change_interval
from tests import clock, factories
from tests.admin_pages import as_posted, errors_on
from tests.conftest import built_for_the_test, built_once_per_module
from web.demo import seeder
from web.demo.seeder import session_shape
from web.management.commands.seed_demo import DEMO_LOGINS, DEMO_PASSWORD, DEMO_SITE_NAME

BLOCKING = [s.value for s in BLOCKING_STATUSES]


# The seed's dates follow the clock: it is made once, at the default instant (tests/clock.py), and
# each test runs on that clock. tests/test_seed_demo_room.py seeds at every instant.
pytestmark = pytest.mark.clock(calendar=False)


def _seed() -> Site:
    call_command("seed_demo", stdout=io.StringIO())
    return Site.objects.get(name=DEMO_SITE_NAME)


@pytest.fixture(scope="module")
def demo_built(request: pytest.FixtureRequest, django_db_setup, django_db_blocker):
    """The demo clinic, seeded once for the module (tests/conftest.py, built_once_per_module)."""
    yield from built_once_per_module(request, django_db_blocker, _seed, clock.instant(clock.DEFAULT_INSTANT))


@pytest.fixture
def seeded(request: pytest.FixtureRequest, db, demo_built) -> Site:
    return built_for_the_test(request, demo_built, _seed)


def test_site_chairs_hours_and_closure(seeded):
    site = seeded
    assert site.time_zone == "America/Denver"
    assert site.address and str(site.phone)
    hours = {h.weekday: (h.opens_at, h.closes_at) for h in OpeningHours.objects.filter(site=site)}
    assert hours == {
        **{day: (dt.time(8), dt.time(18)) for day in range(5)},
        5: (dt.time(9), dt.time(13)),
    }
    chairs = Chair.objects.filter(site=site)
    assert chairs.count() == 6
    assert all(chair.equipment == ["iv", "intranasal"] for chair in chairs)
    assert site.reminder_policy.offsets_hours
    thanksgiving = Closure.objects.get(site=site)
    assert thanksgiving.starts_at.astimezone(site.zone) == dt.datetime(2026, 11, 26, tzinfo=site.zone)


def test_staff_roles_logins_and_shifts(seeded, clock_now):
    roles = defaultdict(int)
    for member in StaffMember.objects.filter(sites=seeded):
        roles[member.role] += 1
    assert roles == {Role.FRONT_DESK: 2, Role.NURSE: 4, Role.PRESCRIBER: 2, Role.CLINIC_ADMIN: 1}
    for username in DEMO_LOGINS:
        # django-axes checks every authentication against the request it came with.
        assert authenticate(HttpRequest(), username=username, password=DEMO_PASSWORD) is not None, username
    admin_user = get_user_model().objects.get(username="admin")
    assert admin_user.is_staff and admin_user.is_superuser
    assert StaffMember.objects.get(user__username="clinician").role == Role.PRESCRIBER
    assert StaffMember.objects.get(user__username="nurse").role == Role.NURSE
    assert Patient.objects.get(user__username="patient").appointments.filter(starts_at__gt=clock_now).exists()

    today = clock_now.astimezone(seeded.zone).date()
    for member in StaffMember.objects.filter(role__in=[Role.NURSE, Role.PRESCRIBER]):
        shifts = Shift.objects.filter(staff=member)
        local_days = {s.starts_at.astimezone(seeded.zone).date() for s in shifts}
        assert min(local_days) <= today - dt.timedelta(days=49)
        assert max(local_days) >= today + dt.timedelta(days=49)
        for shift in shifts:
            opens, closes = {5: (dt.time(9), dt.time(13))}.get(
                shift.starts_at.astimezone(seeded.zone).weekday(), (dt.time(8), dt.time(18))
            )
            assert shift.starts_at.astimezone(seeded.zone).time() == opens
            assert shift.ends_at.astimezone(seeded.zone).time() == closes


def test_the_rota_reaches_every_open_plans_review_date(seeded, clock_now):
    """Sessions are booked eight weeks ahead, but a clinician changing a demo plan places sessions up
    to its review date: the nurses' rota reaches it, so a longer interval is not flagged for want
    of a nurse on shift (it was: the rota stopped with the bookings)."""
    last_review = max(
        TreatmentPlan.objects.filter(status__in=[PlanStatus.ACTIVE, PlanStatus.PAUSED, PlanStatus.DRAFT]).values_list(
            "review_date", flat=True
        )
    )
    for member in StaffMember.objects.filter(role=Role.NURSE):
        last_shift = max(s.starts_at.astimezone(seeded.zone).date() for s in Shift.objects.filter(staff=member))
        # The rota's last open day: at most a weekend (and a closed Sunday) before the review date.
        assert last_shift >= last_review - dt.timedelta(days=2), member

    prescriber = get_user_model().objects.get(username="clinician")
    maintenance = TreatmentPlan.objects.filter(status=PlanStatus.ACTIVE, phase=Phase.MAINTENANCE, needs_attention=False)
    assert maintenance.exists()
    for plan in maintenance:
        plan_change_interval(
            plan=plan,
            days=21 if plan.maintenance_interval_days != 21 else 28,
            reason="Relief fades sooner.",
            actor=prescriber,
            now=clock_now,
        )
        plan.refresh_from_db()
        assert not plan.needs_attention, (plan.pk, plan.attention_reason)


def test_completed_sessions_have_the_record_the_completion_gate_asks_for(seeded):
    """A completed demo session has its record as a nurse keeps it: the completion gate finds nothing
    missing, the ketamine is in the controlled-substance log by its protocol's route with a total that
    is the dose times the weight, and the times follow the session record's order (pre-infusion
    vitals, infusion, recovery vitals, discharge after the least monitoring, inside the session)."""
    completed = list(
        Appointment.objects.filter(site=seeded, status=AppointmentStatus.COMPLETED).select_related("plan__protocol")
    )
    assert completed
    monitoring = dt.timedelta(minutes=settings.DISCHARGE_MIN_MONITORING_MINUTES)
    for session in completed:
        assert completion_missing(appointment=session) == [], session.pk
        given = session.administration
        assert given.route == session.plan.protocol.route
        assert given.total_mg == (given.dose_mg_per_kg * given.weight_kg).quantize(Decimal("0.01"))
        [line] = ControlledSubstanceEntry.objects.filter(administration=given)
        assert (line.total_mg, line.route, line.administered_at) == (given.total_mg, given.route, given.started_at)
        pre = latest_vitals(session, VitalsPhase.PRE)
        after = latest_vitals(session, VitalsPhase.RECOVERY)
        # The session record's order: check-in, pre-infusion vitals, the chair (the start gate), the infusion.
        assert session.checked_in_at <= pre.recorded_at <= session.in_chair_at <= given.started_at
        assert given.started_at < given.ended_at <= after.recorded_at
        assert after.recorded_at <= session.recovery.discharged_at < session.ends_at
        assert session.recovery.discharged_at >= given.ended_at + monitoring
        assert not start_hold_reasons(appointment=session)
    # Not every patient weighs the same, and a patient weighs the same at each session.
    weights = {}
    for given in Administration.objects.filter(appointment__site=seeded):
        assert weights.setdefault(given.appointment.patient_id, given.weight_kg) == given.weight_kg
    assert len(set(weights.values())) > 1


def test_the_controlled_substance_register_is_written_in_time_order(seeded):
    """The demo's register reads as a clinic's does: each line written after the one before it."""
    recorded = list(
        ControlledSubstanceEntry.objects.filter(site=seeded).order_by("pk").values_list("recorded_at", flat=True)
    )
    assert len(recorded) > 10
    assert recorded == sorted(recorded)


def test_contraindications_and_protocols(seeded):
    rules = {c.code: (c.kind, c.threshold) for c in Contraindication.objects.all()}
    assert rules["under-18"] == ("min_age", 18)
    assert rules["systolic-above-160"] == ("max_systolic", 160)
    assert rules["diastolic-above-100"] == ("max_diastolic", 100)
    assert rules["heart-rate-above-110"] == ("max_heart_rate", 110)
    assert rules["seizure-history"] == ("seizure_history", None)
    for flag in ("pregnancy", "active-psychosis", "substance-misuse"):
        assert rules[flag] == ("flag", None)

    window = Protocol.objects.get(induction_pattern=Protocol.InductionPattern.WINDOW, name__icontains="six")
    assert (window.induction_sessions, window.induction_window_days, window.min_gap_hours) == (6, 21, 48)
    weekly = Protocol.objects.get(induction_pattern=Protocol.InductionPattern.WEEKLY, name__icontains="3-2-1-1-1")
    assert (weekly.weekly_counts, weekly.min_gap_hours) == ([3, 2, 1, 1, 1], 24)
    for protocol in (window, weekly):
        assert protocol.route == "iv" and protocol.session_minutes == 120
        assert (protocol.maintenance_min_days, protocol.maintenance_default_days, protocol.maintenance_max_days) == (
            14,
            28,
            42,
        )


def test_patients_at_every_stage(seeded, clock_now):
    patients = Patient.objects.filter(home_site=seeded)
    assert 25 <= patients.count() <= 35
    assert patients.filter(plans__isnull=True).exists(), "nobody in screening"
    plans = TreatmentPlan.objects.filter(site=seeded)
    stages = {(p.status, p.phase) for p in plans}
    assert (PlanStatus.DRAFT, Phase.INDUCTION) in stages
    assert (PlanStatus.ACTIVE, Phase.INDUCTION) in stages
    assert (PlanStatus.ACTIVE, Phase.MAINTENANCE) in stages
    assert {PlanStatus.PAUSED, PlanStatus.ENDED, PlanStatus.COMPLETED} <= {p.status for p in plans}
    # Every patient with a plan was evaluated first.
    assert not plans.exclude(patient__in=Evaluation.objects.values("patient")).exists()
    # Mid-induction patients have sessions behind and ahead of them.
    now = clock_now
    mid = plans.filter(status=PlanStatus.ACTIVE, phase=Phase.INDUCTION)
    assert any(
        p.appointments.filter(starts_at__lt=now).exists() and p.appointments.filter(starts_at__gt=now).exists()
        for p in mid
    )


def test_appointments_past_and_future_respect_hours(seeded, clock_now):
    now = clock_now
    appointments = list(Appointment.objects.filter(site=seeded).select_related("plan__protocol"))
    past = [a for a in appointments if a.ends_at <= now]
    future = [a for a in appointments if a.starts_at > now]
    assert len(past) > 50 and len(future) > 20
    assert {a.status for a in past} <= {
        AppointmentStatus.COMPLETED,
        AppointmentStatus.NO_SHOW,
        AppointmentStatus.CANCELLED,
    }
    assert {AppointmentStatus.NO_SHOW, AppointmentStatus.CANCELLED} & {a.status for a in past}
    assert {a.status for a in future} <= {AppointmentStatus.BOOKED, AppointmentStatus.CONFIRMED}
    closure = Closure.objects.get(site=seeded)
    hours = {h.weekday: h for h in OpeningHours.objects.filter(site=seeded)}
    for appointment in appointments:
        start = appointment.starts_at.astimezone(seeded.zone)
        end = appointment.ends_at.astimezone(seeded.zone)
        day_hours = hours[start.weekday()]
        assert start.date() == end.date()
        assert day_hours.opens_at <= start.time() and end.time() <= day_hours.closes_at
        assert not (closure.starts_at < appointment.ends_at and appointment.starts_at < closure.ends_at)
        assert appointment.nurse is not None
        assert Shift.objects.filter(
            staff=appointment.nurse, starts_at__lte=appointment.starts_at, ends_at__gte=appointment.ends_at
        ).exists()


def overlapping_pairs(column: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT count(*) FROM scheduling_appointment a
            JOIN scheduling_appointment b ON a.{column} = b.{column} AND a.id < b.id
            WHERE a.status = ANY(%s) AND b.status = ANY(%s)
              AND tstzrange(a.starts_at, a.ends_at, '[)') && tstzrange(b.starts_at, b.ends_at, '[)')
            """,
            [BLOCKING, BLOCKING],
        )
        return cursor.fetchone()[0]


def test_no_chair_or_patient_overlaps_and_no_nurse_over_ratio(seeded):
    assert overlapping_pairs("chair_id") == 0
    assert overlapping_pairs("patient_id") == 0
    # Sweep each nurse's blocking sessions: at no instant more patients than the site allows.
    by_nurse = defaultdict(list)
    for appointment in Appointment.objects.filter(site=seeded, status__in=BLOCKING):
        by_nurse[appointment.nurse_id] += [(appointment.starts_at, 1), (appointment.ends_at, -1)]
    for events in by_nurse.values():
        watching = peak = 0
        for _, change in sorted(events, key=lambda event: (event[0], event[1])):
            watching += change
            peak = max(peak, watching)
        assert peak <= seeded.max_patients_per_nurse


def test_no_nurse_has_more_hands_on_work_at_once_than_the_site_allows(seeded):
    """Booking refuses a session whose setup, check or discharge would overlap more of its nurse's
    hands-on work than `setups_per_nurse`; the seed, written around the services, keeps it too."""
    peaks = hands_on_peaks(seeded)
    assert len(peaks) == 4  # every nurse has sessions
    assert all(peak <= seeded.setups_per_nurse for peak in peaks.values()), peaks


def hands_on_peaks(site: Site) -> dict[int, int]:
    """nurse id -> the most pieces of her hands-on work (setup, check, discharge) under way at once."""
    pieces = defaultdict(list)
    for appointment in Appointment.objects.filter(site=site, status__in=BLOCKING).select_related("plan__protocol"):
        for span in protocol_nurse_work(appointment.plan.protocol).hands_on(appointment.starts_at, appointment.ends_at):
            pieces[appointment.nurse_id] += [(span.start, 1), (span.end, -1)]
    peaks = {}
    for nurse_id, events in pieces.items():
        at_once = peaks[nurse_id] = 0
        for _, change in sorted(events, key=lambda event: (event[0], event[1])):
            at_once += change
            peaks[nurse_id] = max(peaks[nurse_id], at_once)
    return peaks


def weekday_sessions(site: Site, *, since_template: bool = True) -> list[Appointment]:
    """The site's weekday sessions from the day its day template was computed on (or before it)."""
    template = DayTemplate.objects.get(site=site, state=DayTemplateState.DONE)
    taken_up = template.computed_at.astimezone(site.zone).date()
    return [
        a
        for a in Appointment.objects.filter(site=site).select_related("chair")
        if (local := a.starts_at.astimezone(site.zone)).weekday() < 5 and (local.date() >= taken_up) == since_template
    ]


def test_weekday_sessions_sit_on_the_sites_day_template_with_the_nurse_its_lane_names(seeded, clock_now):
    """The seed solves the site's day template as a clinic administrator would have it solved (kept:
    the board shows its free starts, and level placement prefers them), as of four weeks ago, and
    lays the weekday sessions since on its starts, each with the nurse placement gives that chair:
    the lane-th nurse on shift, by id. So the demo shows staggered starts, not every chair starting
    at opening."""
    template = DayTemplate.objects.get(site=seeded, state=DayTemplateState.DONE)
    assert template.solver_status == "OPTIMAL"
    assert template.computed_by is None  # the seed, not a person, computed it
    assert clock_now.astimezone(seeded.zone).date() - template.computed_at.astimezone(seeded.zone).date() == (
        dt.timedelta(weeks=4)
    )
    lanes = {entry["chair_id"]: entry["lane"] for entry in template.starts}
    starts = defaultdict(set)
    for entry in template.starts:
        starts[entry["chair_id"]].add(dt.time.fromisoformat(entry["start"]))
    nurses = sorted(StaffMember.objects.filter(sites=seeded, role=Role.NURSE).values_list("pk", flat=True))
    weekday = weekday_sessions(seeded)  # Saturday's sessions lie on a day solved for its own hours
    assert len(weekday) > 60
    for appointment in weekday:
        local = appointment.starts_at.astimezone(seeded.zone)
        assert local.time() in starts[appointment.chair_id], (appointment.pk, local, appointment.chair_id)
        assert appointment.nurse_id == nurses[lanes[appointment.chair_id] % len(nurses)], appointment.pk
    # Staggered: the template's chairs do not all start at opening.
    assert len({min(times) for times in starts.values()}) > 1
    # As level placement does, a day's sessions take the starts that end within the placement's
    # closing margin last: in the sparse demo, none, though the template has such starts.
    closes = {h.weekday: h.closes_at for h in OpeningHours.objects.filter(site=seeded)}

    def near_closing(day: dt.date, end: dt.time) -> bool:
        return dt.datetime.combine(day, end) > dt.datetime.combine(day, closes[day.weekday()]) - CLOSING_MARGIN

    assert not any(near_closing((local := a.ends_at.astimezone(seeded.zone)).date(), local.time()) for a in weekday)
    minutes = {int(p["id"]): int(p["chair_minutes"]) for p in template.inputs["protocols"]}
    a_weekday = dt.date(2026, 12, 7)  # a Monday: the template is for the weekdays' hours
    assert any(
        near_closing(
            a_weekday,
            (
                dt.datetime.combine(a_weekday, dt.time.fromisoformat(e["start"]))
                + dt.timedelta(minutes=minutes[e["protocol_id"]])
            ).time(),
        )
        for e in template.starts
    )


def test_before_its_day_template_the_clinic_booked_the_earliest_free_times_and_setups_piled_at_opening(
    seeded, client, clock_now
):
    """The clinic took up its day template four weeks ago. Its sessions before then lie where booking's
    `earliest` policy puts them (the earliest free time, with the nurse booking picks): most start at
    opening, each nurse setting one up, with the rules kept (the hands-on and ratio tests cover every
    day). The capacity page, split at the template by default, shows the load moved from the morning
    into the whole day."""
    before, since = weekday_sessions(seeded, since_template=False), weekday_sessions(seeded)
    assert len(before) > 30 and len(since) > 30
    opens = OpeningHours.objects.get(site=seeded, weekday=0).opens_at

    def at_opening(sessions: list[Appointment]) -> float:
        return sum(a.starts_at.astimezone(seeded.zone).time() == opens for a in sessions) / len(sessions)

    assert at_opening(before) > 0.6 > 0.3 > at_opening(since), (at_opening(before), at_opening(since))
    at_opening_by_day = defaultdict(list)
    for a in before:
        if a.starts_at.astimezone(seeded.zone).time() == opens:
            at_opening_by_day[a.starts_at.astimezone(seeded.zone).date()].append(a.nurse_id)
    nurses = StaffMember.objects.filter(sites=seeded, role=Role.NURSE).count()
    # One setup per nurse at once: the sessions at opening each have their own nurse, and on the
    # busy days every nurse has one.
    assert all(len(set(ids)) == len(ids) for ids in at_opening_by_day.values()), at_opening_by_day
    assert max(len(ids) for ids in at_opening_by_day.values()) == nurses

    admin_user = get_user_model().objects.get(username="admin")
    client.force_login(admin_user)
    page = client.get(reverse("web:capacity"))
    assert page.status_code == 200
    report = page.context["report"]
    before_use, since_use = (period.chair_utilisation for period in report.periods)
    assert [p.window.label for p in report.periods] == ["4 weeks before", "4 weeks since"]
    assert report.periods[1].window.first_day == clock_now.astimezone(seeded.zone).date() - dt.timedelta(weeks=4)
    # A like volume in both (no note that they differ), laid out differently: before, the chairs
    # were busy in the morning and all but idle after noon; since, the load runs through the day.
    assert page.context["notes"] == []

    def use(shares: list[float | None], hours: range) -> float:
        return sum(shares[report.hours.index(hour)] or 0 for hour in hours) / len(hours)

    assert use(before_use, range(8, 10)) > 2 * use(since_use, range(8, 10)), (before_use, since_use)
    assert use(since_use, range(12, 17)) > 4 * use(before_use, range(12, 17)), (before_use, since_use)


@pytest.mark.django_db
def test_with_another_protocol_active_each_session_takes_a_start_the_template_gave_its_own_kind(clock_now):
    """The site's template is solved for every active protocol, as an administrator's would be. With a
    longer one active (150 minutes, its checks elsewhere), some starts are laid out for it: a demo
    session does not take one (it would fit, but its nurse's work there is not what the template
    kept apart); each takes a start of a protocol of its own shape."""
    longer = factories.ProtocolFactory(name="IV ketamine, long sessions", session_minutes=150)
    call_command("seed_demo", stdout=io.StringIO())
    site = Site.objects.get(name=DEMO_SITE_NAME)
    template = DayTemplate.objects.get(site=site, state=DayTemplateState.DONE)
    kinds = {(entry["chair_id"], entry["start"]): entry["protocol_id"] for entry in template.starts}
    assert longer.pk in kinds.values()
    shape = {protocol.pk: session_shape(protocol) for protocol in Protocol.objects.all()}
    weekday = weekday_sessions(site)  # the sessions laid on the template
    assert len(weekday) > 60
    for appointment in weekday:
        start = appointment.starts_at.astimezone(site.zone).strftime("%H:%M")
        kind = kinds[appointment.chair_id, start]
        assert shape[kind] == shape[appointment.plan.protocol_id], (appointment.pk, start, kind)


@pytest.mark.django_db
def test_a_clinic_whose_template_names_shifts_not_lanes_is_seeded_with_the_nurses_it_names(monkeypatch, clock_now):
    """Two nurses on five chairs, on a 5-minute grid: sharing the chairs holds a session more than lanes
    of their own (tests/scheduling/test_day_template_solver.py), so the template names each start's
    nurse by her rank on the shift, not by a lane. The seed lays the sessions out with those nurses,
    and no nurse's hands-on work or ratio is broken."""
    data = copy.deepcopy(seeder.demo_data())
    data["site"]["chairs"] = 5
    data["site"]["slot_step_minutes"] = 5
    data["staff"] = [row for row in data["staff"] if row[0] not in ("nurse3", "nurse4")]
    monkeypatch.setattr(seeder, "demo_data", lambda: data)

    call_command("seed_demo", stdout=io.StringIO())

    site = Site.objects.get(name=DEMO_SITE_NAME)
    template = DayTemplate.objects.get(site=site, state=DayTemplateState.DONE)
    assert not any("lane" in entry for entry in template.starts)
    rank = {(entry["chair_id"], entry["start"]): entry["shift_rank"] for entry in template.starts}
    nurses = sorted(StaffMember.objects.filter(sites=site, role=Role.NURSE).values_list("pk", flat=True))
    assert len(nurses) == 2
    weekday = weekday_sessions(site)  # the sessions laid on the template
    assert len(weekday) > 60
    for appointment in weekday:
        start = appointment.starts_at.astimezone(site.zone).strftime("%H:%M")
        assert appointment.nurse_id == nurses[rank[appointment.chair_id, start] % 2], appointment.pk
    peaks = hands_on_peaks(site)
    assert len(peaks) == 2 and all(peak <= site.setups_per_nurse for peak in peaks.values()), peaks


def test_sessions_of_a_plan_keep_the_protocol_gap(seeded):
    for plan in TreatmentPlan.objects.filter(site=seeded).select_related("protocol"):
        given = list(
            plan.appointments.exclude(status__in=[AppointmentStatus.CANCELLED, AppointmentStatus.NO_SHOW]).order_by(
                "starts_at"
            )
        )
        assert [a.sequence for a in given] == list(range(1, len(given) + 1))
        gap = dt.timedelta(hours=plan.protocol.min_gap_hours)
        for earlier, later in itertools.pairwise(given):
            assert later.starts_at - earlier.starts_at >= gap


def test_second_run_creates_nothing(seeded):
    models = [m for m in apps.get_models() if m._meta.app_label in {"clinic", "patients", "scheduling", "auth"}]
    before = {m: m.objects.count() for m in models}
    out = io.StringIO()
    call_command("seed_demo", stdout=out)
    assert "nothing to do" in out.getvalue()
    assert {m: m.objects.count() for m in models} == before


@pytest.mark.parametrize("username", ["admin", "clinician"])
def test_admin_pages_open_for_every_model(seeded, client, django_assert_max_num_queries, username):
    """The demo's admin (no clinical duty) is refused the clinical records and histories; a
    clinician with admin rights opens every page."""
    user = get_user_model().objects.get(username=username)
    if username == "clinician":
        get_user_model().objects.filter(pk=user.pk).update(is_staff=True, is_superuser=True)
    client.force_login(user)
    clinical = username == "admin"
    for model, model_admin in admin.site._registry.items():
        if model._meta.app_label not in {"clinic", "patients", "scheduling", "clinical", "measures"}:
            continue
        opts = model._meta
        refused = clinical and getattr(model_admin, "clinical_model", False)
        changelist = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
        # A bounded number of queries however many rows: list_select_related does its job
        # (one of them is the access-log row every signed-in request writes, one the user's staff
        # row, read once to know whether they have a clinical duty).
        with django_assert_max_num_queries(17):
            response = client.get(changelist)
        assert response.status_code == (403 if refused else 200), changelist
        instance = model.objects.first()
        if instance is not None:
            change = reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[instance.pk])
            assert client.get(change).status_code == (403 if refused else 200), change
            if hasattr(model, "history"):
                history_refused = refused or (clinical and bool(getattr(model_admin, "visibility_kind", "")))
                history = reverse(f"admin:{opts.app_label}_{opts.model_name}_history", args=[instance.pk])
                assert client.get(history).status_code == (403 if history_refused else 200), history
        assert model_admin.has_view_permission


def test_every_admin_change_page_saves_as_a_browser_posts_it_unchanged(seeded, client):
    """Each project admin's change page, posted back as drawn (its inputs, not the forms' values),
    saves: a field or fingerprint a page fails to draw would refuse every save. The inlines that
    name their fields drew no row fingerprint, and every edit of a chair was refused."""
    user = get_user_model().objects.get(username="clinician")
    get_user_model().objects.filter(pk=user.pk).update(is_staff=True, is_superuser=True)
    client.force_login(user)
    refused: dict[str, object] = {}
    saved = 0
    for model in admin.site._registry:
        if model._meta.app_label not in {"clinic", "patients", "scheduling", "clinical", "measures", "interop"}:
            continue
        instance = model.objects.order_by("pk").first()
        if instance is None:
            continue
        url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_change", args=[instance.pk])
        html = client.get(url).content.decode()
        if 'name="_save"' not in html:
            continue  # a page that only shows its row
        response = client.post(url, as_posted(html))
        saved += 1
        if response.status_code != 302:
            refused[url] = errors_on(response.content.decode()) or response.status_code
    assert refused == {}
    assert saved >= 10  # the site, chairs, staff, patients, protocols, plans ... were tried


def test_the_template_page_says_which_demo_nurse_each_lane_is(seeded, client, clock_now):
    """The template names its nurses by lane ("nurse 1" … "nurse 4"); the page says who they are on
    the next day open the template's hours: the lane-th of the nurses on shift, by staff id, the
    nurse the seeded sessions on those starts have."""
    client.force_login(get_user_model().objects.get(username="admin"))
    page = client.get(reverse("web:day-template")).content.decode()
    nurses = StaffMember.objects.filter(sites=seeded, role=Role.NURSE).order_by("pk").select_related("user")
    key = " · ".join(
        f"<strong>nurse {lane}</strong> {nurse.user.get_full_name()}" for lane, nurse in enumerate(nurses, 1)
    )
    assert f"the nurses the template names are: {key}." in page


def test_a_patients_ride_is_not_named_like_another_patient_or_staff(seeded):
    """The board shows "Ride: <name> (relation)": a driver named like another patient reads as that
    patient. Family shares the patient's own surname; a partner or friend has a surname of their own."""
    patients = list(Patient.objects.filter(home_site=seeded))
    staff = {m.user.last_name for m in StaffMember.objects.filter(sites=seeded).select_related("user")}
    for patient in patients:
        surname, relation = patient.escort_name.rsplit(" (", 1)
        others = {p.last_name for p in patients if p.pk != patient.pk} | staff
        assert surname == patient.last_name or surname not in others, (patient.full_name, patient.escort_name)
        assert (surname == patient.last_name) == (relation.rstrip(")") not in ("partner", "friend")), (
            patient.escort_name
        )
