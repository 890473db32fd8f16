"""The API booking hot path on the embedded default (SQLite, no Redis), end to end.

Token authentication, `booking_references` and the snapshot's UNION ALL are hand-written
SQL that the rest of the suite runs only on PostgreSQL. Here a SQLite database is migrated
and one `manage.py shell` builds two sites, books through the API with a front-desk token
and reads free slots, printing what it saw as one JSON line that the test checks."""

from __future__ import annotations

import datetime as dt
import json

from tests.sqlite_shell import migrated_copy
from tests.test_embedded_default import embedded_env, manage

# Run inside `manage.py shell -c` against the SQLite database. Site A and site B (both in
# New York, open 08:00-18:00 on weekdays), two chairs at A and one at B, a nurse at each on
# shift 07:00-19:00 on the booking day, a front desk at site A only, and patients known at
# A, at B only, or at B by home but at A through an appointment or a plan.
SCENARIO = r"""
import datetime as dt, json
import time_machine
from django.utils import timezone
# The clock is set (a Monday morning in New York), so the booking day never depends on the day the test runs.
time_machine.travel(dt.datetime(2030, 1, 7, 14, 0, tzinfo=dt.UTC), tick=False).start()
from rest_framework.test import APIClient
from clinic.models import Closure, Role
from clinic.security.services import token_issue
from scheduling.engine import Availability
from scheduling.engine.wallclock import day_bounds
from scheduling.models import Appointment, IdempotencyRecord, Reminder
from scheduling.selectors import booking_references, opening_hours, site_snapshot, sites_with_schedule
from tests.factories import (
    AppointmentFactory, ChairFactory, PatientFactory, PlanFactory, ProtocolFactory, ShiftFactory, SiteFactory,
    StaffFactory,
)

# One nurse for both chairs, who may set up two patients at once (so a booked chair leaves the
# other chair free at the same time: the chair rule is what these checks look at).
site_a = SiteFactory(name="Site A", time_zone="America/New_York", setups_per_nurse=2)
site_b = SiteFactory(name="Site B", time_zone="America/New_York")
zone = site_a.zone
day = (timezone.now().astimezone(zone) + dt.timedelta(days=10)).date()
while day.weekday() >= 5:
    day += dt.timedelta(days=1)
earlier = day - dt.timedelta(days=7)


def local(hour, minute=0, on=None):
    return dt.datetime.combine(on or day, dt.time(hour, minute), tzinfo=zone)


chair_a1 = ChairFactory(site=site_a, name="A1")
chair_a2 = ChairFactory(site=site_a, name="A2")
chair_b1 = ChairFactory(site=site_b, name="B1")
nurse_a = StaffFactory(role=Role.NURSE, sites=[site_a])
nurse_b = StaffFactory(role=Role.NURSE, sites=[site_b])
ShiftFactory(staff=nurse_a, site=site_a, starts_at=local(7), ends_at=local(19))
ShiftFactory(staff=nurse_b, site=site_b, starts_at=local(7), ends_at=local(19))
desk = StaffFactory(role=Role.FRONT_DESK, sites=[site_a])

first_patient = PatientFactory(home_site=site_a, reminder_consent=True)
second_patient = PatientFactory(home_site=site_a)
only_at_b = PatientFactory(home_site=site_b)
AppointmentFactory(patient=only_at_b, chair=chair_b1, starts_at=local(10, on=earlier))
visiting = PatientFactory(home_site=site_b)
AppointmentFactory(patient=visiting, chair=chair_a2, starts_at=local(10, on=earlier))
planned_at_a = PatientFactory(home_site=site_b)
PlanFactory(patient=planned_at_a, site=site_a)

token = token_issue(user=desk.user)[0]
client = APIClient(HTTP_HOST="localhost")
client.credentials(HTTP_AUTHORIZATION=f"Token {token}")


def post(key, body, using=client):
    response = using.post("/api/v1/appointments/", body, format="json", HTTP_IDEMPOTENCY_KEY=key)
    return {"status": response.status_code, "body": response.json(),
            "replayed": response.headers.get("Idempotent-Replayed")}


def body(patient, hour, **more):
    return {"patient": patient.pk, "site": site_a.pk, "starts_at": local(hour).isoformat(), **more}


def span(start, end):
    return [start.isoformat(), end.isoformat()]


def free(site):
    fresh = sites_with_schedule().get(pk=site.pk)
    start, end = day_bounds(day, fresh.zone)
    snapshot = site_snapshot(site=fresh, start=start, end=end)
    slots = Availability(snapshot).free_slots(day, dt.timedelta(minutes=120), "iv")
    instants = [s for c in snapshot.chairs for b in c.busy for s in (b.start, b.end)]
    instants += [s for n in snapshot.nurses for b in n.shifts + n.booked for s in (b.start, b.end)]
    instants += [s for c, _ in snapshot.closures for s in (c.start, c.end)]
    return {
        "slots": sorted([s.start.astimezone(zone).strftime("%H:%M"), s.chair_id, s.nurse_id] for s in slots),
        "chairs": {c.name: [span(b.start, b.end) for b in c.busy] for c in snapshot.chairs},
        "nurses": {n.id: {"shifts": [span(b.start, b.end) for b in n.shifts],
                          "booked": [span(b.start, b.end) for b in n.booked],
                          "hands_on": [span(b.start, b.end) for b in n.hands_on]} for n in snapshot.nurses},
        "closures": [[*span(c.start, c.end), why] for c, why in snapshot.closures],
        "all_aware": all(isinstance(i, dt.datetime) and i.utcoffset() is not None for i in instants),
    }


out = {
    "ids": {"site_a": site_a.pk, "site_b": site_b.pk, "a1": chair_a1.pk, "a2": chair_a2.pk, "b1": chair_b1.pk,
            "nurse_a": nurse_a.pk, "nurse_a_user": nurse_a.user_id, "nurse_b": nurse_b.pk, "desk_user": desk.user_id,
            "first_patient": first_patient.pk, "only_at_b": only_at_b.pk, "visiting": visiting.pk, "planned_at_a": planned_at_a.pk},
    "at": {hour: local(hour).isoformat() for hour in (9, 14, 16)},
    "at_utc": {hour: local(hour).astimezone(dt.timezone.utc).isoformat() for hour in (14, 16)},
    "shift": span(local(7), local(19)),
}

# The booking's references as the desk sees them, read directly.
seen = booking_references(staff=desk, patient_id=visiting.pk, site_id=site_a.pk, chair_id=chair_a1.pk,
                          nurse_id=nurse_a.pk)
at_b = {"patient_id": only_at_b.pk, "site_id": site_b.pk, "chair_id": chair_b1.pk, "nurse_id": nurse_b.pk}
hidden = booking_references(staff=desk, **at_b)
unscoped = booking_references(staff=None, **at_b)  # no actor: every site, no site condition
out["references"] = {
    "seen": {name: getattr(found, "pk", None) for name, found in seen.items()},
    "hidden": {name: getattr(found, "pk", None) for name, found in hidden.items()},
    "unscoped": {name: getattr(found, "pk", None) for name, found in unscoped.items()},
}
if None not in seen.values():  # else the test says which one was not found
    out["references"].update(
        site_opening={str(k): [v[0].isoformat(), v[1].isoformat()] for k, v in opening_hours(seen["site"]).items()},
        nurse_user=seen["nurse"].user.pk,
        home_site=seen["patient"].home_site.pk,
        policy_site=seen["site"].reminder_policy.site_id,
    )

out["free_before"] = free(site_a)

# 1. A booking at site A.
booking = body(first_patient, 14, chair=chair_a1.pk, nurse=nurse_a.pk)
out["first"] = post("k-first", booking)
out["replay"] = post("k-first", booking)
# Nothing (no row, history or reminders) if it was refused: the test then shows the answer.
appointment = Appointment.objects.filter(pk=out["first"]["body"].get("id") or 0).first()
out["row"], out["history"], out["reminders"] = None, [], []
if appointment is not None:
    out["row"] = {
        "patient": appointment.patient_id, "site": appointment.site_id, "chair": appointment.chair_id,
        "nurse": appointment.nurse_id, "starts_at": appointment.starts_at.isoformat(),
        "ends_at": appointment.ends_at.isoformat(), "status": appointment.status,
        "booked_by": appointment.booked_by_id,
    }
    out["history"] = [
        [h.history_type, h.history_change_reason, h.history_user_id, h.chair_id, h.starts_at.isoformat()]
        for h in appointment.history.all()
    ]
    out["reminders"] = sorted(
        [r.kind, r.offset_minutes, r.session_starts_at.isoformat(), r.due_at.isoformat(), r.status]
        for r in Reminder.objects.filter(appointment=appointment)
    )
out["idempotency_keys"] = sorted(IdempotencyRecord.objects.values_list("key", "response_status"))
out["free_after_booking"] = free(site_a)

# 2. The same chair at an overlapping time for another patient.
out["chair_taken"] = post("k-taken", body(second_patient, 15, chair=chair_a1.pk, nurse=nurse_a.pk))

# 3. Another site's objects, and missing ones to compare their answer with.
count_before_refusals = Appointment.objects.count()
missing = 999999
out["refused"] = {
    "site": post("k-site", {**body(second_patient, 9), "site": site_b.pk}),
    "patient": post("k-patient", body(only_at_b, 9)),
    "chair": post("k-chair", body(second_patient, 9, chair=chair_b1.pk, nurse=nurse_a.pk)),
    "nurse": post("k-nurse", body(second_patient, 9, chair=chair_a1.pk, nurse=nurse_b.pk)),
}
out["missing"] = {
    "site": post("m-site", {**body(second_patient, 9), "site": missing}),
    "patient": post("m-patient", {**body(second_patient, 9), "patient": missing}),
    "chair": post("m-chair", body(second_patient, 9, chair=missing, nurse=nurse_a.pk)),
    "nurse": post("m-nurse", body(second_patient, 9, chair=chair_a1.pk, nurse=missing)),
}
out["created_by_refusals"] = Appointment.objects.count() - count_before_refusals

# 4. Patients whose home is site B but who are site A's through an appointment or a plan;
# the first leaves chair and nurse to the booking service, with A1 taken at that time.
out["visiting"] = post("k-visiting", body(visiting, 14))
out["planned"] = post("k-planned", body(planned_at_a, 16, chair=chair_a1.pk, nurse=nurse_a.pk))

# 5. Closures: one over 09:00-11:00 at site A, one at site B that must not touch site A.
out["free_before_closure"] = free(site_a)
Closure.objects.create(site=site_a, starts_at=local(9), ends_at=local(11), reason="Fire drill")
Closure.objects.create(site=site_b, starts_at=local(12), ends_at=local(13), reason="Site B only")
out["free_after_closure"] = free(site_a)
out["closed"] = post("k-closed", body(second_patient, 9, chair=chair_a2.pk, nurse=nurse_a.pk))

# 6. Bad tokens: the right key prefix with a wrong digest, and nonsense.
stranger = APIClient(HTTP_HOST="localhost")
wrong = token[:-1] + ("0" if token[-1] != "0" else "1")
stranger.credentials(HTTP_AUTHORIZATION=f"Token {wrong}")
out["bad_digest"] = post("k-bad", body(second_patient, 11), using=stranger)
stranger.credentials(HTTP_AUTHORIZATION="Token not-a-token-at-all")
out["bad_token"] = post("k-bad", body(second_patient, 11), using=stranger)
out["appointments_at_a"] = sorted(
    [a.patient_id, a.chair_id, a.nurse_id, a.starts_at.isoformat()]
    for a in Appointment.objects.filter(site=site_a, starts_at__gte=local(0))
)
# 7. A session of a plan whose protocol sets up in 15 minutes, without checks.
quick = ProtocolFactory(name="Quick setup", nurse_setup_minutes=15, nurse_check_offsets_minutes=[])
quick_patient = PatientFactory(home_site=site_a)
AppointmentFactory(
    patient=quick_patient, plan=PlanFactory(patient=quick_patient, site=site_a, protocol=quick),
    chair=chair_a2, nurse=nurse_a, starts_at=local(17),
)
out["quick_starts"] = local(17).isoformat()
out["with_quick"] = free(site_a)
print("BOOKING", json.dumps(out, default=str))
"""


def shell(env: dict[str, str], code: str, marker: str) -> dict:
    result = manage(env, "shell", "-c", code)
    line = next((line for line in result.stdout.splitlines() if line.startswith(marker + " ")), None)
    assert line is not None, f"no {marker} line:\n{result.stdout}\n{result.stderr}"
    return json.loads(line.split(" ", 1)[1])


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


def hhmm(start: str, end: str, step: int = 15) -> list[str]:
    """Local starts from `start` to `end` inclusive on the 15-minute grid."""
    first, last = (int(t[:2]) * 60 + int(t[3:]) for t in (start, end))
    return [f"{m // 60:02d}:{m % 60:02d}" for m in range(first, last + 1, step)]


def slots(free: dict) -> set[tuple[str, int]]:
    return {(start, chair) for start, chair, _nurse in free["slots"]}


def test_api_booking_on_sqlite_end_to_end(tmp_path, tmp_path_factory):
    env = embedded_env(tmp_path)
    # Neither UTC nor the sites' zone: a datetime read back naive, or made aware in the
    # server's zone instead of UTC, would land on the wrong hour.
    env["DJANGO_TIME_ZONE"] = "Asia/Tokyo"
    migrated_copy(tmp_path, tmp_path_factory)
    out = shell(env, SCENARIO, "BOOKING")
    ids, when = out["ids"], out["at"]
    a1, a2, nurse_a = ids["a1"], ids["a2"], ids["nurse_a"]

    # The one-statement read of the booking's references: visible at A, hidden at B.
    refs = out["references"]
    assert refs["seen"] == {"patient": ids["visiting"], "site": ids["site_a"], "chair": a1, "nurse": nurse_a}
    assert refs["hidden"] == {"patient": None, "site": None, "chair": None, "nurse": None}
    assert refs["unscoped"] == {
        "patient": ids["only_at_b"],
        "site": ids["site_b"],
        "chair": ids["b1"],
        "nurse": ids["nurse_b"],
    }
    assert refs["nurse_user"] == ids["nurse_a_user"]
    assert refs["site_opening"] == {str(d): ["08:00:00", "18:00:00"] for d in range(5)}
    assert refs["home_site"] == ids["site_b"] and refs["policy_site"] == ids["site_a"]

    # 1. Booked as asked, with its history, reminders and idempotency record.
    first = out["first"]
    assert first["status"] == 201, first
    assert (first["body"]["chair"], first["body"]["nurse"], first["body"]["site"]) == (a1, nurse_a, ids["site_a"])
    assert at(first["body"]["starts_at"]) == at(when["14"])
    assert out["replay"]["status"] == 201 and out["replay"]["replayed"] == "true"
    assert out["replay"]["body"] == first["body"]
    row = out["row"]
    starts, ends = at(when["14"]), at(when["14"]) + dt.timedelta(hours=2)
    assert row == {
        "patient": ids["first_patient"],
        "site": ids["site_a"],
        "chair": a1,
        "nurse": nurse_a,
        "starts_at": out["at_utc"]["14"],
        "ends_at": ends.astimezone(dt.UTC).isoformat(),
        "status": "booked",
        "booked_by": ids["desk_user"],
    }
    assert out["history"] == [["+", "Booked", ids["desk_user"], a1, out["at_utc"]["14"]]]
    reminders = out["reminders"]
    assert [(kind, offset) for kind, offset, *_ in reminders] == [
        ("confirmation", None),
        ("reminder", 120),
        ("reminder", 1440),
        ("reminder", 4320),
    ]
    for kind, offset, session_starts_at, due_at, status in reminders:
        assert at(session_starts_at) == starts and status == "pending"
        if kind == "reminder":  # 14:00 local: no offset lands in quiet hours
            assert at(due_at) == starts - dt.timedelta(minutes=offset)
    assert out["idempotency_keys"] == [["k-first", 201]]

    # 5a. The booked chair is no longer offered over the booked time; the other chair still is.
    before, after = slots(out["free_before"]), slots(out["free_after_booking"])
    assert ("14:00", a1) in before and ("14:00", a2) in after
    assert before - after == {(t, a1) for t in hhmm("12:15", "15:45")}
    assert after <= before
    snapshot = out["free_after_booking"]
    assert snapshot["all_aware"]
    assert snapshot["chairs"] == {"A1": [[out["at_utc"]["14"], ends.astimezone(dt.UTC).isoformat()]], "A2": []}
    assert list(snapshot["nurses"]) == [str(nurse_a)]
    shift = [at(t) for t in snapshot["nurses"][str(nurse_a)]["shifts"][0]]
    assert shift == [at(t) for t in out["shift"]]
    assert [at(t) for t in snapshot["nurses"][str(nurse_a)]["booked"][0]] == [starts, ends]
    # The session's nurse work comes with it from SQLite too: setup, the check at 40 minutes, discharge.
    minute = dt.timedelta(minutes=1)
    assert [[at(t) for t in hands] for hands in snapshot["nurses"][str(nurse_a)]["hands_on"]] == [
        [starts, starts + 20 * minute],
        [starts + 40 * minute, starts + 45 * minute],
        [ends - 10 * minute, ends],
    ]

    # 2. The same chair, overlapping, for another patient.
    taken = out["chair_taken"]
    assert taken["status"] == 409, taken
    assert taken["body"]["error"]["code"] == "booking_conflict"
    assert taken["body"]["error"]["details"]["reason"] == "chair_taken"

    # 3. Another site's site, patient, chair or nurse: the same 400 as a missing id, naming the field.
    for field, refused in out["refused"].items():
        missing = out["missing"][field]
        assert refused["status"] == missing["status"] == 400, (field, refused, missing)
        assert set(refused["body"]["error"]["fields"]) == {field}, (field, refused)
        assert set(missing["body"]["error"]["fields"]) == {field}, (field, missing)
        [said] = refused["body"]["error"]["fields"][field]
        [said_missing] = missing["body"]["error"]["fields"][field]
        assert said_missing.replace('"999999"', '"<id>"') == said.replace(f'"{_named_id(ids, field)}"', '"<id>"')
    assert out["created_by_refusals"] == 0

    # 4. Home site B, but an appointment (or a plan) at A: site A's desk books them.
    visiting = out["visiting"]
    assert visiting["status"] == 201, visiting
    assert (visiting["body"]["patient"], visiting["body"]["chair"], visiting["body"]["nurse"]) == (
        ids["visiting"],
        a2,
        nurse_a,
    )
    assert at(visiting["body"]["starts_at"]) == starts
    planned = out["planned"]
    assert planned["status"] == 201, planned
    assert (planned["body"]["patient"], planned["body"]["chair"]) == (ids["planned_at_a"], a1)
    # A session of a plan brings its protocol's nurse work (read through the plan, on SQLite):
    # a 15-minute setup and no check.
    quick_starts = at(out["quick_starts"])
    hands = [[at(t) for t in h] for h in out["with_quick"]["nurses"][str(nurse_a)]["hands_on"]]
    assert [quick_starts, quick_starts + dt.timedelta(minutes=15)] in hands
    assert [quick_starts + dt.timedelta(minutes=40), quick_starts + dt.timedelta(minutes=45)] not in hands

    # 5b. A closure over 09:00-11:00 removes the starts whose session would touch it, nothing else;
    # site B's closure leaves site A alone.
    open_, closed = slots(out["free_before_closure"]), slots(out["free_after_closure"])
    assert open_ - closed == {(t, chair) for t in hhmm("08:00", "10:45") for chair in (a1, a2)}
    assert closed <= open_
    assert [reason for *_, reason in out["free_after_closure"]["closures"]] == ["Fire drill"]
    assert out["closed"]["status"] == 409 and out["closed"]["body"]["error"]["details"]["reason"] == "site_closed"

    # 6. Bad tokens are 401 and book nothing.
    for name in ("bad_digest", "bad_token"):
        assert out[name]["status"] == 401, out[name]
    assert out["appointments_at_a"] == sorted(
        [
            [ids["first_patient"], a1, nurse_a, out["at_utc"]["14"]],
            [ids["visiting"], a2, nurse_a, out["at_utc"]["14"]],
            [ids["planned_at_a"], a1, nurse_a, out["at_utc"]["16"]],
        ]
    )


def _named_id(ids: dict, field: str) -> int:
    """The other site's object each refused booking named (see SCENARIO)."""
    return {"site": ids["site_b"], "patient": ids["only_at_b"], "chair": ids["b1"], "nurse": ids["nurse_b"]}[field]


def test_level_placement_reads_and_proposes_on_sqlite(tmp_path, tmp_path_factory):
    """`site_placement`'s one hand-written read (template, shortest protocol, habits) gives on
    SQLite what the ORM's reads give, as on PostgreSQL (tests/scheduling/test_placement_services.py),
    so do a proposal's reads of opening hours, chairs and infusions so far
    (tests/scheduling/test_proposal_reads.py), and a level site (the default policy, the demo's)
    proposes a whole course there."""
    from tests.scheduling.placement_reads import check
    from tests.scheduling.proposal_reads import check as check_proposal_reads

    env = embedded_env(tmp_path)
    env["DJANGO_TIME_ZONE"] = "Asia/Tokyo"
    migrated_copy(tmp_path, tmp_path_factory)
    code = (
        "import json\n"
        "from scheduling import services\n"
        "from tests.scheduling.conftest import NOW, START, make_clinic\n"
        "from tests.scheduling.placement_reads import level_site_read_both_ways\n"
        "from tests.scheduling.proposal_reads import proposal_reads_both_ways\n"
        "found = level_site_read_both_ways()\n"
        "found['proposal_reads'] = proposal_reads_both_ways()\n"
        "clinic = make_clinic(chairs=3, nurses=2, placement_policy='level')\n"
        "proposal = services.course_propose(plan=clinic.plan(), start_date=START, now=NOW)\n"
        "found['course'] = [[s.starts_at.astimezone(clinic.site.zone).isoformat(), s.why] for s in proposal.sessions]\n"
        "print('PLACEMENT', json.dumps(found))\n"
    )
    found = shell(env, code, "PLACEMENT")
    check(found)
    check_proposal_reads(found["proposal_reads"])
    course = found["course"]
    days = [dt.datetime.fromisoformat(starts).date() for starts, _ in course]
    assert len(course) == 6 and len(set(days)) == 6
    for starts, why in course:
        # Level's reasons, not earliest's ("the earliest free time").
        assert (
            why.startswith(f"{dt.datetime.fromisoformat(starts):%a %-d %b %Y %H:%M}, Chair ")
            and "keeps setups apart" in why
        )


def test_day_plans_are_solved_kept_and_preferred_on_sqlite(tmp_path, tmp_path_factory):
    """The embedded default runs beat's day-plan refresh too: on SQLite a level site's template is
    solved, a day with a session off its rhythm gets a plan (the fingerprint, the JSON starts and
    the one-statement read by day number), and a course proposed onto that day takes its starts."""
    env = embedded_env(tmp_path)
    migrated_copy(tmp_path, tmp_path_factory)
    code = (
        "import datetime as dt, json\n"
        "from scheduling import services\n"
        "from scheduling.selectors import preferred_starts, site_placement\n"
        "from scheduling.services.day_plans import day_plans_refresh\n"
        "from scheduling.services.day_template import day_template_regenerate\n"
        "from tests.factories import PatientFactory\n"
        "from tests.scheduling.conftest import NOW, START, make_clinic\n"
        "clinic = make_clinic(chairs=4, nurses=2, placement_policy='level')\n"
        "day_template_regenerate(site=clinic.site, actor=clinic.prescriber.user, now=NOW)\n"
        "days = [START, START + dt.timedelta(days=1)]\n"
        "for day in days:\n"
        "    services.appointment_book(patient=PatientFactory(home_site=clinic.site), site=clinic.site,\n"
        "        starts_at=dt.datetime.combine(day, dt.time(9, 10), tzinfo=clinic.site.zone),\n"
        "        actor=clinic.front_desk.user, now=NOW, chair=clinic.chairs[0], nurse=clinic.nurses[0],\n"
        "        duration=dt.timedelta(minutes=120))\n"
        "first = day_plans_refresh(site=clinic.site, now=NOW)\n"
        "again = day_plans_refresh(site=clinic.site, now=NOW)\n"
        "placement = site_placement(clinic.site)\n"
        "session = services.course_propose(plan=clinic.plan(), start_date=START, now=NOW).sessions[0]\n"
        "local = session.starts_at.astimezone(clinic.site.zone)\n"
        "planned = preferred_starts(site_id=clinic.site.pk, day=local.date())\n"
        "print('PLANS', json.dumps({\n"
        "    'solved': [d.isoformat() for d in first.solved], 'unchanged': again.unchanged,\n"
        "    'read': sorted(d.isoformat() for d in placement.day_starts),\n"
        "    'days': [d.isoformat() for d in days],\n"
        "    'on_plan': local.time() in planned.get(session.chair_id, ()),\n"
        "    'why': session.why}))\n"
    )
    found = shell(env, code, "PLANS")
    assert found["solved"] == found["days"]
    assert found["unchanged"] == 2
    assert found["read"] == found["days"]
    assert found["on_plan"] is True
    assert "a start of this day's plan" in found["why"]


def test_a_lapsed_hold_is_free_time_on_sqlite(tmp_path, tmp_path_factory):
    """The snapshot's hand-written SQL tells a lapsed hold from a live one on SQLite too
    (tests/scheduling/test_lapsed_holds.py holds the rule on PostgreSQL): before it lapses the
    hold keeps its chair; after, before any sweep, the desk books the chair and the booking
    releases the hold."""
    env = embedded_env(tmp_path)
    migrated_copy(tmp_path, tmp_path_factory)
    code = (
        "import datetime as dt, json\n"
        "from scheduling.errors import BookingConflict\n"
        "from scheduling.services import appointment_book\n"
        "from tests.factories import PatientFactory\n"
        "from tests.scheduling.conftest import NOW, make_clinic\n"
        "clinic = make_clinic(chairs=1)\n"
        "at, until = dt.datetime(2026, 3, 2, 15, tzinfo=dt.UTC), NOW + dt.timedelta(minutes=10)\n"
        "def book(now, **more):\n"
        "    return appointment_book(patient=PatientFactory(home_site=clinic.site), site=clinic.site, starts_at=at,\n"
        "        actor=clinic.front_desk.user, now=now, chair=clinic.chairs[0], nurse=clinic.nurses[0], **more)\n"
        "held = book(NOW, hold_until=until)\n"
        "try:\n"
        "    book(until - dt.timedelta(seconds=1))\n"
        "    before = 'booked'\n"
        "except BookingConflict as exc:\n"
        "    before = exc.details.get('reason')\n"
        "after = book(until + dt.timedelta(seconds=30))\n"
        "held.refresh_from_db()\n"
        "print('LAPSED', json.dumps({'before': before, 'after': [after.status, after.chair_id == held.chair_id],\n"
        "    'hold': [held.status, held.cancellation_reason]}))\n"
    )
    found = shell(env, code, "LAPSED")
    assert found == {"before": "chair_taken", "after": ["booked", True], "hold": ["cancelled", "Hold expired"]}
