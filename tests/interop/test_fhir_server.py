"""The FHIR R4 server through Django's test client: every answer parses with fhir.resources,
every error is an OperationOutcome with an actionable code, and each persona reaches only
what its scopes and sites allow."""

from __future__ import annotations

import datetime as dt
import json

import pytest
import time_machine
from knox.models import AuthToken

from clinic.models import AccessLog, Role
from patients.models import Patient
from scheduling.models import Appointment, AppointmentStatus
from scheduling.services import holds_release_expired
from tests.factories import SiteFactory, StaffFactory, UserFactory
from tests.interop.fhir_support import BASE, FHIR_JSON, chair_id, find_body, parameters, parse, reference, window
from tests.scheduling.conftest import NOW, START


def post(client, path, body, **headers):
    return client.post(BASE + path, body, content_type=FHIR_JSON, **headers)


def outcome_code(response) -> str:
    resource = parse(response)
    assert resource.get_resource_type() == "OperationOutcome"
    return resource.issue[0].code


def first_proposal(world, patient, role="front_desk", **kwargs) -> str:
    bundle = parse(post(world.client(role), "Appointment/$find", find_body(world, patient, **kwargs)))
    return next(e.resource.id for e in bundle.entry if e.resource.get_resource_type() == "Appointment")


# --- Skeleton, security, metadata ---------------------------------------------------------


def test_capability_statement_declares_the_ihe_server_and_how_to_ask_for_a_course(world):
    response = world.client(None).get(BASE + "metadata")
    assert response.status_code == 200
    statement = parse(response)
    assert statement.instantiates == [
        "https://profiles.ihe.net/ITI/Scheduling/CapabilityStatement/IHE.Scheduling.server"
    ]
    appointment = next(r for r in statement.rest[0].resource if r.type == "Appointment")
    operations = {op.name: op for op in appointment.operation}
    assert set(operations) == {"find", "hold", "book"}
    assert "`course` = true" in operations["find"].documentation
    assert "201 Created with Location" in operations["book"].documentation
    assert "patient/Appointment.rs" in statement.rest[0].security.description


def test_a_request_without_a_token_is_told_to_log_in(world):
    response = world.client(None).get(BASE + f"Patient/{world.patient_a.pk}")
    assert response.status_code == 401
    assert outcome_code(response) == "login"
    assert response["WWW-Authenticate"] == "Token"


def test_a_signed_in_user_without_a_role_is_forbidden(world):
    response = world.client("outsider").get(BASE + "Location")
    assert response.status_code == 403
    assert outcome_code(response) == "forbidden"


def test_a_clinic_administrator_reads_locations_but_no_patient_data(world):
    admin = world.client("clinic_admin")
    assert admin.get(BASE + f"Location/site-{world.clinic.site.pk}").status_code == 200
    for path in (f"Patient/{world.patient_a.pk}", "Appointment?patient=1", "Patient?name=Al"):
        response = admin.get(BASE + path)
        assert response.status_code == 403, path
        assert outcome_code(response) == "forbidden"


def test_a_patient_token_reaches_only_that_patients_resources(world):
    booked = Appointment.objects.create(
        patient=world.patient_b,
        site=world.clinic.site,
        chair=world.clinic.chairs[0],
        nurse=world.clinic.nurses[0],
        starts_at=dt.datetime(2026, 3, 2, 15, tzinfo=dt.UTC),
        ends_at=dt.datetime(2026, 3, 2, 17, tzinfo=dt.UTC),
    )
    alice = world.client("patient_a")
    assert alice.get(BASE + f"Patient/{world.patient_a.pk}").status_code == 200
    for path in (f"Patient/{world.patient_b.pk}", f"Appointment/{booked.pk}", "Patient/999999"):
        response = alice.get(BASE + path)
        assert response.status_code == 404, path  # never 403: another patient's record does not exist for her
        assert outcome_code(response) == "not-found"
    bundle = parse(alice.get(BASE + f"Appointment?patient=Patient/{world.patient_b.pk}"))
    assert bundle.total == 0
    bundle = parse(alice.get(BASE + "Patient"))
    assert [e.resource.id for e in bundle.entry] == [str(world.patient_a.pk)]
    assert parse(world.client("patient_b").get(BASE + f"Appointment/{booked.pk}")).id == str(booked.pk)


def test_a_patient_cannot_book(world):
    proposal = first_proposal(world, world.patient_a, role="patient_a")
    response = post(
        world.client("patient_a"), "Appointment/$hold", reference("appointment-reference", f"Appointment/{proposal}")
    )
    assert response.status_code == 403
    assert outcome_code(response) == "forbidden"


def test_every_read_is_in_the_access_log_with_the_patient_shown(world):
    world.client("front_desk").get(BASE + f"Patient/{world.patient_a.pk}")
    row = AccessLog.objects.filter(path__startswith=BASE + "Patient/").latest("at")
    assert row.status_code == 200
    assert row.patient_ids == [world.patient_a.pk]
    assert row.user == world.clinic.front_desk.user


# --- Read and search -------------------------------------------------------------------------


def test_patient_read_carries_its_version_as_etag(world):
    response = world.client("front_desk").get(BASE + f"Patient/{world.patient_a.pk}")
    patient = parse(response)
    assert response["ETag"] == f'W/"{patient.meta.versionId}"'
    assert patient.identifier[0].value == "MRN-A"


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("identifier=urn:clinic-scheduler:mrn|MRN-B", ["Brown"]),
        ("identifier=MRN-A", ["Adams"]),
        ("identifier=other-system|MRN-A", []),
        ("name=ali", ["Adams"]),
        ("family=Bro", ["Brown"]),
        ("birthdate=1985-06-15&name=Bob", ["Brown"]),
        ("birthdate=1990-01-01", []),
    ],
)
def test_patient_search_by_identifier_name_and_birthdate(world, query, expected):
    bundle = parse(world.client("front_desk").get(BASE + f"Patient?{query}"))
    assert [e.resource.name[0].family for e in bundle.entry or []] == expected


def test_search_pages_with_count_and_next_links(world):
    desk = world.client("front_desk")
    bundle = parse(desk.get(BASE + "Patient?_count=1"))
    assert bundle.total == 2 and len(bundle.entry) == 1
    next_url = next(link.url for link in bundle.link if link.relation == "next")
    second = parse(desk.get(next_url.replace("http://testserver", "")))
    assert second.entry[0].resource.id != bundle.entry[0].resource.id
    assert not [link for link in second.link if link.relation == "next"]


def test_last_updated_returns_only_what_changed_since(world):
    later = NOW + dt.timedelta(hours=1)
    with time_machine.travel(later, tick=False):
        Patient.objects.filter(pk=world.patient_b.pk).update(updated_at=later)
    since = (NOW + dt.timedelta(minutes=30)).isoformat().replace("+00:00", "Z")
    bundle = parse(world.client("front_desk").get(BASE + f"Patient?_lastUpdated=gt{since}"))
    assert [e.resource.id for e in bundle.entry] == [str(world.patient_b.pk)]


def test_slots_are_computed_free_times_per_chair(world):
    start, end = window()
    desk = world.client("front_desk")
    chair = world.clinic.chairs[0]
    bundle = parse(
        desk.get(
            BASE
            + f"Slot?schedule=Schedule/{chair.pk}&service-type={world.protocol.pk}&start=ge{start}&start=lt{end}&status=free"
        )
    )
    assert bundle.total > 0
    slots = [e.resource for e in bundle.entry]
    assert {s.schedule.reference for s in slots} == {f"Schedule/{chair.pk}"}
    assert all(s.status == "free" and s.end - s.start == dt.timedelta(minutes=120) for s in slots)
    # A booking takes its time out of the next search.
    Appointment.objects.create(
        patient=world.patient_b,
        site=world.clinic.site,
        chair=chair,
        nurse=world.clinic.nurses[0],
        starts_at=slots[0].start,
        ends_at=slots[0].end,
    )
    again = parse(
        desk.get(
            BASE + f"Slot?schedule=Schedule/{chair.pk}&service-type={world.protocol.pk}&start=ge{start}&start=lt{end}"
        )
    )
    assert slots[0].start not in {e.resource.start for e in again.entry}


@pytest.mark.parametrize("name", ["_lastUpdated", "_lastUpdated:missing"])
def test_slot_search_refuses_last_updated_and_says_why(world, name):
    start, end = window()
    since = (NOW - dt.timedelta(days=1)).isoformat().replace("+00:00", "Z")
    response = world.client("front_desk").get(
        BASE + f"Slot?service-type={world.protocol.pk}&start=ge{start}&start=lt{end}&{name}=gt{since}"
    )
    assert response.status_code == 400 and outcome_code(response) == "not-supported"
    assert "computed on each request" in parse(response).issue[0].diagnostics
    # The CapabilityStatement declares only what the Slot search does, and says why.
    statement = parse(world.client(None).get(BASE + "metadata"))
    slot = next(r for r in statement.rest[0].resource if r.type == "Slot")
    assert {p.name for p in slot.searchParam} == {"schedule", "service-type", "start", "status"}
    assert "_lastUpdated is refused" in slot.documentation


def test_schedules_locations_services_and_practitioners_read(world):
    desk = world.client("front_desk")
    chair = world.clinic.chairs[0]
    schedule = parse(desk.get(BASE + f"Schedule/{chair.pk}"))
    assert schedule.actor[0].reference == f"Location/chair-{chair.pk}"
    assert (
        parse(desk.get(BASE + f"Location/chair-{chair.pk}")).partOf.reference == f"Location/site-{world.clinic.site.pk}"
    )
    assert parse(desk.get(BASE + f"HealthcareService/{world.protocol.pk}")).name == world.protocol.name
    nurse = world.clinic.nurses[0]
    assert parse(desk.get(BASE + f"Practitioner/{nurse.pk}")).id == str(nurse.pk)
    role = parse(desk.get(BASE + f"PractitionerRole/{nurse.pk}"))
    assert role.code[0].coding[0].code == "nurse"
    assert parse(desk.get(BASE + "Schedule")).total == 2


# --- Operations ------------------------------------------------------------------------------


def test_find_hold_book_read_and_cancel(world):
    desk = world.client("front_desk")
    found = parse(post(desk, "Appointment/$find", find_body(world, world.patient_a, count=3)))
    assert found.meta.profile == ["https://profiles.ihe.net/ITI/Scheduling/StructureDefinition/ihe-sched-avail-bundle"]
    # The day holds more than 3: the Bundle also carries the OperationOutcome that says it was cut.
    proposals = [e.resource for e in found.entry if e.search.mode == "match"]
    assert len(proposals) == 3
    assert all(
        p.status == "proposed"
        and p.meta.profile == ["https://profiles.ihe.net/ITI/Scheduling/StructureDefinition/ihe-sched-appt"]
        for p in proposals
    )

    held = parse(post(desk, "Appointment/$hold", reference("appointment-reference", f"Appointment/{proposals[0].id}")))
    pending = held.entry[0].resource
    assert pending.status == "pending"
    row = Appointment.objects.get(pk=int(pending.id))
    assert row.status == AppointmentStatus.HELD and row.hold_expires_at == NOW + dt.timedelta(minutes=10)

    booked = parse(post(desk, "Appointment/$book", reference("appointment-reference", f"Appointment/{pending.id}")))
    assert booked.entry[0].resource.status == "booked"
    assert parse(desk.get(BASE + f"Appointment/{pending.id}")).status == "booked"
    assert row.reminders.exists()

    cancel = parse(desk.get(BASE + f"Appointment/{pending.id}"))
    cancel.status = "cancelled"
    cancel.cancelationReason = {"text": "The EHR cancelled it"}
    body = parameters(("appointment-resource", "resource", json.loads(cancel.model_dump_json())))
    cancelled = parse(post(desk, "Appointment/$book", body))
    assert cancelled.entry[0].resource.status == "cancelled"
    assert Appointment.objects.get(pk=row.pk).cancellation_reason == "The EHR cancelled it"


def test_a_held_time_cannot_be_held_again_and_answers_conflict(world):
    desk = world.client("front_desk")
    proposal = first_proposal(world, world.patient_a)
    assert (
        post(desk, "Appointment/$hold", reference("appointment-reference", f"Appointment/{proposal}")).status_code
        == 200
    )
    again = post(desk, "Appointment/$hold", reference("appointment-reference", f"Appointment/{proposal}"))
    assert again.status_code == 409
    assert outcome_code(again) == "conflict"
    # The hold occupies the chair for everyone's searches.
    held = Appointment.objects.get(status=AppointmentStatus.HELD)
    found = parse(post(desk, "Appointment/$find", find_body(world, world.patient_b, count=100)))
    assert (held.chair_id, held.starts_at) not in {
        (int(e.resource.participant[1].actor.reference.split("-")[1]), e.resource.start) for e in found.entry
    }


def test_a_hold_that_expires_frees_the_time(world):
    desk = world.client("front_desk")
    proposal = first_proposal(world, world.patient_a)
    post(desk, "Appointment/$hold", reference("appointment-reference", f"Appointment/{proposal}"))
    with time_machine.travel(NOW + dt.timedelta(minutes=11), tick=False):
        assert holds_release_expired(now=NOW + dt.timedelta(minutes=11)) == 1
        lapsed = Appointment.objects.get()
        assert lapsed.status == AppointmentStatus.CANCELLED and lapsed.cancellation_reason == "Hold expired"
        assert lapsed.history.first().history_change_reason == "Hold expired"
        again = post(desk, "Appointment/$hold", reference("appointment-reference", f"Appointment/{proposal}"))
        assert again.status_code == 200
        late = post(desk, "Appointment/$book", reference("appointment-reference", f"Appointment/{lapsed.pk}"))
        assert late.status_code == 409 and outcome_code(late) == "conflict"


def test_a_lapsed_hold_is_released_by_the_next_hold_even_before_the_sweep(world):
    desk = world.client("front_desk")
    proposal = first_proposal(world, world.patient_a)
    post(desk, "Appointment/$hold", reference("appointment-reference", f"Appointment/{proposal}"))
    with time_machine.travel(NOW + dt.timedelta(minutes=11), tick=False):
        assert (
            post(desk, "Appointment/$hold", reference("appointment-reference", f"Appointment/{proposal}")).status_code
            == 200
        )


def test_find_offers_a_lapsed_holds_time_before_the_sweep_has_released_it(world):
    desk = world.client("front_desk")
    proposal = first_proposal(world, world.patient_a)
    post(desk, "Appointment/$hold", reference("appointment-reference", f"Appointment/{proposal}"))
    held = Appointment.objects.get(status=AppointmentStatus.HELD)

    def offered():
        found = parse(post(desk, "Appointment/$find", find_body(world, world.patient_b, count=100)))
        return {
            (chair_id(e.resource), e.resource.start)
            for e in found.entry
            if e.resource.get_resource_type() == "Appointment"
        }

    with time_machine.travel(held.hold_expires_at - dt.timedelta(seconds=1), tick=False):
        assert (held.chair_id, held.starts_at) not in offered()
    with time_machine.travel(held.hold_expires_at + dt.timedelta(seconds=1), tick=False):
        assert (held.chair_id, held.starts_at) in offered()
    held.refresh_from_db()
    assert held.status == AppointmentStatus.HELD  # a search writes nothing; the sweep or a booking releases it


def test_find_a_whole_induction_course(world):
    bundle = parse(
        post(world.client("front_desk"), "Appointment/$find", find_body(world, world.patient_a, course=True))
    )
    sessions = [e.resource for e in bundle.entry if e.resource.get_resource_type() == "Appointment"]
    assert len(sessions) == world.protocol.induction_sessions == 6
    days = [s.start.date() for s in sessions]
    assert len(set(days)) == 6 and days == sorted(days)
    assert sessions[0].start.date() >= START
    held = parse(
        post(
            world.client("front_desk"),
            "Appointment/$hold",
            parameters(
                *[("appointment-reference", "valueReference", {"reference": f"Appointment/{s.id}"}) for s in sessions]
            ),
        )
    )
    assert [e.resource.status for e in held.entry] == ["pending"] * 6


def test_booking_a_proposal_directly_with_an_idempotency_key_books_once(world):
    desk = world.client("front_desk")
    body = reference("appointment-reference", f"Appointment/{first_proposal(world, world.patient_a)}")
    first = post(desk, "Appointment/$book", body, HTTP_IDEMPOTENCY_KEY="ehr-42")
    second = post(desk, "Appointment/$book", body, HTTP_IDEMPOTENCY_KEY="ehr-42")
    assert first.status_code == second.status_code == 200
    assert second["Idempotent-Replayed"] == "true"
    assert parse(second).entry[0].resource.id == parse(first).entry[0].resource.id
    assert Appointment.objects.filter(status=AppointmentStatus.BOOKED).count() == 1
    # The replay shows the patient again: the access log names them for it too.
    logged = list(AccessLog.objects.filter(path__endswith="Appointment/$book").order_by("pk"))
    assert [row.patient_ids for row in logged] == [[world.patient_a.pk]] * 2
    other = post(
        desk, "Appointment/$book", reference("appointment-reference", "Appointment/1"), HTTP_IDEMPOTENCY_KEY="ehr-42"
    )
    assert other.status_code == 422


def test_moving_through_book_keeps_the_rules(world):
    desk = world.client("front_desk")
    booked = (
        parse(
            post(
                desk,
                "Appointment/$book",
                reference("appointment-reference", f"Appointment/{first_proposal(world, world.patient_a)}"),
            )
        )
        .entry[0]
        .resource
    )
    other = (
        parse(
            post(
                desk,
                "Appointment/$book",
                reference("appointment-reference", f"Appointment/{first_proposal(world, world.patient_b)}"),
            )
        )
        .entry[0]
        .resource
    )
    moved = booked.model_copy()
    moved.start = booked.start + dt.timedelta(hours=3)
    moved.end = booked.end + dt.timedelta(hours=3)
    answer = parse(
        post(
            desk,
            "Appointment/$book",
            parameters(("appointment-resource", "resource", json.loads(moved.model_dump_json()))),
        )
    )
    assert answer.entry[0].resource.start == booked.start + dt.timedelta(hours=3)
    # Into the other patient's chair and time: refused with the reason, nothing changed.
    clash = answer.entry[0].resource.model_copy()
    clash.start = other.start
    clash.participant = [p for p in other.participant if p.actor.reference.startswith("Location/chair-")]
    refused = post(
        desk, "Appointment/$book", parameters(("appointment-resource", "resource", json.loads(clash.model_dump_json())))
    )
    assert refused.status_code == 409
    assert parse(refused).issue[0].details.coding[0].code == "chair_taken"
    assert Appointment.objects.get(pk=int(booked.id)).starts_at == booked.start + dt.timedelta(hours=3)


# --- Patient writes --------------------------------------------------------------------------


def new_patient(mrn="MRN-NEW", family="Curie"):
    return json.dumps(
        {
            "resourceType": "Patient",
            "identifier": [{"system": "urn:clinic-scheduler:mrn", "value": mrn}],
            "name": [{"family": family, "given": ["Marie"]}],
            "birthDate": "1980-11-07",
        }
    )


def test_patient_create_update_and_duplicates(world):
    desk = world.client("front_desk")
    created = post(desk, "Patient", new_patient())
    assert created.status_code == 201
    patient = parse(created)
    assert Patient.objects.get(pk=int(patient.id)).mrn == "MRN-NEW"

    duplicate = post(desk, "Patient", new_patient(family="Other"))
    assert duplicate.status_code == 409 and outcome_code(duplicate) == "duplicate"
    same_person = post(desk, "Patient", new_patient(mrn="MRN-OTHER"))
    assert same_person.status_code == 409 and outcome_code(same_person) == "duplicate"
    # The refusal names the registered patient: so does its access-log row.
    refused = AccessLog.objects.filter(path__endswith="/Patient", status_code=409).order_by("-pk").first()
    assert refused is not None and refused.patient_ids == [int(patient.id)]
    existing = post(
        desk, "Patient", new_patient(family="Other"), HTTP_IF_NONE_EXIST="identifier=urn:clinic-scheduler:mrn|MRN-NEW"
    )
    assert existing.status_code == 200 and parse(existing).id == patient.id

    changed = json.loads(new_patient(family="Sklodowska"))
    changed["id"] = patient.id
    path = f"Patient/{patient.id}"
    assert desk.put(BASE + path, json.dumps(changed), content_type=FHIR_JSON).status_code == 428
    stale = desk.put(BASE + path, json.dumps(changed), content_type=FHIR_JSON, HTTP_IF_MATCH='W/"1"')
    assert stale.status_code == 412 and outcome_code(stale) == "conflict"
    updated = desk.put(BASE + path, json.dumps(changed), content_type=FHIR_JSON, HTTP_IF_MATCH=created["ETag"])
    assert updated.status_code == 200
    assert Patient.objects.get(pk=int(patient.id)).last_name == "Sklodowska"

    # An update into another patient's name and date of birth is refused as a registration is,
    # and names that patient in the access log.
    other = parse(post(desk, "Patient", new_patient(mrn="MRN-TWO", family="Joliot")))
    into_other = json.loads(new_patient(family="Joliot"))
    into_other["id"] = patient.id
    refused = desk.put(BASE + path, json.dumps(into_other), content_type=FHIR_JSON, HTTP_IF_MATCH=updated["ETag"])
    assert refused.status_code == 409 and outcome_code(refused) == "duplicate"
    assert Patient.objects.get(pk=int(patient.id)).last_name == "Sklodowska"
    row = AccessLog.objects.filter(method="PUT", status_code=409).order_by("-pk").first()
    assert row is not None and row.patient_ids == [int(other.id)]


# --- Bad input -------------------------------------------------------------------------------

BAD_INPUTS = [
    ("get", "Patient/abc", None, 404, "not-found"),
    ("get", "Patient/99999999999999999999999", None, 404, "not-found"),
    ("get", "Frobnicate/1", None, 404, "not-supported"),
    ("get", "Appointment/1/extra/bits", None, 404, "not-supported"),
    ("get", "Patient?birthdate=yesterday", None, 400, "invalid"),
    ("get", "Patient?shoe-size=9", None, 400, "not-supported"),
    ("get", "Patient?_count=many", None, 400, "invalid"),
    # "²".isdigit() is True and int("²") fails: digits are ASCII digits.
    ("get", "Patient?_count=%C2%B2", None, 400, "invalid"),
    ("get", "Patient?_offset=%C2%B2", None, 400, "invalid"),
    ("get", "Appointment?patient=Patient/%C2%B2", None, 400, "invalid"),
    ("get", "Slot?service-type=%C2%B2&start=ge2026-03-02&start=lt2026-03-03", None, 400, "invalid"),
    ("get", "Appointment?status=maybe", None, 400, "invalid"),
    ("get", "Appointment?date=ap2026-03-02", None, 400, "invalid"),
    ("get", "Appointment?patient=Practitioner/1", None, 400, "invalid"),
    ("get", "Slot?service-type=1", None, 400, "invalid"),
    ("get", "Slot?service-type=1&start=ge2026-03-02&start=lt2026-06-02", None, 400, "invalid"),
    ("get", "Slot?service-type=1&start=ge2026-03-02&start=lt2026-03-03&status=busy", None, 400, "not-supported"),
    ("post", "Appointment/$find", "not json", 400, "structure"),
    ("post", "Appointment/$find", '{"resourceType": "Patient"}', 400, "structure"),
    (
        "post",
        "Appointment/$find",
        '{"resourceType": "Parameters", "parameter": [{"name": "start", "valueDateTime": "soon"}]}',
        400,
        "structure",
    ),
    (
        "post",
        "Appointment/$find",
        '{"resourceType": "Parameters", "parameter": [{"name": "start", "valueDateTime": "2026-03-02"}]}',
        400,
        "invalid",
    ),
    (
        "post",
        "Appointment/$find",
        '{"resourceType": "Parameters", "parameter": [{"name": "start", "valueDateTime": "2026-03-05"}, {"name": "end", "valueDateTime": "2026-03-02"}]}',
        400,
        "invalid",
    ),
    (
        "post",
        "Appointment/$find",
        '{"resourceType": "Parameters", "parameter": [{"name": "colour", "valueString": "red"}]}',
        400,
        "not-supported",
    ),
    (
        "post",
        "Appointment/$hold",
        '{"resourceType": "Parameters", "parameter": [{"name": "appointment-reference", "valueReference": {"reference": "Appointment/p.1.1.1.1.1.1.1-forged"}}]}',
        404,
        "not-found",
    ),
    ("post", "Appointment/$hold", '{"resourceType": "Parameters"}', 400, "invalid"),
    (
        "post",
        "Appointment/$book",
        '{"resourceType": "Parameters", "parameter": [{"name": "appointment-reference", "valueReference": {"reference": "Appointment/424242"}}]}',
        404,
        "not-found",
    ),
    (
        "post",
        "Appointment/$book",
        '{"resourceType": "Parameters", "parameter": [{"name": "appointment-resource", "resource": {"resourceType": "Appointment", "status": "booked", "participant": []}}]}',
        400,
        "invalid",
    ),
    (
        "post",
        "Patient",
        '{"resourceType": "Patient", "name": [{"family": "X", "given": ["Y"]}], "birthDate": "1990-01-01"}',
        400,
        "invalid",
    ),
    ("post", "Patient", '{"resourceType": "Patient", "birthDate": "1990-02-31"}', 400, "structure"),
    ("post", "Location", '{"resourceType": "Location"}', 405, "not-supported"),
    ("delete", "Patient/1", None, 405, "not-supported"),
]


@pytest.mark.parametrize(("method", "path", "body", "status", "code"), BAD_INPUTS)
def test_bad_input_answers_an_operation_outcome_never_a_500(world, method, path, body, status, code):
    client = world.client("front_desk")
    if body is None:
        response = getattr(client, method)(BASE + path)
    else:
        response = getattr(client, method)(BASE + path, body, content_type=FHIR_JSON)
    assert (response.status_code, outcome_code(response)) == (status, code), response.content


def test_find_under_an_open_plan_offers_only_times_its_rules_allow(world):
    plan = world.clinic.plan(patient=world.patient_a)
    desk = world.client("front_desk")
    first = parse(
        post(
            desk,
            "Appointment/$book",
            reference("appointment-reference", f"Appointment/{first_proposal(world, world.patient_a)}"),
        )
    )
    booked_start = first.entry[0].resource.start
    assert Appointment.objects.get(pk=int(first.entry[0].resource.id)).plan_id == plan.pk
    # The next day is within the protocol's 48 hours: nothing is offered then.
    found = parse(
        post(desk, "Appointment/$find", find_body(world, world.patient_a, day=START + dt.timedelta(days=1), count=100))
    )
    assert not [e for e in found.entry if e.resource.get_resource_type() == "Appointment"]
    note = next(e.resource for e in found.entry if e.resource.get_resource_type() == "OperationOutcome")
    assert "the plan's rules" in note.issue[0].diagnostics
    later = parse(
        post(desk, "Appointment/$find", find_body(world, world.patient_a, day=START + dt.timedelta(days=2), count=100))
    )
    starts = [e.resource.start for e in later.entry if e.resource.get_resource_type() == "Appointment"]
    assert starts and all(s - booked_start >= dt.timedelta(hours=48) for s in starts)


def test_appointment_search_by_patient_date_status_and_actor(world):
    desk = world.client("front_desk")
    booked = (
        parse(
            post(
                desk,
                "Appointment/$book",
                reference("appointment-reference", f"Appointment/{first_proposal(world, world.patient_a)}"),
            )
        )
        .entry[0]
        .resource
    )
    nurse = world.clinic.nurses[0]
    queries = {
        f"patient=Patient/{world.patient_a.pk}&date=ge2026-03-02&date=lt2026-03-03": [booked.id],
        f"patient={world.patient_b.pk}": [],
        f"patient={world.patient_a.pk}&status=booked,pending": [booked.id],
        f"patient={world.patient_a.pk}&status=cancelled": [],
        f"actor=Practitioner/{nurse.pk}&date=2026-03-02": [booked.id],
        f"actor=Location/site-{world.clinic.site.pk}&date=2026-03-03": [],
        f"_lastUpdated=ge2026-02-27&patient={world.patient_a.pk}": [booked.id],
    }
    for query, expected in queries.items():
        bundle = parse(desk.get(BASE + f"Appointment?{query}"))
        assert [e.resource.id for e in bundle.entry or []] == expected, query


def test_find_answers_a_get_too(world):
    start, end = window()
    response = world.client("front_desk").get(
        BASE + f"Appointment/$find?start={start}&end={end}&visit-type={world.protocol.pk}&_count=2"
    )
    bundle = parse(response)
    matches = [e for e in bundle.entry if e.search.mode == "match"]
    assert response.status_code == 200 and len(matches) == 2
    assert all(e.resource.status == "proposed" for e in matches)


def test_a_proposal_without_a_patient_is_booked_for_the_patient_resource_given(world):
    desk = world.client("front_desk")
    start, end = window()
    found = parse(
        post(
            desk,
            "Appointment/$find",
            parameters(("start", "valueDateTime", start), ("end", "valueDateTime", end), ("_count", "valueInteger", 1)),
        )
    )
    proposal = found.entry[0].resource.id
    held = post(desk, "Appointment/$hold", reference("appointment-reference", f"Appointment/{proposal}"))
    assert held.status_code == 400 and outcome_code(held) == "invalid"
    patient = {"resourceType": "Patient", "identifier": [{"system": "urn:clinic-scheduler:mrn", "value": "MRN-B"}]}
    body = parameters(
        ("appointment-reference", "valueReference", {"reference": f"Appointment/{proposal}"}),
        ("patient-resource", "resource", patient),
    )
    booked = parse(post(desk, "Appointment/$book", body)).entry[0].resource
    assert booked.participant[0].actor.reference == f"Patient/{world.patient_b.pk}"


def test_staff_of_another_site_see_none_of_this_sites_patients_or_chairs(world):
    elsewhere = StaffFactory(role=Role.FRONT_DESK, sites=[SiteFactory()], user=UserFactory(username="desk2"))
    token = AuthToken.objects.create(user=elsewhere.user)[1]
    world.tokens["elsewhere"] = token
    other = world.client("elsewhere")
    assert other.get(BASE + f"Patient/{world.patient_a.pk}").status_code == 404
    assert parse(other.get(BASE + "Patient?identifier=MRN-A")).total == 0
    assert other.get(BASE + f"Schedule/{world.clinic.chairs[0].pk}").status_code == 404
    proposal = first_proposal(world, world.patient_a)
    refused = post(other, "Appointment/$hold", reference("appointment-reference", f"Appointment/{proposal}"))
    assert refused.status_code == 404 and outcome_code(refused) == "not-found"
    assert not Appointment.objects.exists()


def test_a_free_slot_from_the_slot_search_can_be_booked_for_a_patient(world):
    desk = world.client("front_desk")
    start, end = window()
    slot = parse(desk.get(BASE + f"Slot?service-type={world.protocol.pk}&start=ge{start}&start=lt{end}&_count=1"))
    slot_id = slot.entry[0].resource.id
    assert parse(desk.get(BASE + f"Slot/{slot_id}")).status == "free"
    patient = {"resourceType": "Patient", "identifier": [{"system": "urn:clinic-scheduler:mrn", "value": "MRN-A"}]}
    body = parameters(
        ("appointment-reference", "valueReference", {"reference": f"Slot/{slot_id}"}),
        ("patient-resource", "resource", patient),
    )
    booked = parse(post(desk, "Appointment/$book", body)).entry[0].resource
    assert booked.status == "booked" and booked.start == slot.entry[0].resource.start
    assert parse(desk.get(BASE + f"Slot/{slot_id}")).status == "busy"


def test_find_offers_no_time_whose_setup_the_only_nurse_cannot_take(world):
    """The clinic has one nurse who sets up one patient at a time, and this protocol's setup takes her
    45 minutes: once a session holds her at a minute, $find offers no start whose setup would overlap
    hers, before or after it, on either chair."""
    world.protocol.nurse_setup_minutes = 45
    world.protocol.save(update_fields=["nurse_setup_minutes"])
    desk = world.client("front_desk")
    offered = [
        e.resource for e in parse(post(desk, "Appointment/$find", find_body(world, world.patient_b, count=50))).entry
    ]
    later = next(p for p in offered if p.start >= offered[0].start + dt.timedelta(hours=2))
    held = parse(post(desk, "Appointment/$hold", reference("appointment-reference", f"Appointment/{later.id}")))
    taken = Appointment.objects.get(pk=int(held.entry[0].resource.id)).starts_at
    setup = dt.timedelta(minutes=45)
    found = parse(post(desk, "Appointment/$find", find_body(world, world.patient_a, count=50)))
    starts = [entry.resource.start for entry in found.entry]
    assert starts
    assert not [start for start in starts if taken - setup < start < taken + setup]


# --- $book from an appointment-resource (a new booking) -------------------------------------


def new_appointment(world, proposal, patient, **changes) -> dict:
    """A new Appointment (no id) for `patient` at a $find proposal's start and chair."""
    chair = next(p.actor.reference for p in proposal.participant if p.actor.reference.startswith("Location/chair-"))
    resource = {
        "resourceType": "Appointment",
        "status": "booked",
        "start": proposal.start.isoformat(),
        "minutesDuration": world.protocol.session_minutes,
        "serviceType": [{"coding": [{"system": "urn:clinic-scheduler:fhir:protocol", "code": str(world.protocol.pk)}]}],
        "participant": [
            {"actor": {"reference": f"Patient/{patient.pk}"}, "status": "accepted"},
            {"actor": {"reference": chair}, "status": "accepted"},
        ],
    }
    resource.update(changes)
    return {k: v for k, v in resource.items() if v is not None}


def proposals(world, patient, count=50, days=1):
    return [
        e.resource
        for e in parse(
            post(world.client("front_desk"), "Appointment/$find", find_body(world, patient, count=count, days=days))
        ).entry
    ]


def test_book_a_new_appointment_from_a_resource_with_its_comment(world):
    # A clinician: the comment is kept in the session's notes, which only clinicians read back.
    desk = world.client("prescriber")
    proposal = proposals(world, world.patient_a)[0]
    body = parameters(
        ("appointment-resource", "resource", new_appointment(world, proposal, world.patient_a)),
        ("comment", "valueString", "Bring the signed consent form"),
    )
    response = post(desk, "Appointment/$book", body, HTTP_IDEMPOTENCY_KEY="ehr-new-1")
    assert response.status_code == 201
    booked = parse(response).entry[0].resource
    assert booked.status == "booked" and booked.start == proposal.start
    assert booked.meta.profile == ["https://profiles.ihe.net/ITI/Scheduling/StructureDefinition/ihe-sched-appt"]
    assert booked.comment == "Bring the signed consent form"
    row = Appointment.objects.get(pk=int(booked.id))
    assert row.status == AppointmentStatus.BOOKED and row.patient == world.patient_a
    assert f"Location/chair-{row.chair_id}" in {p.actor.reference for p in proposal.participant}
    assert row.ends_at - row.starts_at == dt.timedelta(minutes=world.protocol.session_minutes)
    assert row.notes == "EHR: Bring the signed consent form"
    assert row.reminders.exists()
    assert parse(desk.get(BASE + f"Appointment/{row.pk}")).comment == "Bring the signed consent form"
    assert response["Location"] == f"http://testserver{BASE}Appointment/{row.pk}/_history/{booked.meta.versionId}"
    again = post(desk, "Appointment/$book", body, HTTP_IDEMPOTENCY_KEY="ehr-new-1")
    assert again["Idempotent-Replayed"] == "true" and parse(again).entry[0].resource.id == booked.id
    # The replay is the first answer: 201 Created and the same Location.
    assert again.status_code == 201 and again["Location"] == response["Location"]
    assert Appointment.objects.count() == 1


def test_book_answers_201_only_for_a_new_appointment_and_200_for_holds_proposals_moves_and_cancels(world):
    desk = world.client("front_desk")
    offered = proposals(world, world.patient_a, count=100, days=3)
    # A proposal booked by reference, and the same through an appointment-resource with its id.
    by_reference = post(desk, "Appointment/$book", reference("appointment-reference", f"Appointment/{offered[0].id}"))
    assert by_reference.status_code == 200 and not by_reference.has_header("Location")
    later = next(p for p in offered if p.start >= offered[0].start + dt.timedelta(days=1))
    proposal_resource = json.loads(later.model_dump_json())
    by_resource = post(desk, "Appointment/$book", parameters(("appointment-resource", "resource", proposal_resource)))
    assert by_resource.status_code == 200 and not by_resource.has_header("Location")
    # A hold booked.
    other = proposals(world, world.patient_b)[0]
    held = parse(post(desk, "Appointment/$hold", reference("appointment-reference", f"Appointment/{other.id}")))
    from_hold = post(
        desk, "Appointment/$book", reference("appointment-reference", f"Appointment/{held.entry[0].resource.id}")
    )
    assert from_hold.status_code == 200 and not from_hold.has_header("Location")
    # A move and a cancel of an existing appointment.
    booked = parse(by_reference).entry[0].resource
    moved = booked.model_copy()
    # Two days on: the day after holds the appointment booked from `later` (never two in one day).
    moved.start, moved.end = booked.start + dt.timedelta(days=2), booked.end + dt.timedelta(days=2)
    move = post(
        desk, "Appointment/$book", parameters(("appointment-resource", "resource", json.loads(moved.model_dump_json())))
    )
    assert move.status_code == 200 and not move.has_header("Location")
    cancel = parse(move).entry[0].resource.model_copy()
    cancel.status = "cancelled"
    cancelled = post(
        desk,
        "Appointment/$book",
        parameters(("appointment-resource", "resource", json.loads(cancel.model_dump_json()))),
    )
    assert cancelled.status_code == 200 and not cancelled.has_header("Location")
    assert Appointment.objects.filter(status=AppointmentStatus.BOOKED).count() == 2


def test_several_new_appointments_booked_together_answer_201_with_the_first_ones_location(world):
    offered = proposals(world, world.patient_a)
    later = next(p for p in offered if p.start >= offered[0].start + dt.timedelta(hours=3))
    body = parameters(
        ("appointment-resource", "resource", new_appointment(world, offered[0], world.patient_a)),
        ("appointment-resource", "resource", new_appointment(world, later, world.patient_b)),
    )
    response = post(world.client("front_desk"), "Appointment/$book", body)
    assert response.status_code == 201
    first = parse(response).entry[0].resource
    assert [e.resource.start for e in parse(response).entry] == [offered[0].start, later.start]
    assert response["Location"].endswith(f"Appointment/{first.id}/_history/{first.meta.versionId}")


def test_a_new_appointment_from_a_resource_under_the_patients_plan_is_in_the_plan(world):
    plan = world.clinic.plan(patient=world.patient_a)
    proposal = proposals(world, world.patient_a)[0]
    body = parameters(("appointment-resource", "resource", new_appointment(world, proposal, world.patient_a)))
    booked = parse(post(world.client("front_desk"), "Appointment/$book", body)).entry[0].resource
    assert Appointment.objects.get(pk=int(booked.id)).plan_id == plan.pk
    assert booked.serviceType[0].coding[0].code == str(world.protocol.pk)


def test_a_conflicting_new_appointment_is_refused_with_the_reason_and_nothing_is_written(world):
    desk = world.client("front_desk")
    offered = proposals(world, world.patient_a, count=100, days=3)
    first = offered[0]
    post(
        desk,
        "Appointment/$book",
        parameters(("appointment-resource", "resource", new_appointment(world, first, world.patient_a))),
    )
    later = next(p for p in offered if p.start >= first.start + dt.timedelta(days=1))
    # Two sessions in one call, the second on patient A's chair and time: all or nothing.
    body = parameters(
        ("appointment-resource", "resource", new_appointment(world, later, world.patient_b)),
        ("appointment-resource", "resource", new_appointment(world, first, world.patient_b)),
    )
    refused = post(desk, "Appointment/$book", body)
    assert refused.status_code == 409 and outcome_code(refused) == "conflict"
    assert parse(refused).issue[0].details.coding[0].code == "chair_taken"
    assert list(Appointment.objects.values_list("patient_id", flat=True)) == [world.patient_a.pk]


@pytest.mark.parametrize(
    "changes",
    [
        {"start": None},
        {"serviceType": [{"coding": [{"code": "999999"}]}]},
        {"minutesDuration": 7},
        {"status": "fulfilled"},
        {"participant": [{"actor": {"reference": "Location/chair-1"}, "status": "accepted"}]},
    ],
    ids=["no-start", "unknown-protocol", "wrong-duration", "wrong-status", "no-patient"],
)
def test_a_bad_new_appointment_answers_400_and_writes_nothing(world, changes):
    proposal = proposals(world, world.patient_a, count=1)[0]
    resource = new_appointment(world, proposal, world.patient_a, **changes)
    response = post(
        world.client("front_desk"), "Appointment/$book", parameters(("appointment-resource", "resource", resource))
    )
    assert response.status_code == 400 and outcome_code(response) == "invalid"
    assert not Appointment.objects.exists()


def test_a_new_appointment_whose_end_disagrees_with_the_protocol_is_refused(world):
    proposal = proposals(world, world.patient_a, count=1)[0]
    end = (proposal.start + dt.timedelta(minutes=world.protocol.session_minutes + 30)).isoformat()
    resource = new_appointment(world, proposal, world.patient_a, minutesDuration=None, end=end)
    response = post(
        world.client("front_desk"), "Appointment/$book", parameters(("appointment-resource", "resource", resource))
    )
    assert response.status_code == 400 and outcome_code(response) == "invalid"
    assert not Appointment.objects.exists()


def test_a_patient_token_cannot_book_a_new_appointment_for_another_patient(world):
    proposal = proposals(world, world.patient_a, count=1)[0]
    body = parameters(("appointment-resource", "resource", new_appointment(world, proposal, world.patient_b)))
    response = post(world.client("patient_a"), "Appointment/$book", body)
    assert response.status_code == 403 and outcome_code(response) == "forbidden"
    assert not Appointment.objects.exists()


def test_a_comment_on_a_move_is_kept_and_on_a_cancel_is_the_reason(world):
    desk = world.client("prescriber")  # a clinician, who reads the comment back (the session's notes)
    offered = proposals(world, world.patient_a)
    booked = (
        parse(
            post(
                desk,
                "Appointment/$book",
                parameters(("appointment-resource", "resource", new_appointment(world, offered[0], world.patient_a))),
            )
        )
        .entry[0]
        .resource
    )
    moved = booked.model_copy()
    moved.start = booked.start + dt.timedelta(hours=3)
    moved.end = booked.end + dt.timedelta(hours=3)
    body = parameters(
        ("appointment-resource", "resource", json.loads(moved.model_dump_json())),
        ("comment", "valueString", "Moved at the patient's request"),
    )
    answer = parse(post(desk, "Appointment/$book", body)).entry[0].resource
    assert answer.comment == "Moved at the patient's request"
    cancel = answer.model_copy()
    cancel.status = "cancelled"
    body = parameters(
        ("appointment-resource", "resource", json.loads(cancel.model_dump_json())), ("comment", "valueString", "Unwell")
    )
    assert parse(post(desk, "Appointment/$book", body)).entry[0].resource.status == "cancelled"
    row = Appointment.objects.get(pk=int(booked.id))
    assert row.cancellation_reason == "Unwell" and row.notes == "EHR: Moved at the patient's request"


def test_a_name_search_finds_a_name_typed_in_either_unicode_form(world):
    import unicodedata

    Patient.objects.filter(pk=world.patient_a.pk).update(last_name="Núñez")
    desk = world.client("front_desk")
    for query in ("name", "family"):
        for typed in ("Núñez", unicodedata.normalize("NFD", "Núñez")):
            bundle = parse(desk.get(BASE + "Patient", {query: typed}))
            assert [entry.resource.id for entry in bundle.entry or []] == [str(world.patient_a.pk)], (query, typed)
