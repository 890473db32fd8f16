"""A chair's Schedule names the periods that close it in the next 31 days. Patients hold
patient/Schedule.rs and read every active chair's Schedule, but a closure's reason is free text an
administrator typed ("Nurse Ingram on sick leave"), which the REST API keeps from patients
(clinic/api.py ClosureViewSet: staff only). A patient learns when a chair is closed, not why; staff
keep the reasons. The Schedule's version is a digest of its content, so the patient's copy has its
own version: a read and a search page agree on it for the same asker, and a conditional read
compares against the asker's own copy.

The clock is fixed at NOW (Friday 27 February 2026, 15:00 UTC, 10:00 at the clinic in New York)."""

from __future__ import annotations

import time_machine

from tests.interop.fhir_support import BASE, parse
from tests.interop.test_fhir_location_out_of_use import TODAY, at_clinic, close, days_after, schedules

INTERNAL_REASON = "Pump alarm during Mrs Ostrander's infusion, sent for repair"
SITE_REASON = "Nurse Ingram on sick leave"
EVERY_SITE_REASON = "Water main repairs, building shut"


def close_for_reasons(world):
    first, _ = world.clinic.chairs
    close(
        site=first.site,
        chair=first,
        starts_at=at_clinic(days_after(2), 9),
        ends_at=at_clinic(days_after(2), 17),
        reason=INTERNAL_REASON,
    )
    close(
        site=first.site, starts_at=at_clinic(days_after(4), 0), ends_at=at_clinic(days_after(5), 0), reason=SITE_REASON
    )
    close(
        site=None,
        starts_at=at_clinic(days_after(6), 0),
        ends_at=at_clinic(days_after(7), 0),
        reason=EVERY_SITE_REASON,
    )
    return first


def test_a_patient_token_does_not_read_the_clinics_closure_reasons_in_a_chairs_schedule(world):
    first = close_for_reasons(world)

    staff = parse(world.client("front_desk").get(BASE + f"Schedule/{first.pk}"))
    assert INTERNAL_REASON in staff.comment  # the clinic's own staff read them (as the REST API allows)
    # The REST API keeps closures (and their reasons) from patients: the rule the Schedule follows.
    assert INTERNAL_REASON not in world.client("patient_a").get("/api/v1/closures/").content.decode()

    response = world.client("patient_a").get(BASE + f"Schedule/{first.pk}")
    assert response.status_code == 200, response.content
    comment = parse(response).comment or ""
    assert INTERNAL_REASON not in comment
    assert SITE_REASON not in comment
    assert EVERY_SITE_REASON not in comment

    searched = world.client("patient_a").get(BASE + "Schedule")
    assert searched.status_code == 200, searched.content
    body = searched.content.decode()
    assert INTERNAL_REASON not in body and SITE_REASON not in body and EVERY_SITE_REASON not in body


def test_a_patient_still_reads_when_the_chair_is_closed_without_why(world):
    first = close_for_reasons(world)
    comment = parse(world.client("patient_a").get(BASE + f"Schedule/{first.pk}")).comment
    assert "2026-03-01 09:00 to 2026-03-01 17:00, closed;" in comment
    assert "2026-03-03 00:00 to 2026-03-04 00:00, site closed;" in comment
    assert "2026-03-05 00:00 to 2026-03-06 00:00, every site closed." in comment
    # Staff read the same periods with their reasons.
    staff = parse(world.client("clinic_admin").get(BASE + f"Schedule/{first.pk}")).comment
    assert f"2026-03-01 09:00 to 2026-03-01 17:00, {INTERNAL_REASON};" in staff
    assert f"2026-03-03 00:00 to 2026-03-04 00:00, site closed: {SITE_REASON};" in staff


def test_a_patients_schedule_in_a_search_page_is_the_one_the_read_gives(world):
    first = close_for_reasons(world)
    for role in ("patient_a", "front_desk"):
        client = world.client(role)
        read = client.get(BASE + f"Schedule/{first.pk}")
        searched = schedules(client)[first.pk]
        assert searched.model_dump_json() == parse(read).model_dump_json(), role
        assert read["ETag"] == f'W/"{searched.meta.versionId}"'
    patients = schedules(world.client("patient_a"))[first.pk]
    staff = schedules(world.client("front_desk"))[first.pk]
    assert patients.meta.versionId != staff.meta.versionId


def test_a_conditional_read_compares_the_askers_own_copy_of_the_schedule(world):
    first = close_for_reasons(world)
    path = BASE + f"Schedule/{first.pk}"
    patient, desk = world.client("patient_a"), world.client("front_desk")
    patients_etag = patient.get(path)["ETag"]
    staff_etag = desk.get(path)["ETag"]
    assert patients_etag != staff_etag

    assert patient.get(path, HTTP_IF_NONE_MATCH=patients_etag).status_code == 304
    assert desk.get(path, HTTP_IF_NONE_MATCH=staff_etag).status_code == 304
    # Another asker's version is not the asker's current one: the whole resource, as they see it.
    mismatched = patient.get(path, HTTP_IF_NONE_MATCH=staff_etag)
    assert mismatched.status_code == 200 and mismatched["ETag"] == patients_etag
    assert INTERNAL_REASON not in mismatched.content.decode()
    assert desk.get(path, HTTP_IF_NONE_MATCH=patients_etag).status_code == 200


def test_a_new_reason_for_the_same_period_changes_the_staff_version_only(world):
    first = close_for_reasons(world)
    path = BASE + f"Schedule/{first.pk}"
    patient, desk = world.client("patient_a"), world.client("front_desk")
    patients_etag, staff_etag = patient.get(path)["ETag"], desk.get(path)["ETag"]

    first.closures.update(reason="Recliner torn")
    assert desk.get(path, HTTP_IF_NONE_MATCH=staff_etag).status_code == 200
    # The patient's copy says the same as before: the same version, still not modified.
    assert patient.get(path, HTTP_IF_NONE_MATCH=patients_etag).status_code == 304

    with time_machine.travel(at_clinic(TODAY, 11), tick=False):  # an hour on, nothing new to say
        assert patient.get(path, HTTP_IF_NONE_MATCH=patients_etag).status_code == 304
