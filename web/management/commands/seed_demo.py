"""Seed one realistic demo clinic: `python manage.py seed_demo`.

Idempotent: the site named DEMO_SITE_NAME is the marker; when it exists the
command creates nothing. Appointments are written straight through the ORM
(not the booking services) and are collision-free by construction: every
session takes its own (chair, start) cell of a grid laid over the opening
hours, a patient gets at most one session a day, and chairs are mapped to
nurses so that no nurse ever watches more than ceil(chairs / nurses) patients
at once. That holds on SQLite too, where no exclusion constraint would catch
a mistake.
"""

from __future__ import annotations

import bisect
import datetime as dt
import math
import random
import zoneinfo
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from clinic.models import Chair, Channel, Closure, OpeningHours, ReminderPolicy, Role, Route, Shift, Site, StaffMember
from patients.models import Contraindication, Evaluation, Patient, PatientFlag
from scheduling.models import Appointment, AppointmentStatus, Phase, PlanStatus, Protocol, TreatmentPlan

# dev.py and README.md read these three constants (dev.py parses them with `ast`).
DEMO_SITE_NAME = "Riverside Infusion Center"
DEMO_PASSWORD = "demo-clinic-2026"  # noqa: S105 - a documented demo password, never a real one
DEMO_LOGINS = {
    "frontdesk": "front desk: day board, booking, arrivals",
    "clinician": "prescriber: plans, overrides, notes",
    "nurse": "infusion nurse: vitals, sessions",
    "patient": "patient portal: own sessions only",
    "admin": "clinic administrator and Django superuser (/admin/)",
}

SITE_TIME_ZONE = "America/Denver"
WEEKS_BACK = 8
WEEKS_AHEAD = 8
CELL = dt.timedelta(minutes=120)  # one chair booking cell; every protocol's chair time fits in it

OPENING_HOURS = {
    **{weekday: (dt.time(8), dt.time(18)) for weekday in range(5)},
    5: (dt.time(9), dt.time(13)),
}

# username, first name, last name, role, superuser
STAFF = [
    ("frontdesk", "Maria", "Lopez", Role.FRONT_DESK, False),
    ("frontdesk2", "Tom", "Becker", Role.FRONT_DESK, False),
    ("nurse", "Grace", "Okafor", Role.NURSE, False),
    ("nurse2", "Daniel", "Kim", Role.NURSE, False),
    ("nurse3", "Priya", "Raman", Role.NURSE, False),
    ("nurse4", "Luis", "Ortega", Role.NURSE, False),
    ("clinician", "Helen", "Carter", Role.PRESCRIBER, False),
    ("clinician2", "Samuel", "Reyes", Role.PRESCRIBER, False),
    ("admin", "Jordan", "Ellis", Role.CLINIC_ADMIN, True),
]

CONTRAINDICATIONS = [
    # code, label, kind, threshold
    ("under-18", "Under 18 years old", Contraindication.Kind.MIN_AGE, 18),
    ("systolic-above-160", "Systolic blood pressure above 160 mmHg", Contraindication.Kind.MAX_SYSTOLIC, 160),
    ("diastolic-above-100", "Diastolic blood pressure above 100 mmHg", Contraindication.Kind.MAX_DIASTOLIC, 100),
    ("heart-rate-above-110", "Heart rate above 110 bpm", Contraindication.Kind.MAX_HEART_RATE, 110),
    ("seizure-history", "History of seizures", Contraindication.Kind.SEIZURE_HISTORY, None),
    ("pregnancy", "Pregnancy", Contraindication.Kind.FLAG, None),
    ("active-psychosis", "Active psychosis", Contraindication.Kind.FLAG, None),
    ("substance-misuse", "Substance misuse", Contraindication.Kind.FLAG, None),
]

WINDOW_PROTOCOL = "IV ketamine, six in three weeks"
WEEKLY_PROTOCOL = "IV ketamine, 3-2-1-1-1"
PROTOCOLS: dict[str, dict[str, Any]] = {
    WINDOW_PROTOCOL: {
        "induction_pattern": Protocol.InductionPattern.WINDOW,
        "induction_sessions": 6,
        "induction_window_days": 21,
        "min_gap_hours": 48,
    },
    WEEKLY_PROTOCOL: {
        "induction_pattern": Protocol.InductionPattern.WEEKLY,
        "weekly_counts": [3, 2, 1, 1, 1],
        "min_gap_hours": 24,
    },
}
# Day offsets of the induction sessions from the plan's first day.
INDUCTION_DAYS = {
    WINDOW_PROTOCOL: [0, 2, 4, 7, 9, 11],
    WEEKLY_PROTOCOL: [0, 2, 4, 7, 10, 14, 21, 28],
}

DIAGNOSES = [
    ("Treatment-resistant major depressive disorder", "F33.2"),
    ("Post-traumatic stress disorder", "F43.10"),
    ("Generalized anxiety disorder", "F41.1"),
    ("Obsessive-compulsive disorder", "F42.2"),
    ("Bipolar II disorder, current episode depressed", "F31.81"),
    ("Fibromyalgia", "M79.7"),
    ("Complex regional pain syndrome, lower limb", "G90.529"),
    ("Chronic migraine without aura", "G43.709"),
]

FIRST_NAMES = [
    "Olivia", "Liam", "Emma", "Noah", "Ava", "Ethan", "Sophia", "Mason", "Isabella", "Lucas",
    "Mia", "Logan", "Amelia", "James", "Harper", "Benjamin", "Evelyn", "Elijah", "Abigail", "Henry",
    "Emily", "Owen", "Ella", "Caleb", "Scarlett", "Wyatt", "Grace", "Julian", "Chloe", "Miles",
]  # fmt: skip
LAST_NAMES = [
    "Anderson", "Brooks", "Chavez", "Dawson", "Evans", "Fischer", "Garcia", "Hughes", "Ingram", "Jensen",
    "Kowalski", "Larsen", "Martinez", "Nguyen", "O'Brien", "Patel", "Quinn", "Ramirez", "Sullivan", "Thompson",
    "Underwood", "Vasquez", "Whitaker", "Xu", "Young", "Zimmerman", "Bennett", "Castillo", "Duncan", "Foster",
]  # fmt: skip
DRIVERS = ["spouse", "partner", "mother", "father", "sister", "brother", "friend", "adult son", "adult daughter"]


@dataclass
class PatientSpec:
    """One demo patient: where they are in their course, relative to today."""

    stage: str  # screening | draft | induction | maintenance | paused | ended | completed
    protocol: str = WINDOW_PROTOCOL
    start_offset_days: int = 0  # first session, relative to today (site time)
    interval_days: int = 28
    sessions_given: int | None = None  # paused / ended: stop after this many
    evaluated: bool = True
    extras: dict[str, Any] = field(default_factory=dict)


PATIENTS = [
    # In screening, no plan yet.
    PatientSpec("screening", evaluated=False),
    PatientSpec("screening", evaluated=False),
    PatientSpec("screening", extras={"flag": "pregnancy"}),
    PatientSpec("screening", extras={"systolic": 168, "diastolic": 104}),
    PatientSpec("screening", extras={"age": 17}),
    # Plan drafted, waiting for the clinician to activate it.
    PatientSpec("draft", start_offset_days=8),
    PatientSpec("draft", protocol=WEEKLY_PROTOCOL, start_offset_days=9),
    PatientSpec("draft", start_offset_days=15),
    # Mid-induction.
    PatientSpec("induction", start_offset_days=-6, extras={"portal_user": "patient"}),
    PatientSpec("induction", start_offset_days=-10),
    PatientSpec("induction", start_offset_days=-8, extras={"heart_rate": 114}),
    PatientSpec("induction", start_offset_days=-4),
    PatientSpec("induction", start_offset_days=-2),
    PatientSpec("induction", start_offset_days=1),
    PatientSpec("induction", protocol=WEEKLY_PROTOCOL, start_offset_days=-15),
    PatientSpec("induction", protocol=WEEKLY_PROTOCOL, start_offset_days=-22),
    # In maintenance.
    PatientSpec("maintenance", start_offset_days=-56, interval_days=14),
    PatientSpec("maintenance", start_offset_days=-54, interval_days=21),
    PatientSpec("maintenance", start_offset_days=-52, interval_days=28),
    PatientSpec("maintenance", start_offset_days=-49, interval_days=28, extras={"seizure_history": True}),
    PatientSpec("maintenance", start_offset_days=-45, interval_days=35),
    PatientSpec("maintenance", start_offset_days=-40, interval_days=21),
    PatientSpec("maintenance", protocol=WEEKLY_PROTOCOL, start_offset_days=-55, interval_days=21),
    PatientSpec("maintenance", protocol=WEEKLY_PROTOCOL, start_offset_days=-50, interval_days=28),
    # Paused, ended early, completed.
    PatientSpec(
        "paused", start_offset_days=-20, sessions_given=3, extras={"reason": "Travelling for a family emergency"}
    ),
    PatientSpec("paused", start_offset_days=-25, sessions_given=4, extras={"reason": "Influenza; resume when well"}),
    PatientSpec(
        "ended", start_offset_days=-42, sessions_given=4, extras={"reason": "Moved out of state", "flag": None}
    ),
    PatientSpec(
        "ended",
        start_offset_days=-36,
        sessions_given=2,
        extras={"reason": "Substance misuse disclosed; referred to addiction services", "flag": "substance-misuse"},
    ),
    PatientSpec("completed", start_offset_days=-56, interval_days=14),
    PatientSpec("completed", start_offset_days=-53, interval_days=14),
]


@dataclass(frozen=True)
class Cell:
    chair_index: int
    starts_at: dt.datetime


class ChairGrid:
    """The site's chairs over a range of open days, cut into CELL-long start slots.

    Each cell is handed out once, so two sessions never share a chair."""

    def __init__(self, *, chair_count: int, zone: zoneinfo.ZoneInfo, open_days: list[dt.date]) -> None:
        self.chair_count = chair_count
        self.days = sorted(open_days)
        self.starts_by_day: dict[dt.date, list[dt.datetime]] = {}
        for day in self.days:
            opens, closes = OPENING_HOURS[day.weekday()]
            start = dt.datetime.combine(day, opens, tzinfo=zone)
            close = dt.datetime.combine(day, closes, tzinfo=zone)
            starts = []
            while start + CELL <= close:
                starts.append(start)
                start += CELL
            self.starts_by_day[day] = starts
        self.taken: set[tuple[int, dt.datetime]] = set()

    def take(self, *, on_or_after: dt.date, not_before: dt.datetime | None, preferred_slot: int) -> Cell | None:
        for day in self.days[bisect.bisect_left(self.days, on_or_after) :]:
            starts = self.starts_by_day[day]
            first = preferred_slot % len(starts)
            for start in starts[first:] + starts[:first]:
                if not_before is not None and start < not_before:
                    continue
                for chair_index in range(self.chair_count):
                    if (chair_index, start) not in self.taken:
                        self.taken.add((chair_index, start))
                        return Cell(chair_index, start)
        return None


class Command(BaseCommand):
    help = f"Create the demo clinic '{DEMO_SITE_NAME}' with staff, patients and appointments (idempotent)."

    def handle(self, *args: Any, **options: Any) -> None:
        if Site.objects.filter(name=DEMO_SITE_NAME).exists():
            self.stdout.write(f"Demo clinic '{DEMO_SITE_NAME}' already present; nothing to do.")
            return
        with transaction.atomic():
            summary = Seeder(now=timezone.now()).run()
        self.stdout.write(self.style.SUCCESS(f"Seeded demo clinic '{DEMO_SITE_NAME}' ({SITE_TIME_ZONE})."))
        for label, value in summary.items():
            self.stdout.write(f"  {label}: {value}")
        logins = ", ".join(DEMO_LOGINS)
        self.stdout.write(f"  logins: {logins} (password {DEMO_PASSWORD})")


class Seeder:
    def __init__(self, *, now: dt.datetime) -> None:
        self.now = now
        self.zone = zoneinfo.ZoneInfo(SITE_TIME_ZONE)
        self.today = now.astimezone(self.zone).date()
        self.rng = random.Random(20261122)  # deterministic demo data
        self.password_hash = make_password(DEMO_PASSWORD)  # hashed once: PBKDF2 per user is slow
        self.appointment_statuses: Counter[str] = Counter()

    def run(self) -> dict[str, Any]:
        self.site = self._site()
        self.chairs = [
            Chair.objects.create(site=self.site, name=f"Chair {n}", equipment=[Route.IV, Route.INTRANASAL])
            for n in range(1, 7)
        ]
        self.staff = self._staff()
        self.nurses = [s for s in self.staff.values() if s.role == Role.NURSE]
        self.prescribers = [s for s in self.staff.values() if s.role == Role.PRESCRIBER]
        if self.site.max_patients_per_nurse < math.ceil(len(self.chairs) / len(self.nurses)):
            raise CommandError("Too few nurses for the chairs at this site's nurse ratio.")
        closure = Closure.objects.create(
            site=self.site,
            starts_at=dt.datetime(2026, 11, 26, tzinfo=self.zone),
            ends_at=dt.datetime(2026, 11, 27, tzinfo=self.zone),
            reason="Thanksgiving Day",
        )
        open_days = self._open_days([closure])
        self._shifts(open_days)
        self.contraindications = self._contraindications()
        self.protocols = self._protocols()
        self.grid = ChairGrid(chair_count=len(self.chairs), zone=self.zone, open_days=open_days)
        stages: Counter[str] = Counter()
        for index, spec in enumerate(PATIENTS):
            self._patient(index, spec)
            stages[spec.stage] += 1
        return {
            "chairs": len(self.chairs),
            "staff": ", ".join(f"{n} {role}" for role, n in Counter(s.role for s in self.staff.values()).items()),
            "shifts": Shift.objects.filter(site=self.site).count(),
            "patients": f"{len(PATIENTS)} ({', '.join(f'{n} {stage}' for stage, n in stages.items())})",
            "appointments": ", ".join(f"{n} {status}" for status, n in sorted(self.appointment_statuses.items())),
        }

    # --- set-up -------------------------------------------------------------

    def _site(self) -> Site:
        site = Site.objects.create(
            name=DEMO_SITE_NAME,
            time_zone=SITE_TIME_ZONE,
            address="1450 Riverside Drive, Suite 200\nDenver, CO 80202",
            phone="+13035550142",
            max_patients_per_nurse=3,
            slot_step_minutes=15,
            arrival_notes=(
                "Free parking behind the building; use the east entrance.\n"
                "Bring photo ID and your list of medications.\n"
                "Your driver must be reachable by phone and collect you from reception."
            ),
        )
        OpeningHours.objects.bulk_create(
            OpeningHours(site=site, weekday=weekday, opens_at=opens, closes_at=closes)
            for weekday, (opens, closes) in OPENING_HOURS.items()
        )
        ReminderPolicy.objects.get_or_create(site=site)  # normally already created with the site
        return site

    def _user(self, username: str, first_name: str, last_name: str, *, superuser: bool = False) -> Any:
        user, _ = get_user_model().objects.get_or_create(username=username)
        user.first_name = first_name
        user.last_name = last_name
        user.email = f"{username}@riverside-infusion.example.com"
        user.password = self.password_hash
        user.is_staff = user.is_staff or superuser
        user.is_superuser = user.is_superuser or superuser
        user.save()
        return user

    def _staff(self) -> dict[str, StaffMember]:
        staff = {}
        for username, first, last, role, superuser in STAFF:
            user = self._user(username, first, last, superuser=superuser)
            member, _ = StaffMember.objects.get_or_create(user=user, defaults={"role": role})
            member.sites.add(self.site)
            staff[username] = member
        return staff

    def _open_days(self, closures: list[Closure]) -> list[dt.date]:
        days = []
        for offset in range(-7 * WEEKS_BACK, 7 * WEEKS_AHEAD + 1):
            day = self.today + dt.timedelta(days=offset)
            if day.weekday() not in OPENING_HOURS:
                continue
            opens, closes = OPENING_HOURS[day.weekday()]
            start = dt.datetime.combine(day, opens, tzinfo=self.zone)
            end = dt.datetime.combine(day, closes, tzinfo=self.zone)
            if any(c.starts_at < end and start < c.ends_at for c in closures):
                continue
            days.append(day)
        return days

    def _shifts(self, open_days: list[dt.date]) -> None:
        clinicians = [s for s in self.staff.values() if s.role in (Role.NURSE, Role.PRESCRIBER)]
        shifts = []
        for day in open_days:
            opens, closes = OPENING_HOURS[day.weekday()]
            for member in clinicians:
                shifts.append(
                    Shift(
                        staff=member,
                        site=self.site,
                        starts_at=dt.datetime.combine(day, opens, tzinfo=self.zone),
                        ends_at=dt.datetime.combine(day, closes, tzinfo=self.zone),
                    )
                )
        Shift.objects.bulk_create(shifts)

    def _contraindications(self) -> dict[str, Contraindication]:
        found = {}
        for code, label, kind, threshold in CONTRAINDICATIONS:
            found[code], _ = Contraindication.objects.get_or_create(
                code=code, defaults={"label": label, "kind": kind, "threshold": threshold}
            )
        return found

    def _protocols(self) -> dict[str, Protocol]:
        found = {}
        for name, fields in PROTOCOLS.items():
            protocol, _ = Protocol.objects.get_or_create(
                name=name,
                defaults={
                    "route": Route.IV,
                    "session_minutes": 120,
                    "infusion_minutes": 40,
                    "maintenance_min_days": 14,
                    "maintenance_default_days": 28,
                    "maintenance_max_days": 42,
                    **fields,
                },
            )
            if dt.timedelta(minutes=protocol.session_minutes) > CELL:
                raise CommandError(f"Protocol {name!r} needs more chair time than a {CELL} booking cell.")
            found[name] = protocol
        return found

    # --- patients -----------------------------------------------------------

    def _patient(self, index: int, spec: PatientSpec) -> None:
        first, last = FIRST_NAMES[index], LAST_NAMES[index]
        age = spec.extras.get("age", 24 + (index * 7) % 45)
        user = None
        if portal_username := spec.extras.get("portal_user"):
            user = self._user(portal_username, first, last)
        patient = Patient.objects.create(
            user=user,
            first_name=first,
            last_name=last,
            date_of_birth=dt.date(self.today.year - age, 1 + index % 12, 1 + (index * 3) % 28),
            email=f"{first.lower()}.{last.lower().replace(chr(39), '')}@example.com",
            mobile_phone=f"+1303555{100 + index:04d}",
            home_site=self.site,
            preferred_channel=Channel.SMS if index % 3 == 0 else Channel.EMAIL,
            reminder_consent=index % 7 != 4,
            reminder_consent_changed_at=self.now - dt.timedelta(days=60),
            escort_name=f"{LAST_NAMES[(index + 11) % 30]} ({DRIVERS[index % len(DRIVERS)]})",
            escort_phone=f"+1720555{100 + index:04d}",
            emergency_contact_name=f"{FIRST_NAMES[(index + 5) % 30]} {last}",
            emergency_contact_phone=f"+1720555{200 + index:04d}",
            emergency_contact_relation=DRIVERS[index % len(DRIVERS)],
            medications=["Sertraline 100 mg", "Bupropion XL 300 mg\nLamotrigine 100 mg", "", "Duloxetine 60 mg"][
                index % 4
            ],
            seizure_history=spec.extras.get("seizure_history", False),
        )
        clinician = self.prescribers[index % len(self.prescribers)]
        first_day = self.today + dt.timedelta(days=spec.start_offset_days)
        if spec.evaluated:
            diagnosis, icd10 = DIAGNOSES[index % len(DIAGNOSES)]
            Evaluation.objects.create(
                patient=patient,
                evaluated_on=min(first_day, self.today) - dt.timedelta(days=7 + index % 10),
                evaluator_name="Dr. Anna Whitfield",
                evaluator_credentials="MD, psychiatrist",
                diagnosis=diagnosis,
                icd10_code=icd10,
                systolic_bp=spec.extras.get("systolic", 116 + index % 20),
                diastolic_bp=spec.extras.get("diastolic", 72 + index % 12),
                heart_rate=spec.extras.get("heart_rate", 64 + index % 24),
                notes="Failed two or more adequate antidepressant trials." if index % 2 else "",
                recorded_by=clinician.user,
            )
        if flag := spec.extras.get("flag"):
            PatientFlag.objects.create(
                patient=patient,
                contraindication=self.contraindications[flag],
                notes="Reported at screening.",
                recorded_by=clinician.user,
            )
        if spec.stage == "screening":
            return
        self._plan(index, spec, patient, clinician, first_day)

    def _plan(
        self, index: int, spec: PatientSpec, patient: Patient, clinician: StaffMember, first_day: dt.date
    ) -> None:
        protocol = self.protocols[spec.protocol]
        plan = TreatmentPlan.objects.create(
            patient=patient,
            protocol=protocol,
            prescriber=clinician,
            site=self.site,
            phase=Phase.MAINTENANCE if spec.stage in ("maintenance", "completed") else Phase.INDUCTION,
            status=PlanStatus.DRAFT if spec.stage == "draft" else PlanStatus.ACTIVE,
            start_date=first_day,
            maintenance_interval_days=spec.interval_days,
            review_date=first_day + dt.timedelta(days=30 * protocol.review_after_months),
            preferred_weekdays=[0, 1, 2, 3, 4, 5],
            created_by=clinician.user,
        )
        if spec.extras.get("heart_rate") or spec.extras.get("seizure_history"):
            plan.eligibility_override_by = clinician
            plan.eligibility_override_reason = (
                "Resting heart rate 84 bpm on repeat measurement; cardiology clearance on file."
                if spec.extras.get("heart_rate")
                else "Single febrile seizure in early childhood; neurology cleared, no anticonvulsants."
            )
            plan.eligibility_override_at = self.now - dt.timedelta(days=-spec.start_offset_days + 2)
            plan.version += 1
            plan._change_reason = "Eligibility override recorded by the prescriber."
            plan.save(
                update_fields=[
                    "eligibility_override_by",
                    "eligibility_override_reason",
                    "eligibility_override_at",
                    "version",
                    "updated_at",
                ]
            )
        if spec.stage == "draft":
            return

        targets = [first_day + dt.timedelta(days=d) for d in INDUCTION_DAYS[spec.protocol]]
        induction_count = len(targets)
        if spec.stage in ("maintenance", "completed"):
            last = targets[-1]
            while last < self.today + dt.timedelta(days=7 * WEEKS_AHEAD):
                last += dt.timedelta(days=spec.interval_days)
                targets.append(last)
        if spec.sessions_given is not None:
            targets = targets[: spec.sessions_given]
        given = self._book_series(index, patient, plan, protocol, targets, induction_count, stage=spec.stage)

        # Later transitions are separate saves, so the plan's history shows each step and why.
        if spec.stage == "completed":
            # The course ended at its last session so far; nothing is booked ahead.
            plan.status = PlanStatus.COMPLETED
            plan.review_date = max(given[-1].date(), plan.start_date + dt.timedelta(days=1))
            plan.version += 1
            plan._change_reason = "Course completed; patient in sustained remission."
            plan.save(update_fields=["status", "review_date", "version", "updated_at"])
        elif spec.stage == "paused":
            plan.status = PlanStatus.PAUSED
            plan.paused_at = given[-1] + dt.timedelta(days=1)
            plan.version += 1
            plan._change_reason = spec.extras["reason"]
            plan.save(update_fields=["status", "paused_at", "version", "updated_at"])
        elif spec.stage == "ended":
            plan.status = PlanStatus.ENDED
            plan.ended_at = given[-1] + dt.timedelta(days=2)
            plan.end_reason = spec.extras["reason"]
            plan.version += 1
            plan._change_reason = spec.extras["reason"]
            plan.save(update_fields=["status", "ended_at", "end_reason", "version", "updated_at"])

    def _book_series(
        self,
        index: int,
        patient: Patient,
        plan: TreatmentPlan,
        protocol: Protocol,
        targets: list[dt.date],
        induction_count: int,
        *,
        stage: str,
    ) -> list[dt.datetime]:
        """Book one session per target day (or the next free day), returning the starts of the sessions given."""
        min_gap = dt.timedelta(hours=protocol.min_gap_hours)
        session = dt.timedelta(minutes=protocol.session_minutes)
        booked_by = self.staff["frontdesk" if index % 2 else "frontdesk2"].user
        given: list[dt.datetime] = []
        sequence = 1
        for target in targets:
            on_or_after = target
            while True:
                not_before = given[-1].astimezone(dt.UTC) + min_gap if given else None
                cell = self.grid.take(on_or_after=on_or_after, not_before=not_before, preferred_slot=index)
                if cell is None:
                    return given  # past the end of the seeded weeks
                starts_at, ends_at = cell.starts_at, cell.starts_at + session
                if stage == "completed" and ends_at > self.now:
                    return given
                status = self._status_for(starts_at, ends_at)
                # A few past sessions were missed or called off; the replacement takes the same number.
                if status == AppointmentStatus.COMPLETED and self.rng.random() < 0.08:
                    status = self.rng.choice([AppointmentStatus.NO_SHOW, AppointmentStatus.CANCELLED])
                self._appointment(
                    patient=patient,
                    plan=plan,
                    sequence=sequence,
                    phase=Phase.INDUCTION if sequence <= induction_count else Phase.MAINTENANCE,
                    cell=cell,
                    ends_at=ends_at,
                    status=status,
                    booked_by=booked_by,
                )
                if status in (AppointmentStatus.NO_SHOW, AppointmentStatus.CANCELLED):
                    # One session a day per patient: the replacement goes on a later day.
                    on_or_after = starts_at.date() + dt.timedelta(days=1)
                    continue
                given.append(starts_at)
                sequence += 1
                break
        return given

    def _status_for(self, starts_at: dt.datetime, ends_at: dt.datetime) -> AppointmentStatus:
        if ends_at <= self.now:
            return AppointmentStatus.COMPLETED
        if starts_at <= self.now:
            return AppointmentStatus.IN_CHAIR
        if starts_at - self.now < dt.timedelta(days=4) and self.rng.random() < 0.6:
            return AppointmentStatus.CONFIRMED
        return AppointmentStatus.BOOKED

    def _appointment(
        self,
        *,
        patient: Patient,
        plan: TreatmentPlan,
        sequence: int,
        phase: str,
        cell: Cell,
        ends_at: dt.datetime,
        status: AppointmentStatus,
        booked_by: Any,
    ) -> Appointment:
        starts_at = cell.starts_at
        # Chairs map onto nurses round-robin: a nurse watches at most ceil(chairs / nurses) chairs.
        nurse = self.nurses[cell.chair_index % len(self.nurses)]
        fields: dict[str, Any] = {}
        if status in (AppointmentStatus.CONFIRMED, AppointmentStatus.IN_CHAIR, AppointmentStatus.COMPLETED):
            fields["confirmed_at"] = min(starts_at - dt.timedelta(days=1), self.now - dt.timedelta(hours=1))
        if status in (AppointmentStatus.IN_CHAIR, AppointmentStatus.COMPLETED):
            fields["checked_in_at"] = starts_at - dt.timedelta(minutes=10)
            fields["in_chair_at"] = starts_at + dt.timedelta(minutes=5)
        if status == AppointmentStatus.COMPLETED:
            fields["completed_at"] = ends_at
            fields["notes"] = "Tolerated well; mild dissociation resolved within 30 minutes."
        if status == AppointmentStatus.CANCELLED:
            fields["cancelled_at"] = starts_at - dt.timedelta(days=1)
            fields["cancelled_by"] = booked_by
            fields["cancellation_reason"] = "Patient unwell (cold); rebooked."
        if status == AppointmentStatus.NO_SHOW:
            fields["notes"] = "Did not attend; driver unavailable. Rebooked by phone."
        self.appointment_statuses[status] += 1
        return Appointment.objects.create(
            patient=patient,
            plan=plan,
            sequence=sequence,
            phase=phase,
            site=self.site,
            chair=self.chairs[cell.chair_index],
            nurse=nurse,
            starts_at=starts_at,
            ends_at=ends_at,
            status=status,
            ride_home=patient.escort_name,
            booked_by=booked_by,
            **fields,
        )
