"""Every site has a reminder policy from the moment it exists, and a site that lost its policy
still books and reminds with the defaults instead of failing."""

from __future__ import annotations

import datetime as dt
import importlib

import pytest
from django.apps import apps as global_apps
from rest_framework.test import APIClient

from clinic.models import ReminderPolicy, Site
from scheduling.models import Appointment
from tests.api.conftest import World

V1 = "/api/v1"


@pytest.mark.django_db
def test_a_site_created_anywhere_gets_the_default_reminder_policy():
    site = Site.objects.create(name="North", time_zone="Europe/London")
    policy = ReminderPolicy.objects.get(site=site)
    assert policy.offsets_hours == [72, 24, 2]
    assert policy.patient_notice_hours == 24


@pytest.mark.django_db
def test_a_site_created_through_the_api_has_a_reminder_policy(personas):
    client = APIClient()
    client.force_authenticate(personas.clinic_admin.user)
    response = client.post(
        f"{V1}/sites/",
        {"name": "East", "time_zone": "America/Chicago", "phone": "+1 312 555 0100", "address": "1 Main St"},
        format="json",
    )
    assert response.status_code == 201, response.content
    assert ReminderPolicy.objects.filter(site_id=response.json()["id"]).exists()


@pytest.mark.django_db
def test_the_data_migration_gives_existing_sites_without_a_policy_the_defaults():
    bare = Site.objects.create(name="Bare", time_zone="UTC")
    ReminderPolicy.objects.filter(site=bare).delete()
    kept = Site.objects.create(name="Kept", time_zone="UTC")
    ReminderPolicy.objects.filter(site=kept).update(patient_notice_hours=48)
    migration = importlib.import_module("clinic.migrations.0004_reminder_policy_for_every_site")
    migration.create_missing_policies(global_apps, None)
    assert ReminderPolicy.objects.get(site=bare).patient_notice_hours == 24
    assert ReminderPolicy.objects.get(site=kept).patient_notice_hours == 48


def test_booking_at_a_site_whose_policy_was_deleted_uses_the_defaults(world: World):
    ReminderPolicy.objects.filter(site=world.site).delete()
    body = {"patient": world.appointment_a.patient_id, "site": world.site.pk, "starts_at": "2026-03-05T15:00:00Z"}
    response = world.client("front_desk").post(f"{V1}/appointments/", body, format="json")
    assert response.status_code == 201, response.content
    booked = Appointment.objects.get(pk=response.json()["id"])
    assert booked.starts_at == dt.datetime(2026, 3, 5, 15, tzinfo=dt.UTC)
    assert booked.reminders.exists()  # the default offsets still schedule reminders


def test_a_patient_cancelling_at_a_site_without_a_policy_gets_the_default_notice_period(world: World):
    ReminderPolicy.objects.filter(site=world.site).delete()
    response = world.client("patient_b").post(f"{V1}/appointments/{world.appointment_b.pk}/cancel/", {}, format="json")
    # Three days ahead: outside the default 24-hour notice period, so the patient may cancel online.
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "cancelled"


@pytest.mark.django_db
def test_a_site_added_in_the_admin_gets_a_policy_that_the_admin_can_then_edit(admin_client):
    management = {}
    for prefix in ("chairs", "opening_hours"):
        management.update(
            {
                f"{prefix}-TOTAL_FORMS": "0",
                f"{prefix}-INITIAL_FORMS": "0",
                f"{prefix}-MIN_NUM_FORMS": "0",
                f"{prefix}-MAX_NUM_FORMS": "1000",
            }
        )
    response = admin_client.post(
        "/admin/clinic/site/add/",
        {
            "name": "West",
            "time_zone": "America/Denver",
            "address": "2 Main St",
            "phone": "+1 303 555 0100",
            "max_patients_per_nurse": "2",
            "slot_step_minutes": "15",
            "arrival_notes": "",
            "country": "US",  # whose public holidays the site is offered (a field of the add form)
            **management,
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    site = Site.objects.get(name="West")
    assert ReminderPolicy.objects.filter(site=site).count() == 1
    change_page = admin_client.get(f"/admin/clinic/site/{site.pk}/change/")
    assert b"reminder_policy-0-patient_notice_hours" in change_page.content
