"""Appointment/$find's IHE `timing` and `reason`: a Timing's days and times narrow the proposals
(single sessions and a whole course), the parts not understood are refused, and the reason is
echoed on every proposal and kept through $hold and $book, by reference as well as sent back whole."""

from __future__ import annotations

import datetime as dt
import json
from zoneinfo import ZoneInfo

import pytest

from interop.fhir import ids
from interop.fhir.models import FindReason
from scheduling.models import Appointment
from tests.interop.fhir_support import BASE, FHIR_JSON, parameters, parse, reference, window
from tests.scheduling.conftest import START

ZONE = ZoneInfo("America/New_York")  # the test clinic's wall clock (open Mon-Fri 08:00-18:00)
SNOMED = "http://snomed.info/sct"
REASON = {"coding": [{"system": SNOMED, "code": "35489007", "display": "Depressive disorder"}]}
# Who books when a test reads the reason back: an Appointment's reasonCode comes from the session's
# notes, which only clinicians read (tests/interop/test_fhir_appointment_clinical_fields.py).
EHR_ROLE = "prescriber"


def post(client, path, body, **headers):
    return client.post(BASE + path, body, content_type=FHIR_JSON, **headers)


def find(
    world, *, timing=None, reason=None, patient=None, day=START, days=7, count=100, course=False, role="front_desk"
):
    """POST $find over `days` days from `day`, with a valueTiming and a valueCodeableConcept reason."""
    start, end = window(day, days)
    pairs: list[tuple[str, str, object]] = [
        ("start", "valueDateTime", start),
        ("end", "valueDateTime", end),
        ("visit-type", "valueString", str(world.protocol.pk)),
        ("_count", "valueInteger", count),
    ]
    if patient is not None:
        pairs.append(("patient-reference", "valueReference", {"reference": f"Patient/{patient.pk}"}))
    if course:
        pairs.append(("course", "valueBoolean", True))
    if timing is not None:
        pairs.append(("timing", "valueTiming", timing))
    if reason is not None:
        pairs.append(("reason", "valueCodeableConcept", reason))
    return post(world.client(role), "Appointment/$find", parameters(*pairs))


def appointments(response) -> list:
    assert response.status_code == 200, response.content
    return [e.resource for e in parse(response).entry or [] if e.resource.get_resource_type() == "Appointment"]


def note_of(response) -> str:
    outcomes = [e.resource for e in parse(response).entry or [] if e.resource.get_resource_type() == "OperationOutcome"]
    assert len(outcomes) == 1
    return outcomes[0].issue[0].diagnostics


def local(instant: dt.datetime) -> dt.datetime:
    return instant.astimezone(ZONE)


# --- timing: single sessions -----------------------------------------------------------------


def test_day_of_week_and_time_of_day_narrow_the_single_session_proposals(world):
    timing = {"repeat": {"dayOfWeek": ["wed"], "timeOfDay": ["13:00:00"]}}
    narrowed = appointments(find(world, timing=timing, days=5))
    assert narrowed
    assert {local(a.start).date() for a in narrowed} == {START + dt.timedelta(days=2)}
    assert all(local(a.start).time() >= dt.time(13) for a in narrowed)
    # Exactly what the search of that Wednesday alone offers from 13:00: nothing left out.
    wednesday = appointments(find(world, day=START + dt.timedelta(days=2), days=1))
    assert min(local(a.start).time() for a in wednesday) < dt.time(13)
    assert {(a.start, a.participant[0].actor.reference) for a in narrowed} == {
        (a.start, a.participant[0].actor.reference) for a in wednesday if local(a.start).time() >= dt.time(13)
    }
    # Without the timing, the same five days offer Monday first.
    assert local(appointments(find(world, days=5, count=1))[0].start).date() == START


@pytest.mark.parametrize(
    ("when", "first", "last"),
    [(["AFT"], dt.time(12), dt.time(16, 59)), (["MORN.late", "NOON"], dt.time(10), dt.time(12, 59))],
)
def test_when_limits_the_start_to_the_clinics_stretch_of_the_day(world, when, first, last):
    found = appointments(find(world, timing={"repeat": {"when": when}}, days=1))
    assert found
    assert all(first <= local(a.start).time() <= last for a in found)
    assert {local(a.start).time() for a in found} >= {first}


def test_a_timing_that_leaves_no_day_answers_the_empty_bundle_with_the_reason(world):
    response = find(world, timing={"repeat": {"dayOfWeek": ["sat", "sun"]}})
    assert appointments(response) == [] and parse(response).total == 0
    note = note_of(response)
    assert "timing: on Sat, Sun" in note
    assert "not one of the patient's preferred days" in note


def test_a_time_of_day_too_late_for_a_session_answers_the_empty_bundle_with_the_reason(world):
    response = find(world, timing={"repeat": {"timeOfDay": ["17:00:00"]}})
    assert appointments(response) == []
    assert "no 120-minute session fits in opening hours from 17:00" in note_of(response)


def test_bounds_period_cuts_the_window(world):
    bounds_start = dt.datetime.combine(START + dt.timedelta(days=2), dt.time(), tzinfo=dt.UTC)
    timing = {"repeat": {"boundsPeriod": {"start": bounds_start.isoformat()}}}
    found = appointments(find(world, timing=timing, days=4))
    assert found and min(a.start for a in found) >= bounds_start
    outside = {"repeat": {"boundsPeriod": {"end": (START - dt.timedelta(days=3)).isoformat()}}}
    response = find(world, timing=outside)
    assert appointments(response) == []
    assert "boundsPeriod lies outside start–end" in note_of(response)


def test_a_bounds_period_of_dates_is_those_whole_days_at_the_clinic(world):
    # boundsPeriod 2026-03-?? to the same date: that day in New York, the end's day included (a FHIR
    # Period). Read as UTC days it was refused ("end must be after start") or cut at 19:00 the day before.
    day = START + dt.timedelta(days=2)
    timing = {"repeat": {"boundsPeriod": {"start": day.isoformat(), "end": day.isoformat()}}}
    found = appointments(find(world, timing=timing, days=5))
    assert found and {local(a.start).date() for a in found} == {day}
    assert max(local(a.end) for a in found).date() == day


# --- timing: a whole course --------------------------------------------------------------------


@pytest.mark.parametrize("under_plan", [False, True], ids=["protocol-rule", "open-plan"])
def test_a_course_keeps_to_the_timings_days_and_times(world, under_plan):
    if under_plan:
        world.clinic.plan(patient=world.patient_a)
    plain = appointments(find(world, patient=world.patient_a, course=True))
    assert {local(a.start).weekday() for a in plain} - {0, 2, 4} or min(local(a.start).time() for a in plain) < dt.time(
        13
    )
    timing = {"repeat": {"dayOfWeek": ["mon", "wed", "fri"], "timeOfDay": ["13:00:00"]}}
    sessions = appointments(find(world, patient=world.patient_a, course=True, timing=timing))
    assert len(sessions) == world.protocol.induction_sessions
    assert {local(s.start).weekday() for s in sessions} <= {0, 2, 4}
    assert all(local(s.start).time() >= dt.time(13) for s in sessions)


def test_a_course_the_timing_leaves_no_room_for_answers_the_empty_bundle_with_the_reason(world):
    response = find(world, patient=world.patient_a, course=True, timing={"repeat": {"dayOfWeek": ["sat"]}})
    assert appointments(response) == []
    note = note_of(response)
    assert note.startswith("No whole course fits") and "timing asked: on Sat" in note


def test_a_course_that_would_end_after_the_bounds_period_is_refused_with_the_reason(world):
    bounds_end = dt.datetime.combine(START + dt.timedelta(days=7), dt.time(), tzinfo=dt.UTC)
    response = find(
        world,
        patient=world.patient_a,
        course=True,
        timing={"repeat": {"boundsPeriod": {"end": bounds_end.isoformat()}}},
    )
    assert appointments(response) == []
    assert "after the timing's boundsPeriod end" in note_of(response)


# --- timing: what is not understood is refused -------------------------------------------------


@pytest.mark.parametrize(
    "timing",
    [
        {"repeat": {"frequency": 2, "period": 1, "periodUnit": "wk"}},
        {"repeat": {"boundsDuration": {"value": 3, "unit": "wk", "system": "http://unitsofmeasure.org", "code": "wk"}}},
        {"repeat": {"count": 6}},
        {"repeat": {"duration": 2, "durationUnit": "h"}},
        {"repeat": {"when": ["HS"]}},
        {"repeat": {"when": ["MORN.early", "AFT"]}},
        {"repeat": {"when": ["MORN"], "offset": 30}},
        {"repeat": {"timeOfDay": ["09:00:00", "14:00:00"]}},
        {"event": ["2026-03-03T14:00:00Z"]},
        {"code": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-GTSAbbreviation", "code": "BID"}]}},
    ],
    ids=[
        "frequency-period",
        "bounds-duration",
        "count",
        "duration",
        "when-bedtime",
        "when-apart",
        "offset",
        "two-times",
        "event",
        "code",
    ],
)
def test_a_timing_part_not_understood_is_refused_not_ignored(world, timing):
    response = find(world, timing=timing)
    assert response.status_code == 400
    issue = parse(response).issue[0]
    assert issue.code == "not-supported" and "timing" in issue.diagnostics


def test_timing_on_a_get_is_refused_since_a_timing_needs_a_body(world):
    start, end = window()
    response = world.client("front_desk").get(
        BASE + f"Appointment/$find?start={start}&end={end}&visit-type={world.protocol.pk}&timing=mon"
    )
    assert response.status_code == 400 and parse(response).issue[0].code == "not-supported"


# --- reason ----------------------------------------------------------------------------------------


def test_the_reason_is_echoed_on_every_proposal_single_and_course(world):
    single = appointments(find(world, reason=REASON, days=1, count=5))
    course = appointments(find(world, reason=REASON, patient=world.patient_a, course=True))
    for proposal in single + course:
        assert [c.code for c in proposal.reasonCode[0].coding] == ["35489007"]
        assert proposal.reasonCode[0].coding[0].system == SNOMED
    assert len(single) == 5 and len(course) == 6


def test_a_reason_token_on_get_is_echoed_as_a_coding(world):
    start, end = window()
    response = world.client("front_desk").get(
        BASE + f"Appointment/$find?start={start}&end={end}&visit-type={world.protocol.pk}&_count=2"
        f"&reason={SNOMED}|35489007"
    )
    found = appointments(response)
    assert len(found) == 2
    assert all(
        (a.reasonCode[0].coding[0].system, a.reasonCode[0].coding[0].code) == (SNOMED, "35489007") for a in found
    )


def test_a_reason_given_to_hold_is_kept_through_book_on_the_booked_appointment(world):
    desk = world.client(EHR_ROLE)
    proposal = appointments(find(world, patient=world.patient_a, reason=REASON, days=1, count=1))[0]
    held = (
        parse(
            post(
                desk,
                "Appointment/$hold",
                parameters(
                    ("appointment-reference", "valueReference", {"reference": f"Appointment/{proposal.id}"}),
                    ("reason", "valueCodeableConcept", REASON),
                ),
            )
        )
        .entry[0]
        .resource
    )
    assert held.reasonCode[0].text == "Depressive disorder"
    booked = parse(post(desk, "Appointment/$book", reference("appointment-reference", f"Appointment/{held.id}")))
    resource = booked.entry[0].resource
    assert resource.status == "booked"
    assert [(c.system, c.code) for c in resource.reasonCode[0].coding] == [(SNOMED, "35489007")]
    row = Appointment.objects.get(pk=int(resource.id))
    assert row.notes == f"EHR reason: Depressive disorder [{SNOMED}|35489007]"
    read = parse(desk.get(BASE + f"Appointment/{row.pk}"))
    assert read.reasonCode[0].text == "Depressive disorder"


def by_reference(*proposals) -> str:
    return parameters(
        *[("appointment-reference", "valueReference", {"reference": f"Appointment/{p.id}"}) for p in proposals]
    )


def codes(resource) -> list[list[tuple[str, str]]]:
    return [[(c.system, c.code) for c in concept.coding or []] for concept in resource.reasonCode or []]


REASON_LINE = f"EHR reason: Depressive disorder [{SNOMED}|35489007]"


def test_a_reason_given_to_find_is_kept_when_the_proposal_is_held_then_booked_by_reference(world):
    desk = world.client(EHR_ROLE)
    proposal = appointments(find(world, patient=world.patient_a, reason=REASON, days=1, count=1))[0]
    held = parse(post(desk, "Appointment/$hold", by_reference(proposal))).entry[0].resource
    assert held.status == "pending"
    assert codes(held) == [[(SNOMED, "35489007")]] and held.reasonCode[0].text == "Depressive disorder"
    booked = parse(post(desk, "Appointment/$book", reference("appointment-reference", f"Appointment/{held.id}")))
    resource = booked.entry[0].resource
    assert resource.status == "booked" and codes(resource) == [[(SNOMED, "35489007")]]
    row = Appointment.objects.get(pk=int(resource.id))
    assert row.notes == REASON_LINE
    assert codes(parse(desk.get(BASE + f"Appointment/{row.pk}"))) == [[(SNOMED, "35489007")]]


@pytest.mark.parametrize("method", ["post", "get"])
def test_a_reason_given_to_find_is_kept_when_the_proposal_is_booked_by_reference_directly(world, method):
    desk = world.client(EHR_ROLE)
    if method == "post":
        proposal = appointments(find(world, patient=world.patient_a, reason=REASON, days=1, count=1))[0]
    else:
        start, end = window()
        proposal = appointments(
            desk.get(
                BASE + f"Appointment/$find?start={start}&end={end}&visit-type={world.protocol.pk}&_count=1"
                f"&patient-reference=Patient/{world.patient_a.pk}&reason={SNOMED}|35489007"
            )
        )[0]
    response = post(desk, "Appointment/$book", by_reference(proposal))
    assert response.status_code == 200, response.content
    resource = parse(response).entry[0].resource
    assert resource.status == "booked" and codes(resource) == [[(SNOMED, "35489007")]]
    expected = REASON_LINE if method == "post" else f"EHR reason: [{SNOMED}|35489007]"
    assert Appointment.objects.get(pk=int(resource.id)).notes == expected


def test_a_course_found_with_a_reason_carries_it_on_every_session_of_the_plan_held_and_booked_by_reference(world):
    desk = world.client(EHR_ROLE)
    plan = world.clinic.plan(patient=world.patient_a)
    sessions = appointments(find(world, patient=world.patient_a, course=True, reason=REASON))
    assert len(sessions) == world.protocol.induction_sessions
    held = [e.resource for e in parse(post(desk, "Appointment/$hold", by_reference(*sessions))).entry]
    assert [h.status for h in held] == ["pending"] * len(sessions)
    booked = [e.resource for e in parse(post(desk, "Appointment/$book", by_reference(*held))).entry]
    assert [b.status for b in booked] == ["booked"] * len(sessions)
    assert all(codes(b) == [[(SNOMED, "35489007")]] for b in booked)
    rows = Appointment.objects.filter(plan=plan)
    assert rows.count() == len(sessions)
    assert {row.notes for row in rows} == {REASON_LINE}


def hold_with_reason(world, proposal, reason: dict):
    body = parameters(
        ("appointment-reference", "valueReference", {"reference": f"Appointment/{proposal.id}"}),
        ("reason", "valueCodeableConcept", reason),
    )
    response = post(world.client("front_desk"), "Appointment/$hold", body)
    assert response.status_code == 200, response.content
    return Appointment.objects.get(pk=int(parse(response).entry[0].resource.id))


def test_the_same_reason_given_again_to_hold_is_kept_once_and_another_is_added(world):
    monday = appointments(find(world, patient=world.patient_a, reason=REASON, days=1, count=1))[0]
    assert hold_with_reason(world, monday, REASON).notes == REASON_LINE
    wednesday = START + dt.timedelta(days=2)
    later = appointments(find(world, patient=world.patient_a, reason=REASON, day=wednesday, days=1, count=1))[0]
    held = hold_with_reason(world, later, {"text": "Relapse after maintenance"})
    assert held.notes.splitlines() == [REASON_LINE, "EHR reason: Relapse after maintenance"]


def test_a_proposal_found_without_a_reason_is_booked_by_reference_with_none(world):
    desk = world.client("front_desk")
    proposal = appointments(find(world, patient=world.patient_a, days=1, count=1))[0]
    assert proposal.reasonCode is None
    resource = parse(post(desk, "Appointment/$book", by_reference(proposal))).entry[0].resource
    assert resource.reasonCode is None and Appointment.objects.get(pk=int(resource.id)).notes == ""


def test_a_proposal_whose_id_was_given_another_reason_is_refused(world):
    plain = appointments(find(world, patient=world.patient_a, days=1, count=1))[0]
    with_reason = appointments(find(world, patient=world.patient_a, reason=REASON, days=1, count=1))[0]
    assert with_reason.id != plain.id  # the id names the reason it was found with
    payload, _, signature = plain.id.rpartition("-")
    reason_parts = with_reason.id.rpartition("-")[0].split(".")[-2:]  # the reason's number and check
    forged = f"{payload}.{'.'.join(reason_parts)}-{signature}"
    response = post(world.client("front_desk"), "Appointment/$book", reference("appointment-reference", forged))
    assert response.status_code == 404
    assert not Appointment.objects.filter(patient=world.patient_a, starts_at=plain.start).exists()


def test_a_reason_is_kept_once_however_many_searches_give_it_and_not_when_nothing_is_offered(world):
    find(world, timing={"repeat": {"dayOfWeek": ["sat", "sun"]}}, reason=REASON)  # offers nothing
    assert not FindReason.objects.exists()
    first = appointments(find(world, reason=REASON, days=1, count=2))
    again = appointments(find(world, reason=REASON, patient=world.patient_a, course=True))
    assert FindReason.objects.count() == 1
    kept = FindReason.objects.get()
    assert {ids.decode(p.id, kind="p").reason_id for p in first + again} == {kept.pk}
    appointments(find(world, reason={"text": "Chronic pain"}, days=1, count=1))
    assert FindReason.objects.count() == 2


def test_another_user_giving_the_same_reason_gets_a_row_of_their_own(world):
    """The row's id shows in the proposal ids: a row shared by every client would tell one client
    that another once sent the same text."""
    mine = appointments(find(world, patient=world.patient_a, reason=REASON, days=1, count=1))
    desk_ids = {ids.decode(p.id, kind="p").reason_id for p in mine}
    other = appointments(find(world, patient=world.patient_a, reason=REASON, days=1, count=1, role="prescriber"))
    prescriber_ids = {ids.decode(p.id, kind="p").reason_id for p in other}
    assert len(desk_ids) == len(prescriber_ids) == 1 and desk_ids != prescriber_ids
    assert FindReason.objects.count() == 2
    # Either user's proposal books with its reason, whoever books it.
    booked = parse(post(world.client("front_desk"), "Appointment/$book", by_reference(other[0]))).entry[0].resource
    read = parse(world.client(EHR_ROLE).get(BASE + f"Appointment/{booked.id}"))
    assert read.reasonCode[0].coding[0].code == "35489007"
    assert Appointment.objects.get(pk=int(booked.id)).notes == REASON_LINE


def test_a_proposal_whose_kept_reason_is_gone_is_refused_rather_than_booked_without_it(world):
    proposal = appointments(find(world, patient=world.patient_a, reason=REASON, days=1, count=1))[0]
    FindReason.objects.all().delete()
    response = post(world.client("front_desk"), "Appointment/$book", by_reference(proposal))
    assert response.status_code == 404 and "$find again, or give reason" in parse(response).issue[0].diagnostics
    assert not Appointment.objects.filter(patient=world.patient_a, starts_at=proposal.start).exists()


def test_a_proposal_sent_back_to_book_as_returned_keeps_its_reason_once(world):
    desk = world.client(EHR_ROLE)
    proposal = appointments(find(world, patient=world.patient_a, reason=REASON, days=1, count=1))[0]
    body = parameters(
        ("appointment-resource", "resource", json.loads(proposal.model_dump_json())),
        ("reason", "valueCodeableConcept", REASON),  # the same reason twice is kept once
    )
    response = post(desk, "Appointment/$book", body)
    assert response.status_code == 200
    booked = parse(response).entry[0].resource
    assert len(booked.reasonCode) == 1 and booked.reasonCode[0].coding[0].code == "35489007"
    # Moving it with its reasonCode as answered adds no second line.
    moved = booked.model_copy()
    moved.start, moved.end = booked.start + dt.timedelta(days=1), booked.end + dt.timedelta(days=1)
    post(
        desk, "Appointment/$book", parameters(("appointment-resource", "resource", json.loads(moved.model_dump_json())))
    )
    assert Appointment.objects.get(pk=int(booked.id)).notes.count("EHR reason:") == 1


def test_a_proposal_sent_back_to_book_without_its_reason_code_keeps_the_reason_its_id_names(world):
    """As a proposal booked by reference does: the EHR may drop the fields it does not model."""
    proposal = appointments(find(world, patient=world.patient_a, reason=REASON, days=1, count=1))[0]
    sent_back = json.loads(proposal.model_dump_json())
    del sent_back["reasonCode"]
    body = parameters(("appointment-resource", "resource", sent_back))
    response = post(world.client(EHR_ROLE), "Appointment/$book", body)
    assert response.status_code == 200, response.content
    booked = parse(response).entry[0].resource
    assert booked.status == "booked" and codes(booked) == [[(SNOMED, "35489007")]]
    assert Appointment.objects.get(pk=int(booked.id)).notes == REASON_LINE


def test_a_proposal_sent_back_to_book_with_another_reason_code_keeps_that_one_instead(world):
    """The resource's own reasonCode wins over the reason its id names: a proposal sent back as
    returned echoes that reason, so another one is the EHR's choice."""
    proposal = appointments(find(world, patient=world.patient_a, reason=REASON, days=1, count=1))[0]
    sent_back = json.loads(proposal.model_dump_json())
    sent_back["reasonCode"] = [{"text": "Relapse after maintenance"}]
    body = parameters(("appointment-resource", "resource", sent_back))
    response = post(world.client(EHR_ROLE), "Appointment/$book", body)
    assert response.status_code == 200, response.content
    booked = parse(response).entry[0].resource
    assert [r.text for r in booked.reasonCode] == ["Relapse after maintenance"]
    assert Appointment.objects.get(pk=int(booked.id)).notes == "EHR reason: Relapse after maintenance"


def test_a_new_appointment_keeps_its_reason_code_and_a_text_reason(world):
    proposal = appointments(find(world, patient=world.patient_a, days=1, count=1))[0]
    chair = next(p.actor.reference for p in proposal.participant if p.actor.reference.startswith("Location/chair-"))
    resource = {
        "resourceType": "Appointment",
        "status": "booked",
        "start": proposal.start.isoformat(),
        "serviceType": [{"coding": [{"code": str(world.protocol.pk)}]}],
        "reasonCode": [REASON],
        "participant": [
            {"actor": {"reference": f"Patient/{world.patient_a.pk}"}, "status": "accepted"},
            {"actor": {"reference": chair}, "status": "accepted"},
        ],
    }
    body = parameters(
        ("appointment-resource", "resource", resource), ("reason", "valueString", "Follow-up after the evaluation")
    )
    response = post(world.client(EHR_ROLE), "Appointment/$book", body)
    assert response.status_code == 201
    reasons = parse(response).entry[0].resource.reasonCode
    assert sorted(r.text for r in reasons) == ["Depressive disorder", "Follow-up after the evaluation"]


def test_a_reason_without_code_or_text_is_refused(world):
    response = find(world, reason={"coding": [{"system": SNOMED}]})
    assert response.status_code == 400 and parse(response).issue[0].code == "invalid"


def test_the_capability_statement_says_what_is_done_with_reason_and_timing(world):
    statement = parse(world.client(None).get(BASE + "metadata"))
    appointment = next(r for r in statement.rest[0].resource if r.type == "Appointment")
    operations = {op.name: op.documentation for op in appointment.operation}
    assert "accepted; the protocol's own rules decide" not in operations["find"]
    for part in ("repeat.dayOfWeek", "repeat.timeOfDay", "AFT 12:00-16:59", "not-supported", "echoed as reasonCode"):
        assert part in operations["find"]
    assert "reason" in operations["hold"] and "reasonCode" in operations["book"]
