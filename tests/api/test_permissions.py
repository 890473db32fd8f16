"""Every endpoint × every role, with the status each role must get, at two sites.

Detail endpoints are tried on patient B's objects: patient A gets 404 (as for an id that
does not exist), patient B gets what a patient may have. Anonymous requests get 401, a
signed-in user who is neither active staff nor a patient gets 403 everywhere.

Then every endpoint is tried on the second site's objects: the site-1 personas get 404
there (403 where their role has no access at all), a create naming a site-2 object is the
400 of a missing one, and lists never include site-2 rows; the clinic-wide personas get
what their role gets at home. The clinic is built once per module (`module_world`)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
import time_machine

from tests.api.conftest import NOW, ROLES, WIDE_ROLES, Side, World

DESK = {"front_desk", "nurse", "prescriber"}
CLINICIANS = {"nurse", "prescriber"}
PRESCRIBERS = {"prescriber"}
STAFF = DESK | {"clinic_admin"}
ADMIN = {"clinic_admin"}


@dataclass
class Endpoint:
    name: str
    method: str
    url: Callable[[World], str]
    allowed: dict[str, int]  # role -> expected status; every other signed-in role gets 403
    body: Callable[[World], Any] = field(default=lambda w: None)
    headers: Callable[[World], dict] = field(default=lambda w: {})
    # Roles whose queryset is filtered by ownership: they answer 404 for objects not theirs.
    not_found: frozenset[str] = frozenset()
    # "object": a detail or action on one site's object; "list": lists a site's rows (`listed` is one
    # of them); "create": a body naming a site's objects; "shared": the same for every site.
    kind: str = "object"
    listed: Callable[[Side], int] | None = None
    # A change that holds at every site: of the roles `allowed`, only the clinic-wide personas make it.
    clinic_wide_only: bool = False

    def expected(self, role: str) -> int:
        clinic_wide = role in WIDE_ROLES
        role = WIDE_ROLES.get(role, role)
        if role == "anonymous":
            return 401
        if role in self.allowed:
            return self.allowed[role] if clinic_wide or not self.clinic_wide_only else 403
        if role in self.not_found:
            return 404
        return 403

    def expected_at_other_site(self, role: str) -> int:
        """What `role` gets for the second site's version of this endpoint."""
        home = self.expected(role)
        if role in WIDE_ROLES or self.kind == "shared" or home in (401, 403):
            return home
        if role.startswith("patient"):
            return home if self.kind == "list" else 404
        return {"object": 404, "list": 200, "create": 400}[self.kind]


def _checked_in_without_a_dose(side: Side):
    from tests.factories import AppointmentFactory, PatientFactory

    session = side.checked_in_b
    return AppointmentFactory(
        patient=PatientFactory(home_site=session.site),
        chair=side.clinic.chairs[0],
        nurse=session.nurse,
        starts_at=session.starts_at,
        status=session.status,
        checked_in_at=session.checked_in_at,
    )


def every(roles, status):
    return dict.fromkeys(roles, status)


V1 = "/api/v1"
IF_MATCH = lambda w: {"HTTP_IF_MATCH": f'"{w.plan_b.version}"'}  # noqa: E731
PATIENT_A_404 = frozenset({"patient_a"})
# Nothing holds patient B's start, so once a prescriber is let in the service says there is nothing to clear.
CLEAR_START = {"prescriber": 409}

ENDPOINTS = [
    # --- configuration: staff read, admins write
    Endpoint("sites-list", "get", lambda w: f"{V1}/sites/", every(STAFF, 200), kind="list", listed=lambda w: w.site.pk),
    Endpoint("sites-detail", "get", lambda w: f"{V1}/sites/{w.site.pk}/", every(STAFF, 200)),
    Endpoint(
        "sites-create",
        "post",
        lambda w: f"{V1}/sites/",
        every(ADMIN, 201),
        body=lambda w: {
            "name": "Uptown",
            "time_zone": "America/Chicago",
            "address": "1 Elm St",
            "phone": "+12025550100",
        },
        kind="shared",
    ),
    Endpoint(
        "sites-update",
        "patch",
        lambda w: f"{V1}/sites/{w.site.pk}/",
        every(ADMIN, 200),
        body=lambda w: {"arrival_notes": "Park behind the building."},
    ),
    Endpoint(
        "chairs-list",
        "get",
        lambda w: f"{V1}/chairs/",
        every(STAFF, 200),
        kind="list",
        listed=lambda w: w.clinic.chairs[0].pk,
    ),
    Endpoint("chairs-detail", "get", lambda w: f"{V1}/chairs/{w.clinic.chairs[0].pk}/", every(STAFF, 200)),
    Endpoint(
        "chairs-create",
        "post",
        lambda w: f"{V1}/chairs/",
        every(ADMIN, 201),
        body=lambda w: {"site": w.site.pk, "name": "Chair 9", "equipment": ["iv"]},
        kind="create",
    ),
    Endpoint(
        "chairs-update",
        "patch",
        lambda w: f"{V1}/chairs/{w.clinic.chairs[0].pk}/",
        every(ADMIN, 200),
        body=lambda w: {"active": False},
    ),
    Endpoint(
        "staff-list",
        "get",
        lambda w: f"{V1}/staff/",
        every(STAFF, 200),
        kind="list",
        listed=lambda w: w.clinic.nurses[0].pk,
    ),
    Endpoint("staff-detail", "get", lambda w: f"{V1}/staff/{w.clinic.nurses[0].pk}/", every(STAFF, 200)),
    Endpoint(
        "staff-update",
        "patch",
        lambda w: f"{V1}/staff/{w.clinic.nurses[0].pk}/",
        every(ADMIN, 200),
        body=lambda w: {"active": False},
    ),
    Endpoint(
        "opening-hours-list",
        "get",
        lambda w: f"{V1}/opening-hours/",
        every(STAFF, 200),
        kind="list",
        listed=lambda w: w.opening_hours.pk,
    ),
    Endpoint("opening-hours-detail", "get", lambda w: f"{V1}/opening-hours/{w.opening_hours.pk}/", every(STAFF, 200)),
    Endpoint(
        "opening-hours-create",
        "post",
        lambda w: f"{V1}/opening-hours/",
        every(ADMIN, 201),
        body=lambda w: {"site": w.site.pk, "weekday": 5, "opens_at": "09:00", "closes_at": "13:00"},
        kind="create",
    ),
    Endpoint(
        "opening-hours-update",
        "patch",
        lambda w: f"{V1}/opening-hours/{w.opening_hours.pk}/",
        every(ADMIN, 200),
        body=lambda w: {"closes_at": "17:00"},
    ),
    Endpoint(
        "opening-hours-delete", "delete", lambda w: f"{V1}/opening-hours/{w.opening_hours.pk}/", every(ADMIN, 204)
    ),
    Endpoint(
        "closures-list",
        "get",
        lambda w: f"{V1}/closures/",
        every(STAFF, 200),
        kind="list",
        listed=lambda w: w.closure.pk,
    ),
    Endpoint(
        "closures-create",
        "post",
        lambda w: f"{V1}/closures/",
        every(ADMIN, 201),
        body=lambda w: {
            "site": w.site.pk,
            "starts_at": "2026-07-04T00:00:00Z",
            "ends_at": "2026-07-05T00:00:00Z",
            "reason": "Independence Day",
        },
        kind="create",
    ),
    # Shifts: staff read their sites' shifts, admins edit; the reminder policy is the admins' alone.
    Endpoint(
        "shifts-list", "get", lambda w: f"{V1}/shifts/", every(STAFF, 200), kind="list", listed=lambda w: w.shift.pk
    ),
    Endpoint("shifts-detail", "get", lambda w: f"{V1}/shifts/{w.shift.pk}/", every(STAFF, 200)),
    Endpoint(
        "shifts-create",
        "post",
        lambda w: f"{V1}/shifts/",
        every(ADMIN, 201),
        kind="create",
        body=lambda w: {
            "staff": w.clinic.nurses[0].pk,
            "site": w.site.pk,
            "starts_at": "2026-06-01T11:00:00Z",
            "ends_at": "2026-06-01T19:00:00Z",
        },
    ),
    Endpoint(
        "shifts-update",
        "patch",
        lambda w: f"{V1}/shifts/{w.shift.pk}/",
        every(ADMIN, 200),
        body=lambda w: {"ends_at": (w.shift.ends_at + dt.timedelta(hours=1)).isoformat()},
    ),
    Endpoint("shifts-delete", "delete", lambda w: f"{V1}/shifts/{w.shift.pk}/", every(ADMIN, 204)),
    Endpoint(
        "reminder-policies-list",
        "get",
        lambda w: f"{V1}/reminder-policies/",
        every(ADMIN, 200),
        kind="list",
        listed=lambda w: w.reminder_policy.pk,
    ),
    Endpoint(
        "reminder-policies-detail",
        "get",
        lambda w: f"{V1}/reminder-policies/{w.reminder_policy.pk}/",
        every(ADMIN, 200),
    ),
    Endpoint(
        "reminder-policies-update",
        "patch",
        lambda w: f"{V1}/reminder-policies/{w.reminder_policy.pk}/",
        every(ADMIN, 200),
        body=lambda w: {"offsets_hours": [48, 4], "quiet_hours_start": "22:00"},
    ),
    Endpoint("protocols-list", "get", lambda w: f"{V1}/protocols/", every(STAFF, 200), kind="shared"),
    Endpoint(
        "protocols-detail", "get", lambda w: f"{V1}/protocols/{w.clinic.protocol.pk}/", every(STAFF, 200), kind="shared"
    ),
    Endpoint(
        "protocols-update",
        "patch",
        lambda w: f"{V1}/protocols/{w.clinic.protocol.pk}/",
        every(ADMIN, 200),
        body=lambda w: {"preparation_notes": "Arrange a ride home."},
        kind="shared",
        clinic_wide_only=True,
    ),
    Endpoint(
        "contraindications-list",
        "get",
        lambda w: f"{V1}/contraindications/",
        every(CLINICIANS | ADMIN, 200),
        kind="shared",
    ),
    Endpoint(
        "contraindications-create",
        "post",
        lambda w: f"{V1}/contraindications/",
        every(ADMIN, 201),
        body=lambda w: {"code": "under-18", "label": "Under 18", "kind": "min_age", "threshold": 18},
        kind="shared",
        clinic_wide_only=True,
    ),
    # --- patients: desk and the patient themselves; screening: clinicians
    Endpoint(
        "patients-list",
        "get",
        lambda w: f"{V1}/patients/",
        {**every(DESK, 200), "patient_a": 200, "patient_b": 200},
        kind="list",
        listed=lambda w: w.plan_b.patient_id,
    ),
    Endpoint(
        "patients-detail",
        "get",
        lambda w: f"{V1}/patients/{w.plan_b.patient_id}/",
        {**every(DESK, 200), "patient_b": 200},
        not_found=PATIENT_A_404,
    ),
    Endpoint(
        "patients-create",
        "post",
        lambda w: f"{V1}/patients/",
        every(DESK, 201),
        body=lambda w: {
            "first_name": "Cara",
            "last_name": "Diaz",
            "date_of_birth": "1979-02-01",
            "home_site": w.site.pk,
            "email": "cara@example.org",
        },
        kind="create",
    ),
    Endpoint(
        "patients-update",
        "patch",
        lambda w: f"{V1}/patients/{w.plan_b.patient_id}/",
        every(DESK, 200),
        body=lambda w: {"escort_name": "Sam"},
    ),
    Endpoint(
        "patients-reminder-preferences",
        "get",
        lambda w: f"{V1}/patients/{w.plan_b.patient_id}/reminder-preferences/",
        {**every(DESK, 200), "patient_b": 200},
        not_found=PATIENT_A_404,
    ),
    Endpoint(
        "patients-reminder-preferences-change",
        "patch",
        lambda w: f"{V1}/patients/{w.plan_b.patient_id}/reminder-preferences/",
        {**every(DESK, 200), "patient_b": 200},
        body=lambda w: {"preferred_channel": "sms"},
        not_found=PATIENT_A_404,
    ),
    Endpoint(
        "patients-eligibility",
        "get",
        lambda w: f"{V1}/patients/{w.plan_b.patient_id}/eligibility/",
        every(CLINICIANS, 200),
    ),
    Endpoint(
        "evaluations-list",
        "get",
        lambda w: f"{V1}/evaluations/",
        every(CLINICIANS, 200),
        kind="list",
        listed=lambda w: w.evaluation_b.pk,
    ),
    Endpoint("evaluations-detail", "get", lambda w: f"{V1}/evaluations/{w.evaluation_b.pk}/", every(CLINICIANS, 200)),
    Endpoint(
        "evaluations-create",
        "post",
        lambda w: f"{V1}/evaluations/",
        every(PRESCRIBERS, 201),  # a nurse reads evaluations but does not record one
        body=lambda w: {
            "patient": w.plan_b.patient_id,
            "evaluated_on": "2026-02-20",
            "evaluator_name": "Dr. Okafor",
            "diagnosis": "PTSD",
            "systolic_bp": 130,
            "diastolic_bp": 85,
            "heart_rate": 80,
        },
        kind="create",
    ),
    Endpoint(
        "patient-flags-list",
        "get",
        lambda w: f"{V1}/patient-flags/",
        every(CLINICIANS, 200),
        kind="list",
        listed=lambda w: w.flag_b.pk,
    ),
    Endpoint("patient-flags-detail", "get", lambda w: f"{V1}/patient-flags/{w.flag_b.pk}/", every(CLINICIANS, 200)),
    Endpoint(
        "patient-flags-create",
        "post",
        lambda w: f"{V1}/patient-flags/",
        every(CLINICIANS, 201),
        body=lambda w: {"patient": w.appointment_a.patient_id, "contraindication": w.flag_rule.pk, "notes": "Reported"},
        kind="create",
    ),
    Endpoint("patient-flags-delete", "delete", lambda w: f"{V1}/patient-flags/{w.flag_b.pk}/", every(CLINICIANS, 204)),
    # --- plans
    Endpoint(
        "plans-list",
        "get",
        lambda w: f"{V1}/plans/",
        {**every(DESK, 200), "patient_a": 200, "patient_b": 200},
        kind="list",
        listed=lambda w: w.plan_b.pk,
    ),
    Endpoint(
        "plans-detail",
        "get",
        lambda w: f"{V1}/plans/{w.plan_b.pk}/",
        {**every(DESK, 200), "patient_b": 200},
        not_found=PATIENT_A_404,
    ),
    Endpoint(
        "plans-create",
        "post",
        lambda w: f"{V1}/plans/",
        every(CLINICIANS, 201),
        body=lambda w: {
            "patient": w.appointment_a.patient_id,
            "protocol": w.clinic.protocol.pk,
            "prescriber": w.clinic.prescriber.pk,
            "start_date": "2026-03-09",
        },
        kind="create",
    ),
    Endpoint(
        "plans-propose-course",
        "post",
        lambda w: f"{V1}/plans/{w.draft_plan.pk}/propose-course/",
        every(DESK, 200),
        body=lambda w: {"start_date": "2026-03-09"},
    ),
    Endpoint(
        "plans-book-course",
        "post",
        lambda w: f"{V1}/plans/{w.draft_plan.pk}/book-course/",
        every(DESK, 201),
        body=lambda w: {"start_date": "2026-03-09"},
    ),
    Endpoint(
        "plans-change-interval",
        "post",
        lambda w: f"{V1}/plans/{w.plan_b.pk}/change-interval/",
        {"prescriber": 200},
        body=lambda w: {"days": 21, "reason": "Relief fades after three weeks"},
        headers=IF_MATCH,
    ),
    Endpoint(
        "plans-change-review-date",
        "post",
        lambda w: f"{V1}/plans/{w.plan_b.pk}/change-review-date/",
        {"prescriber": 200},
        body=lambda w: {"review_date": "2026-10-01", "reason": "Review with the family"},
        headers=IF_MATCH,
    ),
    Endpoint(
        "plans-pause",
        "post",
        lambda w: f"{V1}/plans/{w.plan_b.pk}/pause/",
        every(CLINICIANS, 200),
        body=lambda w: {"reason": "Travelling"},
        headers=IF_MATCH,
    ),
    # Resuming an active plan is a state conflict once the role is allowed.
    Endpoint(
        "plans-resume",
        "post",
        lambda w: f"{V1}/plans/{w.plan_b.pk}/resume/",
        every(CLINICIANS, 409),
        body=lambda w: {"resume_date": "2026-03-16", "reason": "Back"},
        headers=IF_MATCH,
    ),
    Endpoint(
        "plans-end",
        "post",
        lambda w: f"{V1}/plans/{w.plan_b.pk}/end/",
        {"prescriber": 200},
        body=lambda w: {"reason": "Patient moved away"},
        headers=IF_MATCH,
    ),
    # Interval, review date, end and a new induction are clinical decisions: prescribers only.
    # Patient B carries a psychosis flag: permission passes, then the screening gate refuses (409).
    Endpoint(
        "plans-new-induction",
        "post",
        lambda w: f"{V1}/plans/{w.plan_b.pk}/new-induction/",
        {"prescriber": 409},
        body=lambda w: {"start_date": "2026-03-23", "reason": "Relapse"},
        headers=IF_MATCH,
    ),
    Endpoint(
        "plans-clear-attention",
        "post",
        lambda w: f"{V1}/plans/{w.plan_b.pk}/clear-attention/",
        every(CLINICIANS, 200),
        body=lambda w: {"reason": "Reviewed"},
        headers=IF_MATCH,
    ),
    Endpoint(
        "plans-override-eligibility",
        "post",
        lambda w: f"{V1}/plans/{w.plan_b.pk}/override-eligibility/",
        {"prescriber": 200},
        body=lambda w: {"reason": "Psychiatry cleared the patient"},
        headers=IF_MATCH,
    ),
    # --- appointments
    Endpoint(
        "appointments-list",
        "get",
        lambda w: f"{V1}/appointments/",
        {**every(DESK, 200), "patient_a": 200, "patient_b": 200},
        kind="list",
        listed=lambda w: w.appointment_b.pk,
    ),
    Endpoint(
        "appointments-detail",
        "get",
        lambda w: f"{V1}/appointments/{w.appointment_b.pk}/",
        {**every(DESK, 200), "patient_b": 200},
        not_found=PATIENT_A_404,
    ),
    Endpoint(
        "appointments-book",
        "post",
        lambda w: f"{V1}/appointments/",
        every(DESK, 201),
        body=lambda w: {"patient": w.appointment_a.patient_id, "site": w.site.pk, "starts_at": "2026-03-05T15:00:00Z"},
        kind="create",
    ),
    Endpoint(
        "appointments-move",
        "post",
        lambda w: f"{V1}/appointments/{w.appointment_a.pk}/move/",
        every(DESK, 200),
        body=lambda w: {"starts_at": (w.appointment_a.starts_at + dt.timedelta(hours=2)).isoformat()},
    ),
    Endpoint(
        "appointments-cancel",
        "post",
        lambda w: f"{V1}/appointments/{w.appointment_b.pk}/cancel/",
        {**every(DESK, 200), "patient_b": 200},
        body=lambda w: {"reason": "Sick"},
        not_found=PATIENT_A_404,
    ),
    Endpoint(
        "appointments-confirm",
        "post",
        lambda w: f"{V1}/appointments/{w.appointment_b.pk}/confirm/",
        {**every(DESK, 200), "patient_b": 200},
        not_found=PATIENT_A_404,
    ),
    # Check-in opens only on the session's own day: past_b is today, three hours ago.
    Endpoint("appointments-check-in", "post", lambda w: f"{V1}/appointments/{w.past_b.pk}/check-in/", every(DESK, 200)),
    Endpoint(
        "appointments-undo-check-in",
        "post",
        # A mistaken check-in, before any dose is recorded (checked_in_b's record is whole).
        lambda w: f"{V1}/appointments/{_checked_in_without_a_dose(w).pk}/undo-check-in/",
        every(DESK, 200),
        body=lambda w: {"reason": "Checked in the wrong patient"},
    ),
    Endpoint(
        "appointments-start", "post", lambda w: f"{V1}/appointments/{w.checked_in_b.pk}/start/", every(CLINICIANS, 200)
    ),
    Endpoint(
        "appointments-complete",
        "post",
        lambda w: f"{V1}/appointments/{w.checked_in_b.pk}/complete/",
        every(CLINICIANS, 200),
    ),
    Endpoint("appointments-no-show", "post", lambda w: f"{V1}/appointments/{w.past_b.pk}/no-show/", every(DESK, 200)),
    # --- the session record (clinicians; clearing a held start: prescribers) and the controlled-substance log
    Endpoint(
        "clinical-session", "get", lambda w: f"{V1}/clinical/sessions/{w.checked_in_b.pk}/", every(CLINICIANS, 200)
    ),
    Endpoint(
        "clinical-vitals",
        "post",
        lambda w: f"{V1}/clinical/sessions/{w.checked_in_b.pk}/vitals/",
        every(CLINICIANS, 201),
        body=lambda w: {"phase": "recovery", "systolic": 120, "diastolic": 80, "heart_rate": 70, "spo2": 98},
    ),
    Endpoint(
        "clinical-clear-start",
        "post",
        lambda w: f"{V1}/clinical/sessions/{w.checked_in_b.pk}/clear-start/",
        CLEAR_START,
        body=lambda w: {"reason": "Reviewed the readings"},
    ),
    Endpoint(
        "cs-log-list",
        "get",
        lambda w: f"{V1}/clinical/controlled-substance-log/",
        every(CLINICIANS | ADMIN, 200),
        kind="list",
        listed=lambda w: w.cs_entry.pk,
    ),
    Endpoint(
        "cs-log-export",
        "get",
        lambda w: f"{V1}/clinical/controlled-substance-log/export/",
        every(CLINICIANS | ADMIN, 200),
        kind="list",
    ),
    Endpoint(
        "cs-log-correct",
        "post",
        lambda w: f"{V1}/clinical/controlled-substance-log/{w.cs_entry.pk}/correct/",
        every(CLINICIANS, 201),
        body=lambda w: {"lot_number": "LOT-TEST-2", "reason": "Wrong lot written down"},
    ),
    # --- questionnaires and outcomes (clinicians; a patient their own)
    Endpoint(
        "questionnaire-responses-list",
        "get",
        lambda w: f"{V1}/questionnaire-responses/",
        {**every(CLINICIANS, 200), "patient_a": 200, "patient_b": 200},
        kind="list",
        listed=lambda w: w.response_b.pk,
    ),
    Endpoint(
        "questionnaire-responses-detail",
        "get",
        lambda w: f"{V1}/questionnaire-responses/{w.response_b.pk}/",
        {**every(CLINICIANS, 200), "patient_b": 200},
        not_found=PATIENT_A_404,
    ),
    Endpoint(
        "questionnaire-responses-create",
        "post",
        lambda w: f"{V1}/questionnaire-responses/",
        # The patient is looked up like a detail: another site's patient is the 404 of a missing one.
        {**every(CLINICIANS, 201), "patient_b": 201},
        not_found=PATIENT_A_404,
        body=lambda w: {"patient": w.plan_b.patient_id, "instrument": "phq9", "answers": [1] * 9},
    ),
    Endpoint(
        "patient-outcomes", "get", lambda w: f"{V1}/patients/{w.plan_b.patient_id}/outcomes/", every(CLINICIANS, 200)
    ),
    # --- reminders (read), board and free slots
    Endpoint(
        "reminders-list",
        "get",
        lambda w: f"{V1}/reminders/",
        {**every(DESK, 200), "patient_a": 200, "patient_b": 200},
        kind="list",
        listed=lambda w: w.reminder_b.pk,
    ),
    Endpoint(
        "reminders-detail",
        "get",
        lambda w: f"{V1}/reminders/{w.reminder_b.pk}/",
        {**every(DESK, 200), "patient_b": 200},
        not_found=PATIENT_A_404,
    ),
    Endpoint("day-board", "get", lambda w: f"{V1}/sites/{w.site.pk}/day-board/?date=2026-03-02", every(DESK, 200)),
    Endpoint(
        "free-slots",
        "get",
        lambda w: f"{V1}/sites/{w.site.pk}/free-slots/?start_date=2026-03-02&end_date=2026-03-06&duration_minutes=120",
        every(DESK, 200),
    ),
]


ALL_ROLES = [*ROLES, *WIDE_ROLES]
SITE_ONE_STAFF = {"front_desk", "nurse", "prescriber", "clinic_admin"}


@pytest.fixture
def world(module_world, db):
    with time_machine.travel(NOW, tick=False):
        yield module_world


def _call(world: World, side: Side, endpoint: Endpoint, role: str, query: str = ""):
    client = world.client(role)
    call = getattr(client, endpoint.method)
    return call(endpoint.url(side) + query, data=endpoint.body(side), format="json", **endpoint.headers(side))


def _assert_status(response, expected: int, *context) -> None:
    assert response.status_code == expected, (*context, response.status_code, response.content[:500])
    if expected >= 400:
        assert set(response.json()["error"]) == {"code", "message", "fields", "details"}


@pytest.mark.parametrize("role", ALL_ROLES)
@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda e: e.name)
def test_role_gets_expected_status(world, endpoint: Endpoint, role: str):
    response = _call(world, world, endpoint, role)
    _assert_status(response, endpoint.expected(role), endpoint.name, role)


@pytest.mark.parametrize("role", ALL_ROLES)
@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda e: e.name)
def test_site_one_staff_get_404_for_site_two_objects_and_clinic_wide_staff_see_them(
    world, endpoint: Endpoint, role: str
):
    response = _call(world, world.two, endpoint, role)
    _assert_status(response, endpoint.expected_at_other_site(role), endpoint.name, "site 2", role)


# Every list × every staff role that may read it.
LISTS = [
    pytest.param(e, role, id=f"{e.name}-{role}")
    for e in ENDPOINTS
    if e.listed is not None
    for role in sorted({*SITE_ONE_STAFF, *WIDE_ROLES})
    if e.expected(role) == 200
]


@pytest.mark.parametrize(("endpoint", "role"), LISTS)
def test_lists_never_include_another_sites_rows(world, endpoint: Endpoint, role: str):
    response = _call(world, world, endpoint, role, query="?limit=200")
    ids = {row["id"] for row in response.json()["results"]}
    assert response.json()["count"] == len(ids)
    assert endpoint.listed(world) in ids
    assert (endpoint.listed(world.two) in ids) == (role in WIDE_ROLES)
