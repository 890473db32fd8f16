"""Writes the demo clinic described in demo_clinic.json.

Appointments are written straight through the ORM (not the booking services) and keep
booking's rules by construction, and a patient gets at most one session a day. The clinic took
up its day template `template_weeks_ago` weeks ago (the switch day):
- before then, each session takes the earliest free time of its day with the nurse booking picks,
  as the `earliest` policy books (`EarliestFit`: the engine's own search over one view of those
  days, which records each session placed);
- since then, every session takes its own (chair, start) cell of the site's day template, with the
  nurse the template gives that chair. The template is solved for the demo site as a clinic
  administrator would have had it solved on the switch day (`day_template_regenerate`, kept as the
  site's template, so the board shows its free starts and level placement prefers them); a day
  open other hours (Saturday morning) is solved by the engine for its own hours, with every nurse
  on shift over them as the seed's rota has it, and not kept. A session takes only a start laid
  out for a protocol of its own shape (chair time and nurse work: `protocol_shape`). A template
  keeps each nurse's setups, checks and discharges apart and her patients within the ratio, and
  any part of it does too, so the seeded days do; that holds on SQLite too, where no exclusion
  constraint would catch a mistake.

So the capacity page, split at the template by default, shows what it changed.

The seed leaves room in the coming days, as a working clinic has: a maintenance plan is booked
as far ahead as its patient's spec says (`booked_ahead`: the next session only, or none for a
patient due one and not booked yet; the whole course up to the seeded weeks otherwise), and the
induction sessions are spaced so that each can move a day.

The upcoming sessions get their reminder rows as the booking services would have left
them; the reminder whose time has just passed is due now, so the dispatcher of
`python3 dev.py run` sends something within its first minute.
"""

from __future__ import annotations

import bisect
import datetime as dt
import json
import math
import random
import zoneinfo
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.core.management.base import CommandError

from clinic.models import Chair, Channel, Closure, OpeningHours, ReminderPolicy, Shift, Site, StaffMember
from clinical.models import (
    Administration,
    Recovery,
    SideEffect,
    VitalSigns,
    VitalsPhase,
)
from clinical.services import log_administration
from patients.models import Contraindication, Evaluation, Patient, PatientFlag
from scheduling.engine.availability import Availability
from scheduling.engine.day_template import NurseShift, protocol_shape, solve_day_template
from scheduling.engine.model import DayProblem, Preferences
from scheduling.engine.placement import CLOSING_MARGIN
from scheduling.models import (
    UPCOMING_STATUSES,
    Appointment,
    AppointmentStatus,
    DayTemplateState,
    Phase,
    PlanStatus,
    Protocol,
    Reminder,
    ReminderKind,
    TreatmentPlan,
)
from scheduling.reminders.services import channel_for, quiet_hours
from scheduling.reminders.timing import reminder_send_times
from scheduling.selectors import day_template_inputs, protocol_nurse_work, site_snapshot, template_protocol
from scheduling.services.day_template import day_template_regenerate
from scheduling.services.eligibility import patient_eligibility

DATA_FILE = Path(__file__).with_name("demo_clinic.json")
RNG_SEED = 20261122  # deterministic demo data


@cache
def demo_data() -> dict[str, Any]:
    return json.loads(DATA_FILE.read_text(encoding="utf-8"))


def _time(value: str) -> dt.time:
    return dt.time.fromisoformat(value)


def opening_hours() -> dict[int, tuple[dt.time, dt.time]]:
    hours = demo_data()["site"]["opening_hours"]
    return {int(weekday): (_time(opens), _time(closes)) for weekday, (opens, closes) in hours.items()}


@dataclass(frozen=True)
class Cell:
    chair_index: int
    nurse: StaffMember
    starts_at: dt.datetime
    shape: tuple[object, ...]  # the session the template gave this start (`protocol_shape`)


@dataclass(frozen=True)
class LayoutStart:
    """A start of a day template, as the grid lays it on each open day with those hours."""

    start: dt.time
    chair_index: int
    nurse: StaffMember
    shape: tuple[object, ...]
    length: dt.timedelta  # the chair time of the session laid out there


def session_shape(protocol: Protocol) -> tuple[object, ...]:
    """A protocol's session as the day template sees it (`protocol_shape`)."""
    return protocol_shape(template_protocol(protocol, weight=1.0))


class EarliestFit:
    """The clinic's days before it took up its day template: each session at the earliest free time
    of its day, with the nurse booking picks, as booking's `earliest` policy places one (the
    engine's own search, `Availability.first_slot`, over one view of those days that records each
    session placed). So those days show what the template replaced: setups piled at opening."""

    def __init__(self, *, availability: Availability, chairs: list[Chair], nurses: list[StaffMember]) -> None:
        self.availability = availability
        self.chair_index = {chair.pk: index for index, chair in enumerate(chairs)}
        self.nurses = {nurse.pk: nurse for nurse in nurses}

    def take(
        self, *, day: dt.date, not_before: dt.datetime | None, protocol: Protocol, shape: tuple[object, ...]
    ) -> Cell | None:
        # The view checks and records the hands-on work of the session being placed (its protocol's).
        self.availability.work = protocol_nurse_work(protocol)
        found = self.availability.first_slot(
            day, dt.timedelta(minutes=protocol.session_minutes), protocol.route, Preferences(), not_before=not_before
        )
        if isinstance(found, DayProblem):
            return None
        self.availability.claim(found, for_patient=False)  # the seed keeps one session a day per patient
        return Cell(
            chair_index=self.chair_index[found.chair_id],
            nurse=self.nurses[found.nurse_id],
            starts_at=found.start.astimezone(self.availability.site.zone),
            shape=shape,
        )


class ChairGrid:
    """The site's open days. From `switch_day` (the day its template was computed) each is cut into
    the (chair, start) cells of the day template for its opening hours (`layouts`, by (opens,
    closes)); before it, sessions take the earliest free time (`earliest`).

    Each cell is handed out once, so two sessions never share a chair, and a nurse is given only
    the starts her template lane holds."""

    def __init__(
        self,
        *,
        zone: zoneinfo.ZoneInfo,
        open_days: list[dt.date],
        layouts: dict[tuple[dt.time, dt.time], list[LayoutStart]],
        switch_day: dt.date,
        earliest: EarliestFit,
    ) -> None:
        self.days = sorted(open_days)
        self.switch_day = switch_day
        self.earliest = earliest
        hours = opening_hours()
        # Per day: its cells in time order, and apart the cells of sessions ending within the
        # placement's closing margin, taken only when the day has no other (as level placement
        # takes them: lateness would carry them past closing).
        self.cells_by_day: dict[dt.date, tuple[list[Cell], list[Cell]]] = {}
        for day in self.days:
            if day < switch_day:
                continue
            opens, closes = hours[day.weekday()]
            last_end = dt.datetime.combine(day, closes, tzinfo=zone) - CLOSING_MARGIN
            cells: tuple[list[Cell], list[Cell]] = ([], [])
            for row in sorted(layouts[opens, closes], key=lambda row: (row.start, row.chair_index)):
                cell = Cell(
                    chair_index=row.chair_index,
                    nurse=row.nurse,
                    starts_at=dt.datetime.combine(day, row.start, tzinfo=zone),
                    shape=row.shape,
                )
                cells[cell.starts_at + row.length > last_end].append(cell)
            self.cells_by_day[day] = cells
        self.taken: set[Cell] = set()

    def take(
        self, *, on_or_after: dt.date, not_before: dt.datetime | None, preferred_slot: int, protocol: Protocol
    ) -> Cell | None:
        """The first cell from `on_or_after` free for a session of `protocol`, starting at or after
        `not_before`. Before the switch day, the earliest free time (`EarliestFit`); from it, a
        template cell laid out for a session of the protocol's shape (its chair time and its nurse's
        work), within a day from the `preferred_slot`-th cell on (round the day), so that patients
        spread over the day's starts."""
        shape = session_shape(protocol)
        for day in self.days[bisect.bisect_left(self.days, on_or_after) :]:
            if day < self.switch_day:
                found = self.earliest.take(day=day, not_before=not_before, protocol=protocol, shape=shape)
                if found is not None:
                    return found
                continue
            cells, late = self.cells_by_day[day]
            first = preferred_slot % len(cells) if cells else 0
            for cell in cells[first:] + cells[:first] + late:
                if cell in self.taken or cell.shape != shape:
                    continue
                if not_before is not None and cell.starts_at < not_before:
                    continue
                self.taken.add(cell)
                return cell
        return None

    def open_day(self, day: dt.date) -> dt.date:
        """`day`, or the first open day after it (`day` itself past the last one)."""
        index = bisect.bisect_left(self.days, day)
        return self.days[index] if index < len(self.days) else day

    def give_back(self, cell: Cell) -> None:
        """Frees a template cell taken for a session that is then not booked (only ever a coming
        one: the days before the switch are past)."""
        if cell.starts_at.date() < self.switch_day:
            raise ValueError("A session placed earliest-fit before the switch day cannot be given back.")
        self.taken.discard(cell)


class Seeder:
    def __init__(self, *, now: dt.datetime, site_name: str, password: str) -> None:
        self.data = demo_data()
        self.now = now
        self.site_name = site_name
        self.zone = zoneinfo.ZoneInfo(self.data["site"]["time_zone"])
        self.today = now.astimezone(self.zone).date()
        self.hours = opening_hours()
        self.rng = random.Random(RNG_SEED)
        # The clinic took up its day template this many weeks ago, at this hour: its sessions before
        # then were placed earliest-fit, since then on the template (the capacity page compares them).
        self.switch_day = self.today - dt.timedelta(weeks=self.data["template_weeks_ago"])
        self.template_since = dt.datetime.combine(self.switch_day, now.astimezone(self.zone).time(), tzinfo=self.zone)
        self.password_hash = make_password(password)  # hashed once: PBKDF2 per user is slow
        self.appointment_statuses: Counter[str] = Counter()

    def run(self) -> dict[str, Any]:
        site_data = self.data["site"]
        self.site = self._site()
        self.chairs = [
            Chair.objects.create(site=self.site, name=f"Chair {n}", equipment=site_data["chair_equipment"])
            for n in range(1, site_data["chairs"] + 1)
        ]
        self.staff = self._staff()
        self.nurses = [s for s in self.staff.values() if s.role == "nurse"]
        self.prescribers = [s for s in self.staff.values() if s.role == "prescriber"]
        closures = [
            Closure.objects.create(
                site=self.site,
                starts_at=dt.datetime.combine(dt.date.fromisoformat(c["starts"]), dt.time(), tzinfo=self.zone),
                ends_at=dt.datetime.combine(dt.date.fromisoformat(c["ends"]), dt.time(), tzinfo=self.zone),
                reason=c["reason"],
            )
            for c in site_data["closures"]
        ]
        open_days = self._open_days(closures, weeks_ahead=self.data["weeks_ahead"])
        self.contraindications = self._contraindications()
        self.protocols = self._protocols()
        self._shifts(self._open_days(closures, weeks_ahead=self._rota_weeks_ahead()))
        self.grid = ChairGrid(
            zone=self.zone,
            open_days=open_days,
            layouts=self._layouts(),
            switch_day=self.switch_day,
            earliest=self._earliest_fit(open_days),
        )
        stages: Counter[str] = Counter()
        for index, spec in enumerate(self.data["patients"]):
            self._patient(index, spec)
            stages[spec["stage"]] += 1
        records = self._session_records()
        queued, due_now = self._reminders()
        return {
            "chairs": len(self.chairs),
            "staff": ", ".join(f"{n} {role}" for role, n in Counter(s.role for s in self.staff.values()).items()),
            "shifts": Shift.objects.filter(site=self.site).count(),
            "patients": f"{len(self.data['patients'])} ({', '.join(f'{n} {stage}' for stage, n in stages.items())})",
            "appointments": ", ".join(f"{n} {status}" for status, n in sorted(self.appointment_statuses.items())),
            "session records": f"{records} completed sessions recorded (vitals, ketamine given, discharge)",
            "reminders": f"{queued} queued, {due_now} due now (the worker sends them within a minute)",
            "day template": f"{self.template.sessions_per_day} sessions a day ({self.template.solver_status}), "
            f"taken up on {self.switch_day:%a %-d %b}: weekday sessions since lie on its starts, "
            "those before at the earliest free time",
        }

    # --- set-up -------------------------------------------------------------

    def _site(self) -> Site:
        data = self.data["site"]
        site = Site.objects.create(
            name=self.site_name,
            time_zone=data["time_zone"],
            address=data["address"],
            phone=data["phone"],
            max_patients_per_nurse=data["max_patients_per_nurse"],
            slot_step_minutes=data["slot_step_minutes"],
            arrival_notes=data["arrival_notes"],
        )
        OpeningHours.objects.bulk_create(
            OpeningHours(site=site, weekday=weekday, opens_at=opens, closes_at=closes)
            for weekday, (opens, closes) in self.hours.items()
        )
        policy, _ = ReminderPolicy.objects.get_or_create(site=site)  # normally already created with the site
        for name, value in data["reminder_policy"].items():
            setattr(policy, name, _time(value) if name.startswith("quiet_hours") else value)
        policy.save()
        return site

    def _user(self, username: str, first_name: str, last_name: str, *, superuser: bool = False) -> Any:
        user, _ = get_user_model().objects.get_or_create(username=username)
        user.first_name = first_name
        user.last_name = last_name
        user.email = f"{username}@{self.data['email_domain']}"
        user.password = self.password_hash
        user.is_staff = user.is_staff or superuser
        user.is_superuser = user.is_superuser or superuser
        user.save()
        return user

    def _staff(self) -> dict[str, StaffMember]:
        staff = {}
        for username, first, last, role, superuser in self.data["staff"]:
            user = self._user(username, first, last, superuser=superuser)
            member, _ = StaffMember.objects.get_or_create(user=user, defaults={"role": role})
            member.sites.add(self.site)
            staff[username] = member
        return staff

    def _rota_weeks_ahead(self) -> int:
        """The nurses' rota reaches every demo plan's review date, not only the weeks booked: a
        clinician lengthening an interval or resuming a plan in the demo finds nurses on shift for
        the sessions it places, as a clinic's published rota would give."""
        last_start = max((spec.get("start", 0) for spec in self.data["patients"]), default=0)
        review_days = 30 * max(p.review_after_months for p in self.protocols.values())
        return max(self.data["weeks_ahead"], math.ceil((last_start + review_days) / 7))

    def _open_days(self, closures: list[Closure], *, weeks_ahead: int) -> list[dt.date]:
        days = []
        for offset in range(-7 * self.data["weeks_back"], 7 * weeks_ahead + 1):
            day = self.today + dt.timedelta(days=offset)
            if day.weekday() not in self.hours:
                continue
            opens, closes = self.hours[day.weekday()]
            start = dt.datetime.combine(day, opens, tzinfo=self.zone)
            end = dt.datetime.combine(day, closes, tzinfo=self.zone)
            if any(c.starts_at < end and start < c.ends_at for c in closures):
                continue
            days.append(day)
        return days

    def _shifts(self, open_days: list[dt.date]) -> None:
        clinicians = [s for s in self.staff.values() if s.role in ("nurse", "prescriber")]
        shifts = []
        for day in open_days:
            opens, closes = self.hours[day.weekday()]
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

    def _layouts(self) -> dict[tuple[dt.time, dt.time], list[LayoutStart]]:
        """The day template of each opening the site has, as the grid lays it out: the site's own
        (the typical day's hours), solved and kept as a clinic administrator's request would keep
        it, and for other hours (Saturday morning) a solve of the engine for those hours with every
        nurse on shift over them, as the seed's rota has it (not kept: a template is for the typical
        day). A start's nurse is the one placement finds for it: the lane-th of the nurses on shift,
        by id, or the rank-th of those on its shift (every demo nurse works the opening hours), or
        the only nurse."""
        inputs = day_template_inputs(site=self.site, now=self.template_since)
        # No actor: the seed computed it, not the demo's administrator (the page names who did).
        kept = day_template_regenerate(site=self.site, actor=None, now=self.template_since)
        if kept.state != DayTemplateState.DONE or inputs.opening is None:
            raise CommandError(f"The demo site's day template was not solved: {kept.error}")
        self.template = kept
        # (start, chair id, lane, rank on its shift, protocol id) per opening.
        solved = {
            inputs.opening: [
                (
                    dt.time.fromisoformat(e["start"]),
                    int(e["chair_id"]),
                    e.get("lane"),
                    e.get("shift_rank"),
                    int(e["protocol_id"]),
                )
                for e in kept.starts
            ]
        }
        for opens, closes in sorted(set(self.hours.values()) - {inputs.opening}):
            outcome = solve_day_template(
                chairs=inputs.chairs,
                opening=(opens, closes),
                nurse_shifts=[NurseShift(opens, closes)] * len(self.nurses),
                protocols=inputs.protocols,
                setups_per_nurse=inputs.setups_per_nurse,
                max_patients_per_nurse=inputs.max_patients_per_nurse,
                step_minutes=inputs.step_minutes,
                time_limit_seconds=settings.DAY_TEMPLATE_TIME_LIMIT_SECONDS,
            )
            if outcome.template is None:
                raise CommandError(
                    f"No day template for the demo site's {opens:%H:%M}-{closes:%H:%M} ({outcome.status})."
                )
            template = outcome.template
            solved[opens, closes] = [
                # The shifts given are alike, so a start's shift index is its rank among them.
                (start, chair_id, template.lanes.get(chair_id), template.shifts.get((chair_id, start)), protocol_id)
                for chair_id, rows in template.starts.items()
                for start, protocol_id in rows
            ]
        chair_index = {chair.pk: index for index, chair in enumerate(self.chairs)}
        nurses = sorted(self.nurses, key=lambda nurse: nurse.pk)
        shapes = {protocol.id: protocol_shape(protocol) for protocol in inputs.protocols}
        lengths = {protocol.id: protocol.chair_minutes for protocol in inputs.protocols}

        def nurse_of(lane: int | None, rank: int | None) -> StaffMember:
            if lane is not None:
                return nurses[lane % len(nurses)]
            if rank is not None:
                return nurses[rank % len(nurses)]
            if len(nurses) == 1:
                return nurses[0]
            raise CommandError("The demo site's day template names no nurse for some of its starts.")

        layouts = {
            hours: [
                LayoutStart(
                    start=start,
                    chair_index=chair_index[chair],
                    nurse=nurse_of(lane, rank),
                    shape=shapes[p],
                    length=dt.timedelta(minutes=lengths[p]),
                )
                for start, chair, lane, rank, p in rows
            ]
            for hours, rows in solved.items()
        }
        offered = {row.shape for row in layouts[inputs.opening]}
        for name, protocol in self.protocols.items():
            if session_shape(protocol) not in offered:
                raise CommandError(
                    f"The demo site's day template, solved for every active protocol, gives {name!r} no start."
                )
        return layouts

    def _earliest_fit(self, open_days: list[dt.date]) -> EarliestFit:
        """The days before the switch day as booking saw them then: the site's chairs, nurse shifts
        and closures, nothing booked yet."""
        first = min(open_days, default=self.switch_day)
        snapshot = site_snapshot(
            site=self.site,
            start=dt.datetime.combine(min(first, self.switch_day), dt.time(), tzinfo=self.zone),
            end=dt.datetime.combine(self.switch_day, dt.time(), tzinfo=self.zone),
            now=self.now,
        )
        return EarliestFit(availability=Availability(snapshot), chairs=self.chairs, nurses=self.nurses)

    def _contraindications(self) -> dict[str, Contraindication]:
        found = {}
        for code, label, kind, threshold in self.data["contraindications"]:
            found[code], _ = Contraindication.objects.get_or_create(
                code=code, defaults={"label": label, "kind": kind, "threshold": threshold}
            )
        return found

    def _protocols(self) -> dict[str, Protocol]:
        found = {}
        for name, protocol_data in self.data["protocols"].items():
            protocol, _ = Protocol.objects.get_or_create(
                name=name, defaults={**self.data["protocol_defaults"], **protocol_data["fields"]}
            )
            found[name] = protocol
        return found

    # --- patients -----------------------------------------------------------

    def _patient(self, index: int, spec: dict[str, Any]) -> None:
        data, extras = self.data, spec.get("extras", {})
        first_names, last_names, drivers = data["first_names"], data["last_names"], data["drivers"]
        first, last = first_names[index], last_names[index]
        age = extras.get("age", 24 + (index * 7) % 45)
        user = None
        if portal_username := extras.get("portal_user"):
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
            escort_name=self._driver(index, last),
            escort_phone=f"+1720555{100 + index:04d}",
            emergency_contact_name=f"{first_names[(index + 5) % len(first_names)]} {last}",
            emergency_contact_phone=f"+1720555{200 + index:04d}",
            emergency_contact_relation=drivers[index % len(drivers)],
            medications=data["medications"][index % len(data["medications"])],
            seizure_history=extras.get("seizure_history", False),
        )
        clinician = self.prescribers[index % len(self.prescribers)]
        # A course starts on an open day: one whose first day fell on a closed Sunday would begin a
        # day late and crowd its second session against its first.
        first_day = self.grid.open_day(self.today + dt.timedelta(days=spec.get("start", 0)))
        if spec.get("evaluated", True):
            diagnosis, icd10 = data["diagnoses"][index % len(data["diagnoses"])]
            Evaluation.objects.create(
                patient=patient,
                evaluated_on=min(first_day, self.today) - dt.timedelta(days=7 + index % 10),
                evaluator_name=data["evaluator"]["name"],
                evaluator_credentials=data["evaluator"]["credentials"],
                diagnosis=diagnosis,
                icd10_code=icd10,
                systolic_bp=extras.get("systolic", 116 + index % 20),
                diastolic_bp=extras.get("diastolic", 72 + index % 12),
                heart_rate=extras.get("heart_rate", 64 + index % 24),
                notes=data["evaluator"]["notes"] if index % 2 else "",
                recorded_by=clinician.user,
            )
        if flag := extras.get("flag"):
            PatientFlag.objects.create(
                patient=patient,
                contraindication=self.contraindications[flag],
                notes=data["session_notes"]["flag"],
                recorded_by=clinician.user,
            )
        if spec["stage"] == "screening":
            return
        self._plan(index, spec, patient, clinician, first_day)

    def _driver(self, index: int, patient_last_name: str) -> str:
        """Who drives the patient home: family shares the patient's surname, a partner or friend
        has one no patient or member of staff has (a ride named like another patient confuses)."""
        relation = self.data["drivers"][index % len(self.data["drivers"])]
        others = self.data["driver_last_names"]
        name = others[index % len(others)] if relation in ("partner", "friend") else patient_last_name
        return f"{name} ({relation})"

    def _plan(
        self, index: int, spec: dict[str, Any], patient: Patient, clinician: StaffMember, first_day: dt.date
    ) -> None:
        stage, extras = spec["stage"], spec.get("extras", {})
        protocol_name = spec.get("protocol", self.data["default_protocol"])
        protocol = self.protocols[protocol_name]
        interval_days = spec.get("interval", 28)
        plan = TreatmentPlan.objects.create(
            patient=patient,
            protocol=protocol,
            prescriber=clinician,
            site=self.site,
            phase=Phase.MAINTENANCE if stage in ("maintenance", "completed") else Phase.INDUCTION,
            status=PlanStatus.DRAFT if stage == "draft" else PlanStatus.ACTIVE,
            start_date=first_day,
            maintenance_interval_days=interval_days,
            review_date=first_day + dt.timedelta(days=30 * protocol.review_after_months),
            preferred_weekdays=[0, 1, 2, 3, 4, 5],
            created_by=clinician.user,
        )
        override = next((reason for fact, reason in self.data["override_reasons"].items() if extras.get(fact)), None)
        if override:
            plan.eligibility_override_by = clinician
            plan.eligibility_override_reason = override
            plan.eligibility_override_at = self.now - dt.timedelta(days=-spec.get("start", 0) + 2)
            # What the override was given for, as the service records it.
            plan.eligibility_override_covers = patient_eligibility(patient=patient, on=first_day).keys
            plan.version += 1
            plan._change_reason = "Eligibility override recorded by the prescriber."
            plan.save(
                update_fields=[
                    "eligibility_override_by",
                    "eligibility_override_reason",
                    "eligibility_override_at",
                    "eligibility_override_covers",
                    "version",
                    "updated_at",
                ]
            )
        if stage == "draft":
            return

        induction_days = self.data["protocols"][protocol_name]["induction_days"]
        targets = [first_day + dt.timedelta(days=d) for d in induction_days]
        induction_count = len(targets)
        if stage in ("maintenance", "completed"):
            last = targets[-1]
            while last < self.today + dt.timedelta(days=7 * self.data["weeks_ahead"]):
                last += dt.timedelta(days=interval_days)
                targets.append(last)
        if spec.get("given") is not None:
            targets = targets[: spec["given"]]
        given = self._book_series(
            index, patient, plan, protocol, targets, induction_count, stage=stage, booked_ahead=spec.get("booked_ahead")
        )

        # Later transitions are separate saves, so the plan's history shows each step and why.
        if stage == "completed":
            # The course ended at its last session so far; nothing is booked ahead.
            plan.status = PlanStatus.COMPLETED
            plan.review_date = max(given[-1].date(), plan.start_date + dt.timedelta(days=1))
            plan.version += 1
            plan._change_reason = "Course completed; patient in sustained remission."
            plan.save(update_fields=["status", "review_date", "version", "updated_at"])
        elif stage == "paused":
            plan.status = PlanStatus.PAUSED
            plan.paused_at = given[-1] + dt.timedelta(days=1)
            plan.version += 1
            plan._change_reason = extras["reason"]
            plan.save(update_fields=["status", "paused_at", "version", "updated_at"])
        elif stage == "ended":
            plan.status = PlanStatus.ENDED
            plan.ended_at = given[-1] + dt.timedelta(days=2)
            plan.end_reason = extras["reason"]
            plan.version += 1
            plan._change_reason = extras["reason"]
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
        booked_ahead: int | None = None,
    ) -> list[dt.datetime]:
        """Book one session per target day (or the next free day), returning the starts of the sessions given.
        With `booked_ahead`, no more than that many sessions after now: the rest are not booked yet."""
        min_gap = dt.timedelta(hours=protocol.min_gap_hours)
        session = dt.timedelta(minutes=protocol.session_minutes)
        booked_by = self.staff["frontdesk" if index % 2 else "frontdesk2"].user
        given: list[dt.datetime] = []
        sequence = 1
        for target in targets:
            on_or_after = target
            while True:
                not_before = given[-1].astimezone(dt.UTC) + min_gap if given else None
                cell = self.grid.take(
                    on_or_after=on_or_after,
                    not_before=not_before,
                    preferred_slot=index,
                    protocol=protocol,
                )
                if cell is None:
                    return given  # past the end of the seeded weeks
                ahead = sum(start > self.now for start in given)
                if booked_ahead is not None and cell.starts_at > self.now and ahead >= booked_ahead:
                    self.grid.give_back(cell)  # not booked yet: the chair stays free
                    return given
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
        notes = self.data["session_notes"]
        fields: dict[str, Any] = {}
        if status in (AppointmentStatus.CONFIRMED, AppointmentStatus.IN_CHAIR, AppointmentStatus.COMPLETED):
            fields["confirmed_at"] = min(starts_at - dt.timedelta(days=1), self.now - dt.timedelta(hours=1))
        if status in (AppointmentStatus.IN_CHAIR, AppointmentStatus.COMPLETED):
            fields["checked_in_at"] = starts_at - dt.timedelta(minutes=10)
            fields["in_chair_at"] = starts_at + dt.timedelta(minutes=5)
        if status == AppointmentStatus.COMPLETED:
            fields["completed_at"] = ends_at
            fields["notes"] = notes["completed"]
        if status == AppointmentStatus.CANCELLED:
            fields["cancelled_at"] = starts_at - dt.timedelta(days=1)
            fields["cancelled_by"] = booked_by
            fields["cancellation_reason"] = notes["cancelled"]
        if status == AppointmentStatus.NO_SHOW:
            fields["notes"] = notes["no_show"]
        self.appointment_statuses[status] += 1
        return Appointment.objects.create(
            patient=patient,
            plan=plan,
            sequence=sequence,
            phase=phase,
            site=self.site,
            chair=self.chairs[cell.chair_index],
            nurse=cell.nurse,
            starts_at=starts_at,
            ends_at=ends_at,
            status=status,
            ride_home=patient.escort_name,
            booked_by=booked_by,
            **fields,
        )

    # --- session records ----------------------------------------------------

    def _session_records(self) -> int:
        """Each completed session's record as its nurse kept it: pre-infusion vitals, the ketamine
        given (by its protocol's route, mg/kg of the patient's weight) with its line in the
        controlled-substance log, recovery vitals, side effects and the discharge with the driver; a
        session in the chair now has its pre-infusion vitals. The completion gate's order and rules
        hold (`completion_missing`). From a stream of its own, so the bookings stay as they were.
        Returns the sessions given a whole record."""
        rng = random.Random(RNG_SEED + 1)
        weights: dict[int, Decimal] = {}
        effects = list(SideEffect.objects.filter(active=True).order_by("position", "pk"))
        whole = 0
        recorded: list[Administration] = []
        sessions = (
            Appointment.objects.filter(
                site=self.site, status__in=[AppointmentStatus.COMPLETED, AppointmentStatus.IN_CHAIR]
            )
            .select_related("patient", "plan__protocol", "nurse__user")
            .order_by("starts_at", "pk")
        )
        for session in sessions:
            nurse = session.nurse
            assert session.in_chair_at is not None and nurse is not None and session.plan is not None
            # Taken between the check-in and the chair: the start gate lets nobody in the chair without it.
            pre_at = session.in_chair_at - dt.timedelta(minutes=rng.randint(2, 8))
            if pre_at > self.now:
                continue
            VitalSigns.objects.create(
                appointment=session,
                phase=VitalsPhase.PRE,
                recorded_by=nurse.user,
                recorded_at=pre_at,
                **self._calm_vitals(rng),
            )
            if session.status != AppointmentStatus.COMPLETED:
                continue
            protocol = session.plan.protocol
            weight = weights.setdefault(session.patient_id, Decimal(rng.randrange(110, 200)) / 2)
            dose = Decimal("0.5")
            started = session.in_chair_at + dt.timedelta(minutes=rng.randint(2, 8))
            ended = started + dt.timedelta(minutes=(protocol.infusion_minutes or 40) + rng.randint(-2, 3))
            given = Administration.objects.create(
                appointment=session,
                route=protocol.route,
                dose_mg_per_kg=dose,
                weight_kg=weight,
                total_mg=(dose * weight).quantize(Decimal("0.01")),
                started_at=started,
                ended_at=ended,
                lot_number=f"KX-{started:%y%m}",
                given_by=nurse,
                recorded_by=nurse.user,
                recorded_at=ended + dt.timedelta(minutes=2),
            )
            recorded.append(given)
            VitalSigns.objects.create(
                appointment=session,
                phase=VitalsPhase.RECOVERY,
                recorded_by=nurse.user,
                recorded_at=ended + dt.timedelta(minutes=15),
                **self._calm_vitals(rng),
            )
            monitored = settings.DISCHARGE_MIN_MONITORING_MINUTES
            discharged = min(
                ended + dt.timedelta(minutes=monitored + rng.randint(5, 20)), session.ends_at - dt.timedelta(minutes=1)
            )
            recovery = Recovery.objects.create(
                appointment=session,
                discharged_at=discharged,
                driver_name=session.ride_home or session.patient.escort_name or "Family member",
                recorded_by=nurse.user,
                recorded_at=discharged,
                notes=self.data["session_notes"]["completed"] if rng.random() < 0.2 else "",
            )
            if effects and rng.random() < 0.35:
                recovery.side_effects.set(rng.sample(effects, k=min(len(effects), rng.randint(1, 2))))
            whole += 1
        # The register's lines in the order the nurses wrote them: by the time each was recorded,
        # not by the sessions' starts (an earlier start can be recorded later).
        for given in sorted(recorded, key=lambda given: (given.recorded_at, given.pk)):
            log_administration(given, actor=given.recorded_by, now=given.recorded_at)
        return whole

    @staticmethod
    def _calm_vitals(rng: random.Random) -> dict[str, int]:
        """A reading inside the default limits (160/100, 110, SpO2 92), so no start is held."""
        systolic = rng.randint(108, 148)
        return {
            "systolic": systolic,
            "diastolic": min(rng.randint(64, 92), systolic - 30),
            "heart_rate": rng.randint(58, 98),
            "spo2": rng.randint(95, 99),
        }

    # --- reminders ----------------------------------------------------------

    def _reminders(self) -> tuple[int, int]:
        """Reminder rows for the upcoming sessions, as the booking services leave them: one per policy
        offset still ahead, and the one whose time has just passed due now (the workers were off while
        the demo was not running). Returns (rows written, rows due now)."""
        policy = self.site.reminder_policy_or_default
        quiet = quiet_hours(policy)
        upcoming = (
            Appointment.objects.filter(site=self.site, status__in=UPCOMING_STATUSES, starts_at__gt=self.now)
            .select_related("patient", "site")
            .order_by("starts_at", "pk")
        )
        rows: list[Reminder] = []
        due_now = 0
        for appointment in upcoming:
            patient = appointment.patient
            choice = channel_for(patient=patient, policy=policy)
            if not patient.reminder_consent or choice.channel is None:
                continue
            starts_at = appointment.starts_at.astimezone(dt.UTC)

            def row(send_at: dt.datetime, minutes: int, *, appointment=appointment, choice=choice, starts_at=starts_at):
                return Reminder(
                    appointment=appointment,
                    kind=ReminderKind.REMINDER,
                    channel=choice.channel,
                    fallback_reason=choice.fallback_reason,
                    offset_minutes=minutes,
                    session_starts_at=starts_at,
                    due_at=send_at,
                    next_attempt_at=send_at,
                )

            ahead = reminder_send_times(
                offsets_hours=policy.offsets_hours,
                session_starts_at=starts_at,
                now=self.now,
                zone=patient.zone,
                quiet=quiet,
            )
            rows += [row(send_at, minutes) for minutes, send_at in ahead.items()]
            passed = [
                hours
                for hours in policy.offsets_hours
                if starts_at - dt.timedelta(hours=hours) <= self.now and hours * 60 not in ahead
            ]
            if passed:
                rows.append(row(self.now, min(passed) * 60))
                due_now += 1
        Reminder.objects.bulk_create(rows)
        return len(rows), due_now
