"""The shift and reminder-policy endpoints: clinic administrators edit them at their own sites;
a shift that overlaps the person's other shifts is a 409 naming the clash, and the reminder
offsets and templates are checked as the model's clean() checks them (a template renders once,
with the names a reminder is rendered with, and uses no tag that reaches files or URL names)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from rest_framework.test import APIClient

from clinic import reminder_templates
from clinic.models import ReminderPolicy, Role, Shift
from scheduling.reminders.rendering import message_context
from tests.factories import AppointmentFactory, PatientFactory, SiteFactory, StaffFactory
from tests.scheduling.conftest import make_clinic

pytestmark = pytest.mark.django_db
V1 = "/api/v1"


@pytest.fixture
def clinic():
    return make_clinic(days=3)


@pytest.fixture
def admin(clinic):
    member = StaffFactory(role=Role.CLINIC_ADMIN, sites=[clinic.site])
    client = APIClient()
    client.force_authenticate(member.user)
    return client


def _shift_body(clinic, start: str, end: str) -> dict:
    return {"staff": clinic.nurses[0].pk, "site": clinic.site.pk, "starts_at": start, "ends_at": end}


def test_an_overlapping_shift_is_a_409_that_names_the_clash(admin, clinic):
    taken = Shift.objects.filter(staff=clinic.nurses[0]).order_by("starts_at").first()
    before = Shift.objects.count()
    response = admin.post(
        f"{V1}/shifts/",
        _shift_body(
            clinic,
            (taken.ends_at - dt.timedelta(hours=1)).isoformat(),
            (taken.ends_at + dt.timedelta(hours=2)).isoformat(),
        ),
        format="json",
    )
    assert response.status_code == 409, response.content
    assert f"shift {taken.pk}" in response.json()["error"]["message"]
    assert Shift.objects.count() == before


def test_a_back_to_back_shift_is_accepted_and_moving_a_shift_onto_another_is_refused(admin, clinic):
    taken = Shift.objects.filter(staff=clinic.nurses[0]).order_by("starts_at").first()
    created = admin.post(
        f"{V1}/shifts/",
        _shift_body(clinic, taken.ends_at.isoformat(), (taken.ends_at + dt.timedelta(hours=2)).isoformat()),
        format="json",
    )
    assert created.status_code == 201, created.content
    moved = admin.patch(
        f"{V1}/shifts/{created.json()['id']}/", {"starts_at": taken.starts_at.isoformat()}, format="json"
    )
    assert moved.status_code == 409


def test_a_shift_must_end_after_it_starts_and_be_at_a_site_the_person_works_at(admin, clinic):
    backwards = admin.post(
        f"{V1}/shifts/", _shift_body(clinic, "2026-06-01T19:00:00Z", "2026-06-01T11:00:00Z"), format="json"
    )
    assert backwards.status_code == 400
    other = SiteFactory()
    elsewhere = admin.post(
        f"{V1}/shifts/",
        {**_shift_body(clinic, "2026-06-01T11:00:00Z", "2026-06-01T19:00:00Z"), "site": other.pk},
        format="json",
    )
    assert elsewhere.status_code == 400
    assert "site" in elsewhere.json()["error"]["fields"]


def test_the_front_desk_reads_shifts_but_cannot_add_one(clinic):
    desk = APIClient()
    desk.force_authenticate(clinic.front_desk.user)
    listed = desk.get(f"{V1}/shifts/?limit=200")
    assert listed.status_code == 200
    assert listed.json()["count"] == Shift.objects.filter(site=clinic.site).count() > 0
    assert (
        desk.post(
            f"{V1}/shifts/", _shift_body(clinic, "2026-06-01T11:00:00Z", "2026-06-01T19:00:00Z"), format="json"
        ).status_code
        == 403
    )
    assert desk.get(f"{V1}/reminder-policies/").status_code == 403


@pytest.mark.parametrize(
    "offsets",
    [[72, 72], [0], [400], "24", [24.5], [True], None],
    ids=["repeated", "zero", "over two weeks", "not a list", "fraction", "boolean", "null"],
)
def test_reminder_offsets_are_checked_like_the_model(admin, clinic, offsets):
    policy = clinic.site.reminder_policy
    response = admin.patch(f"{V1}/reminder-policies/{policy.pk}/", {"offsets_hours": offsets}, format="json")
    assert response.status_code == 400, response.content
    assert "offsets_hours" in response.json()["error"]["fields"]
    policy.refresh_from_db()
    assert policy.offsets_hours == [72, 24, 2]


def test_the_administrator_changes_offsets_and_quiet_hours(admin, clinic):
    policy = clinic.site.reminder_policy
    response = admin.patch(
        f"{V1}/reminder-policies/{policy.pk}/", {"offsets_hours": [48, 3], "quiet_hours_start": "22:00"}, format="json"
    )
    assert response.status_code == 200, response.content
    policy.refresh_from_db()
    assert policy.offsets_hours == [48, 3]
    assert policy.quiet_hours_start == dt.time(22)


def test_a_broken_message_template_is_refused(admin, clinic):
    policy = clinic.site.reminder_policy
    response = admin.patch(f"{V1}/reminder-policies/{policy.pk}/", {"sms_template": "{% if %}"}, format="json")
    assert response.status_code == 400
    assert "sms_template" in response.json()["error"]["fields"]


def test_a_policy_stays_with_its_site_and_a_site_has_one_policy(admin, clinic):
    policy = clinic.site.reminder_policy
    other = SiteFactory()
    moved = admin.patch(f"{V1}/reminder-policies/{policy.pk}/", {"site": other.pk}, format="json")
    # The site is read-only: naming it in a write is refused by name, not silently dropped.
    assert moved.status_code == 400
    assert "site" in moved.json()["error"]["fields"]
    policy.refresh_from_db()
    assert policy.site_id == clinic.site.pk
    second = admin.post(f"{V1}/reminder-policies/", {"site": clinic.site.pk, "offsets_hours": [24]}, format="json")
    assert second.status_code == 400
    assert ReminderPolicy.objects.filter(site=clinic.site).count() == 1


def test_the_schema_documents_shifts_and_the_reminder_policy(admin):
    schema = admin.get("/api/schema/?format=json").json()
    assert {
        "/api/v1/shifts/",
        "/api/v1/shifts/{id}/",
        "/api/v1/reminder-policies/",
        "/api/v1/reminder-policies/{id}/",
    } <= set(schema["paths"])


def test_a_site_administrator_changes_only_their_own_sites_of_a_staff_member(admin, clinic):
    other = SiteFactory()
    nurse = clinic.nurses[0]
    nurse.sites.add(other)
    response = admin.patch(f"{V1}/staff/{nurse.pk}/", {"sites": [clinic.site.pk]}, format="json")
    assert response.status_code == 200, response.content
    assert set(nurse.sites.values_list("pk", flat=True)) == {clinic.site.pk, other.pk}
    granted = admin.patch(f"{V1}/staff/{nurse.pk}/", {"sites": [other.pk]}, format="json")
    assert granted.status_code == 400
    widened = admin.patch(f"{V1}/staff/{nurse.pk}/", {"all_sites": True}, format="json")
    assert widened.status_code == 400  # read-only here (granted in the Django admin), refused by name
    assert "all_sites" in widened.json()["error"]["fields"]
    nurse.refresh_from_db()
    assert nurse.all_sites is False


def test_a_shift_longer_than_a_day_is_a_400_on_its_length_not_an_overlap(admin, clinic):
    taken = Shift.objects.filter(staff=clinic.nurses[0]).order_by("starts_at").first()
    week = admin.post(
        f"{V1}/shifts/",
        _shift_body(clinic, taken.starts_at.isoformat(), (taken.starts_at + dt.timedelta(days=7)).isoformat()),
        format="json",
    )
    assert week.status_code == 400, week.content
    assert "at most 24 hours" in str(week.json()["error"]["fields"]["ends_at"]), week.json()


@pytest.mark.parametrize(
    ("field", "template"),
    [
        ("body_template", "Hello {{ patient_first_name }} {% include 'no/such/template.txt' %}"),
        ("body_template", "Hello {{ patient_first_name }} {% include 'scheduling/reminders/reminder_body.txt' %}"),
        ("subject_template", "Reminder {% url 'no-such-route' %}"),
        ("body_template", "{% debug %}"),
        ("body_template", "{% load static %}{% static 'x.css' %}"),
        ("sms_template", "{% csrf_token %} {{ site_name }}"),
        ("sms_template", "{{ preparation_notes|wordwrap:0 }}"),
    ],
    ids=["missing include", "project include", "url", "debug", "load", "csrf_token", "raises when rendered"],
)
def test_a_reminder_template_that_cannot_render_or_reaches_outside_is_refused(admin, clinic, field, template):
    policy = clinic.site.reminder_policy
    before = getattr(policy, field)
    response = admin.patch(f"{V1}/reminder-policies/{policy.pk}/", {field: template}, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()["error"]["fields"], response.json()
    policy.refresh_from_db()
    assert getattr(policy, field) == before, "a template that fails at send time was saved"


@pytest.mark.parametrize(
    ("template", "name"), [("{{ site_name|join:', ' }}", "join"), ("{{ site_name|safe }}", "safe")]
)
def test_a_refused_filter_is_named_with_the_filters_a_template_may_use(clinic, template, name):
    policy = clinic.site.reminder_policy
    policy.body_template = template
    with pytest.raises(ValidationError) as refused:
        policy.full_clean()
    (message,) = refused.value.message_dict["body_template"]
    assert message.startswith(f"|{name} cannot be used in a reminder template; its filters are "), message
    assert "date" in message and "Invalid filter" not in message


def test_a_filter_that_does_not_exist_is_still_said_plainly(clinic):
    policy = clinic.site.reminder_policy
    policy.body_template = "{{ site_name|shout }}"
    with pytest.raises(ValidationError) as refused:
        policy.full_clean()
    assert refused.value.message_dict["body_template"] == ["Not a valid template: Invalid filter: 'shout'"]


def test_the_model_refuses_a_template_that_cannot_render_so_the_admin_does_too(clinic):
    policy = clinic.site.reminder_policy
    policy.subject_template = "Reminder {% url 'no-such-route' %}"
    with pytest.raises(ValidationError) as refused:
        policy.full_clean()
    assert "subject_template" in refused.value.message_dict


def test_a_reminder_template_with_conditions_and_dates_is_accepted(admin, clinic):
    policy = clinic.site.reminder_policy
    body = (
        "Hello {{ patient_first_name }},{% if zone_note %} times are{{ zone_note }}.{% endif %}\n"
        "{{ local_start|date:'l j F, H:i' }} to {{ local_end|time:'H:i' }} at {{ site_name|upper }}.\n"
        "{% firstof preparation_notes 'Nothing to prepare.' %} {% now 'Y' %}\n"
    )
    response = admin.patch(f"{V1}/reminder-policies/{policy.pk}/", {"body_template": body}, format="json")
    assert response.status_code == 200, response.content


def test_a_template_is_checked_with_the_names_a_reminder_is_rendered_with(clinic):
    appointment = AppointmentFactory(patient=PatientFactory(home_site=clinic.site), chair=clinic.chairs[0])
    sent_with = message_context(appointment=appointment, with_links=True)
    checked_with = reminder_templates.sample_context(
        site_name="Clinic", site_address="", site_phone="", time_zone="UTC"
    )
    assert set(sent_with) == set(checked_with) == reminder_templates.CONTEXT_NAMES
