"""Corners of the API's representation ETags and If-Match (clinic/api.py): another admin's change
of a patient's home site, a clinician's change of fields the desk does not see, HEAD, DELETE of a
flag, the patient's own conditional actions, and every configuration row's answer tag."""

from __future__ import annotations

import datetime as dt

import pytest

from clinic.models import StaffMember
from patients.models import Patient, PatientFlag
from tests.factories import SiteFactory

V1 = "/api/v1"


def _patient_url(world) -> str:
    return f"{V1}/patients/{world.appointment_b.patient_id}/"


def test_a_desk_patch_with_if_match_after_another_admin_moved_the_patient_is_refused(world):
    desk = world.client("front_desk")
    tag = desk.get(_patient_url(world))["ETag"]
    other = SiteFactory()
    world.users["front_desk"].staff.sites.add(other)
    Patient.objects.filter(pk=world.appointment_b.patient_id).update(home_site=other)
    late = desk.patch(_patient_url(world), {"escort_name": "Late"}, format="json", HTTP_IF_MATCH=tag)
    assert late.status_code == 412, late.content[:300]
    assert Patient.objects.get(pk=world.appointment_b.patient_id).escort_name != "Late"


def test_a_clinicians_change_the_desk_cannot_see_neither_refuses_nor_is_undone_by_the_desk(world):
    desk = world.client("front_desk")
    tag = desk.get(_patient_url(world))["ETag"]
    changed = world.client("prescriber").patch(_patient_url(world), {"medications": "Lithium 300 mg"}, format="json")
    assert changed.status_code == 200, changed.content[:300]
    made = desk.patch(_patient_url(world), {"escort_name": "Kim"}, format="json", HTTP_IF_MATCH=tag)
    assert made.status_code == 200, made.content[:300]
    assert made.json()["medications"] is None
    assert Patient.objects.get(pk=world.appointment_b.patient_id).medications == "Lithium 300 mg"


def test_head_carries_the_same_etag_as_get(world):
    desk = world.client("front_desk")
    head = desk.head(_patient_url(world))
    assert head.status_code == 200
    assert head["ETag"] == desk.get(_patient_url(world))["ETag"]


def test_a_flag_delete_is_conditional_on_its_tag(world):
    flag = world.flag_b
    url = f"{V1}/patient-flags/{flag.pk}/"
    nurse = world.client("nurse")
    got = nurse.get(url)
    if got.status_code == 404:
        pytest.skip(f"flags are not at {url}")
    tag = got["ETag"]
    PatientFlag.objects.filter(pk=flag.pk).update(notes="Changed meanwhile")
    stale = nurse.delete(url, HTTP_IF_MATCH=tag)
    assert stale.status_code == 412, stale.content[:300]
    assert PatientFlag.objects.filter(pk=flag.pk).exists()
    fresh = nurse.delete(url, HTTP_IF_MATCH=nurse.get(url)["ETag"])
    assert fresh.status_code == 204, fresh.content[:300]


@pytest.mark.parametrize("action", ["confirm", "cancel"])
def test_a_patient_acts_on_their_own_session_with_the_tag_they_read(world, action):
    appointment = world.appointment_a
    url = f"{V1}/appointments/{appointment.pk}/"
    patient = world.client("patient_a")
    tag = patient.get(url)["ETag"]
    answer = patient.post(f"{url}{action}/", {}, format="json", HTTP_IF_MATCH=tag)
    assert answer.status_code == 200, answer.content[:300]
    assert answer["ETag"] == patient.get(url)["ETag"]


def test_a_patient_action_with_a_stale_tag_is_refused(world):
    appointment = world.appointment_a
    url = f"{V1}/appointments/{appointment.pk}/"
    patient = world.client("patient_a")
    tag = patient.get(url)["ETag"]
    assert world.client("front_desk").post(f"{url}confirm/", {}, format="json").status_code == 200
    late = patient.post(f"{url}cancel/", {}, format="json", HTTP_IF_MATCH=tag)
    assert late.status_code == 412, late.content[:300]


@pytest.mark.parametrize(
    ("path", "pick", "body"),
    [
        ("sites", lambda w: w.site.pk, {"phone": "(212) 555-0100"}),
        ("chairs", lambda w: w.clinic.chairs[0].pk, {"equipment": ["iv", "im"]}),
        ("reminder-policies", lambda w: w.reminder_policy.pk, {"offsets_hours": [2, 72, 24]}),
        ("closures", lambda w: w.closure.pk, {"starts_at": "2026-05-25T06:00:00.5+02:00"}),
        ("opening-hours", lambda w: w.opening_hours.pk, {"opens_at": "07:30"}),
        ("staff", lambda w: w.clinic.nurses[0].pk, {"active": True}),
        (
            "shifts",
            lambda w: w.shift.pk,
            lambda w: {"ends_at": (w.shift.ends_at - dt.timedelta(minutes=30)).isoformat()},
        ),
    ],
)
def test_a_patch_answers_with_the_tag_the_next_read_gives(world, path, pick, body):
    admin = world.client("clinic_admin")
    url = f"{V1}/{path}/{pick(world)}/"
    got = admin.get(url)
    if got.status_code == 404:
        pytest.skip(f"no {url}")
    body = body(world) if callable(body) else body
    changed = admin.patch(url, body, format="json", HTTP_IF_MATCH=got["ETag"])
    if changed.status_code == 400:
        pytest.skip(changed.content[:300])
    assert changed.status_code == 200, changed.content[:300]
    assert changed["ETag"] == admin.get(url)["ETag"], (changed.json(), admin.get(url).json())


def test_staff_sites_tag_is_stable_when_a_link_is_re_added(world):
    nurse = world.clinic.nurses[0]
    admin = world.client("clinic_admin")
    url = f"{V1}/staff/{nurse.pk}/"
    first = admin.get(url)
    assert first.status_code == 200
    sites = list(StaffMember.objects.get(pk=nurse.pk).sites.all())
    extra = SiteFactory(name="AAA first by name")
    member = StaffMember.objects.get(pk=nurse.pk)
    member.sites.add(extra)
    member.sites.remove(extra)
    member.sites.set(sites)
    assert admin.get(url)["ETag"] == first["ETag"]
