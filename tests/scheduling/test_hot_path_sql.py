"""The booking hot path's hand-written SQL agrees with the ORM it replaced.

Three reads are written as SQL for speed (clinic/rows.py explains why): the token with its
user and staff row, the booking's references (patient, site, chair, nurse) scoped to the
caller's sites, and the snapshot of booked sessions, closures and shifts. Each is held here
against an independent definition: the ORM's own loading, `scope_to_staff`, and a plain
Python filter over every row."""

from __future__ import annotations

import datetime as dt
import random

import pytest
from django.contrib.auth import get_user_model
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext
from knox.models import AuthToken

from clinic.models import Chair, Closure, ReminderPolicy, Role, Shift, Site, StaffMember
from clinic.permissions import attach_staff, scope_to_staff, site_ids
from clinic.rows import ModelColumns
from patients.models import Patient
from scheduling.models import BLOCKING_STATUSES, Appointment, AppointmentStatus
from scheduling.selectors import booking_references, booking_snapshot, opening_hours, sites_with_schedule
from tests import factories

pytestmark = pytest.mark.django_db


def _values(instance) -> dict:
    return {field.attname: getattr(instance, field.attname) for field in type(instance)._meta.concrete_fields}


def _load(model, pk):
    columns = ModelColumns(model, "x")
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {columns.select} FROM {model._meta.db_table} x WHERE x.{model._meta.pk.column} = %s", [pk]
        )
        row = cursor.fetchone()
    return columns.load(row)


def test_rows_are_loaded_with_the_values_and_types_the_orm_gives(site):
    patient = factories.PatientFactory(home_site=site, mobile_phone="+12025550199")
    chair = factories.ChairFactory(site=site, equipment=["iv", "intranasal"])
    nurse = factories.StaffFactory(role=Role.NURSE, sites=[site])
    ReminderPolicy.objects.filter(site=site).update(offsets_hours=[48, 3], quiet_hours_start=dt.time(21, 30))
    token = AuthToken.objects.create(user=nurse.user)[0]
    for model, pk in (
        (Patient, patient.pk),
        (Chair, chair.pk),
        (StaffMember, nurse.pk),
        (Site, site.pk),
        (ReminderPolicy, site.reminder_policy.pk),
        (get_user_model(), nurse.user_id),
        (AuthToken, token.pk),
    ):
        loaded, expected = _load(model, pk), model.objects.get(pk=pk)
        assert _values(loaded) == _values(expected), model
        assert loaded._state.adding is False and loaded._state.db == "default"
    loaded_chair = _load(Chair, chair.pk)
    assert loaded_chair.equipment == ["iv", "intranasal"]  # JSON decoded, not text
    assert _load(ReminderPolicy, site.reminder_policy.pk).offsets_hours == [48, 3]
    assert str(_load(Patient, patient.pk).mobile_phone) == "+12025550199"


def test_a_left_join_that_matched_nothing_loads_none():
    columns = ModelColumns(Chair, "c")
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {columns.select} FROM (SELECT 1 AS one) h LEFT JOIN clinic_chair c ON c.id = -1")
        assert columns.load(cursor.fetchone()) is None


# --- Booking references: the same visibility as scope_to_staff -----------------------------


@pytest.fixture
def two_sites(db):
    """Sites A and B; staff at A, at B, at both, clinic-wide and inactive; patients known to A
    in each of the three ways (home, an appointment there, a plan there) and one known only to B."""
    site_a, site_b = factories.SiteFactory(name="A"), factories.SiteFactory(name="B")
    chair_a, chair_b = factories.ChairFactory(site=site_a), factories.ChairFactory(site=site_b)
    staff = {
        "desk_a": factories.StaffFactory(role=Role.FRONT_DESK, sites=[site_a]),
        "desk_b": factories.StaffFactory(role=Role.FRONT_DESK, sites=[site_b]),
        "desk_ab": factories.StaffFactory(role=Role.FRONT_DESK, sites=[site_a, site_b]),
        "wide": factories.StaffFactory(role=Role.FRONT_DESK, all_sites=True),
        "gone": factories.StaffFactory(role=Role.FRONT_DESK, sites=[site_a], active=False),
        "nurse_a": factories.StaffFactory(role=Role.NURSE, sites=[site_a]),
        "nurse_b": factories.StaffFactory(role=Role.NURSE, sites=[site_b]),
        "nurse_wide": factories.StaffFactory(role=Role.NURSE, all_sites=True),
        "nurse_nowhere": factories.StaffFactory(role=Role.NURSE),
        "prescriber_a": factories.StaffFactory(role=Role.PRESCRIBER, sites=[site_a]),
    }
    home_a = factories.PatientFactory(home_site=site_a)
    home_b = factories.PatientFactory(home_site=site_b)
    booked_at_a = factories.PatientFactory(home_site=site_b)
    factories.AppointmentFactory(patient=booked_at_a, chair=chair_a)
    planned_at_a = factories.PatientFactory(home_site=site_b)
    factories.PlanFactory(patient=planned_at_a, site=site_a)
    return {
        "sites": [site_a, site_b],
        "chairs": [chair_a, chair_b],
        "staff": staff,
        "patients": [home_a, home_b, booked_at_a, planned_at_a],
    }


def _reloaded_actor(member: StaffMember) -> StaffMember:
    """The staff row as a request holds it: with its site ids."""
    user = get_user_model().objects.get(pk=member.user_id)
    staff = StaffMember.objects.get(pk=member.pk)
    return attach_staff(user, staff, list(staff.sites.values_list("pk", flat=True)))


@pytest.mark.parametrize("who", ["desk_a", "desk_b", "desk_ab", "wide", "gone", "nurse_a", "prescriber_a"])
def test_booking_references_see_exactly_what_scope_to_staff_lets_the_caller_see(two_sites, who):
    actor = _reloaded_actor(two_sites["staff"][who])
    nurses = [m for m in two_sites["staff"].values() if m.role == Role.NURSE]
    others = [m for m in two_sites["staff"].values() if m.role != Role.NURSE]
    cases = (
        [("patient", p.pk, Patient.objects.all()) for p in two_sites["patients"]]
        + [("site", s.pk, Site.objects.all()) for s in two_sites["sites"]]
        + [("chair", c.pk, Chair.objects.all()) for c in two_sites["chairs"]]
        + [("nurse", n.pk, StaffMember.objects.filter(role=Role.NURSE)) for n in nurses + others]
    )
    seen_at_sites = 0
    for name, pk, queryset in cases:
        expected = scope_to_staff(queryset, actor).filter(pk=pk).exists()
        found = booking_references(staff=actor, **{f"{name}_id": pk})[name]
        assert (found is not None) == expected, (who, name, pk)
        if found is not None:
            assert found.pk == pk
        seen_at_sites += expected and name != "nurse"
    # The matrix is not vacuous: an active caller sees some patient, site or chair; an inactive
    # one none (clinic-wide nurses stay visible to anyone, and the role check refuses the caller).
    assert (seen_at_sites > 0) == (who != "gone")


def test_booking_references_come_with_what_the_booking_reads_next(two_sites):
    actor = _reloaded_actor(two_sites["staff"]["desk_a"])
    site_a = two_sites["sites"][0]
    patient = two_sites["patients"][2]  # home at B, booked at A
    nurse = two_sites["staff"]["nurse_a"]
    found = booking_references(
        staff=actor, patient_id=patient.pk, site_id=site_a.pk, chair_id=two_sites["chairs"][0].pk, nurse_id=nurse.pk
    )
    expected_site = sites_with_schedule().get(pk=site_a.pk)
    expected_policy = ReminderPolicy.objects.get(site=site_a)
    expected_hours = opening_hours(expected_site)
    with CaptureQueriesContext(connection) as queries:
        assert found["patient"].home_site.name == "B"
        assert found["nurse"].user.username == nurse.user.username
        assert _values(found["site"].reminder_policy) == _values(expected_policy)
        assert opening_hours(found["site"]) == expected_hours
        assert len(expected_hours) == 5
    assert len(queries) == 0  # all of it came with the one statement
    assert _values(found["site"]) == _values(expected_site)


def test_booking_references_refuse_a_non_nurse_as_the_nurse_and_ignore_missing_names(two_sites):
    actor = _reloaded_actor(two_sites["staff"]["wide"])
    prescriber = two_sites["staff"]["prescriber_a"]
    found = booking_references(staff=actor, nurse_id=prescriber.pk)
    assert found == {"patient": None, "site": None, "chair": None, "nurse": None}
    assert site_ids(actor) is None  # clinic-wide: no site condition at all
    assert booking_references(staff=actor, nurse_id=two_sites["staff"]["nurse_nowhere"].pk)["nurse"] is not None


# --- The snapshot against a plain filter over every row ------------------------------------


def _expected_snapshot(*, site, start, end, patient, chairs, nurse_ids, exclude):
    """What the snapshot must hold, by definition rather than by query."""
    shifts = [
        s
        for s in Shift.objects.select_related("staff")
        if s.site_id == site.pk
        and s.staff.role == Role.NURSE
        and s.staff.active
        and (s.staff.all_sites or s.site_id in {x.pk for x in s.staff.sites.all()})  # she works there
        and s.starts_at < end
        and s.ends_at > start
        and (nurse_ids is None or s.staff_id in nurse_ids)
    ]
    on_shift = {s.staff_id for s in shifts}
    chair_ids = {c.pk for c in chairs} if chairs is not None else None
    booked = []
    for a in Appointment.objects.all():
        if a.status not in BLOCKING_STATUSES or not (a.starts_at < end and a.ends_at > start) or a.pk in exclude:
            continue
        ours = a.site_id == site.pk if chair_ids is None else a.chair_id in chair_ids
        nurse_named = a.nurse_id in (on_shift if nurse_ids is None else set(nurse_ids))
        if ours or nurse_named or (patient is not None and a.patient_id == patient.pk):
            booked.append(a)
    closures = [
        c for c in Closure.objects.all() if c.site_id in (None, site.pk) and c.starts_at < end and c.ends_at > start
    ]
    return booked, closures, shifts


def test_snapshot_holds_exactly_the_rows_a_plain_filter_finds():
    rng = random.Random(20261126)
    sites = [factories.SiteFactory(hours={d: (dt.time(6), dt.time(22)) for d in range(7)}) for _ in range(2)]
    chairs = [factories.ChairFactory(site=s) for s in sites for _ in range(3)]
    nurses = [
        factories.StaffFactory(role=Role.NURSE, sites=[rng.choice(sites)], active=rng.random() > 0.2) for _ in range(5)
    ]
    non_nurse = factories.StaffFactory(role=Role.PRESCRIBER, sites=sites)
    patients = [factories.PatientFactory(home_site=rng.choice(sites), evaluation=None) for _ in range(6)]
    day = dt.datetime(2027, 3, 2, 12, tzinfo=dt.UTC)

    def instant():
        return day + dt.timedelta(minutes=15 * rng.randrange(-16, 48))

    for _ in range(16):
        start = instant()
        try:
            with transaction.atomic():
                Shift.objects.create(
                    staff=rng.choice([*nurses, non_nurse]),
                    site=rng.choice(sites),
                    starts_at=start,
                    ends_at=start + dt.timedelta(hours=rng.choice([4, 8, 20])),
                )
        except IntegrityError:
            continue  # one person's shifts cannot overlap
    for _ in range(3):
        start = instant()
        Closure.objects.create(
            site=rng.choice([*sites, None]),
            starts_at=start,
            ends_at=start + dt.timedelta(hours=rng.choice([1, 3])),
            reason="Maintenance",
        )
    statuses = [s.value for s in AppointmentStatus]
    for _ in range(80):
        start = instant()
        chair = rng.choice(chairs)
        status = rng.choice(statuses)
        try:
            with transaction.atomic():
                Appointment.objects.create(
                    patient=rng.choice(patients),
                    site=chair.site,
                    chair=chair,
                    nurse=rng.choice([*nurses, None]),
                    starts_at=start,
                    ends_at=start + dt.timedelta(minutes=rng.choice([60, 120, 240])),
                    status=status,
                    cancelled_at=day if status == AppointmentStatus.CANCELLED else None,
                )
        except IntegrityError:
            continue  # the chair or the patient is taken then: the database keeps the rules
    all_ids = list(Appointment.objects.values_list("pk", flat=True))
    assert all_ids, "no appointment was generated"

    compared = 0
    for _ in range(40):
        site = sites_with_schedule().get(pk=rng.choice(sites).pk)
        start = instant()
        end = start + dt.timedelta(hours=rng.choice([1, 2, 6, 24]))
        patient = rng.choice([None, *patients])
        chosen = rng.sample([c for c in chairs if c.site_id == site.pk], 2) if rng.random() < 0.4 else None
        nurse_ids = [n.pk for n in rng.sample(nurses, 2)] if rng.random() < 0.4 else None
        exclude = rng.sample(all_ids, 3) if rng.random() < 0.3 else []
        snapshot, busy = booking_snapshot(
            site=site,
            start=start,
            end=end,
            patient=patient,
            chairs=chosen,
            nurse_ids=nurse_ids,
            exclude_appointment_ids=exclude,
        )
        booked, closures, shifts = _expected_snapshot(
            site=site, start=start, end=end, patient=patient, chairs=chosen, nurse_ids=nurse_ids, exclude=exclude
        )
        chair_states = {c.id: c for c in snapshot.chairs}
        for chair_id, state in chair_states.items():
            assert sorted((s.start, s.end) for s in state.busy) == sorted(
                (a.starts_at, a.ends_at) for a in booked if a.chair_id == chair_id
            )
        nurse_states = {n.id: n for n in snapshot.nurses}
        assert set(nurse_states) == {s.staff_id for s in shifts}
        for nurse_id, state in nurse_states.items():
            assert sorted((s.start, s.end) for s in state.shifts) == sorted(
                (s.starts_at, s.ends_at) for s in shifts if s.staff_id == nurse_id
            )
            assert sorted((s.start, s.end) for s in state.booked) == sorted(
                (a.starts_at, a.ends_at) for a in booked if a.nurse_id == nurse_id
            )
        assert sorted((span.start, span.end, why) for span, why in snapshot.closures) == sorted(
            (c.starts_at, c.ends_at, c.reason) for c in closures
        )
        assert sorted((s.start, s.end) for s in busy) == sorted(
            (a.starts_at, a.ends_at) for a in booked if patient is not None and a.patient_id == patient.pk
        )
        assert all(s.start.tzinfo is not None for state in snapshot.chairs for s in state.busy)
        compared += len(booked) + len(closures) + len(shifts)
    assert compared > 40  # the windows found rows to compare, not only empty snapshots
