"""A hold is not in the patient's calendar, and a reminder template that cannot render is refused where it is saved."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib import admin
from django.test import RequestFactory
from django.urls import reverse
from icalendar import Calendar
from time_machine import travel

from clinic.admin import ReminderPolicyAdmin
from clinic.models import ReminderPolicy
from scheduling.models import AppointmentStatus
from scheduling.reminders.ics import appointment_uid
from scheduling.reminders.services import reminders_schedule
from tests import factories
from tests.factories import UserFactory
from tests.reminders.helpers import UTC, make_appointment

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 11, 22, 15, tzinfo=UTC)
SESSION = dt.datetime(2026, 11, 27, 15, tzinfo=UTC)


def test_a_fhir_hold_does_not_show_in_the_patients_calendar_feed_as_a_confirmed_appointment(client, settings):
    settings.ROOT_URLCONF = "config.urls"
    with travel(NOW, tick=False):
        booked = make_appointment(starts_at=SESSION)
        patient = booked.patient
        patient.user = UserFactory(username="feedpatient")
        patient.save(update_fields=["user"])
        reminders_schedule(appointment=booked, now=NOW)
        # An outside system holds a time for a few minutes; it is not a booking (it may lapse).
        held = factories.AppointmentFactory(
            patient=patient,
            chair=booked.chair,
            starts_at=SESSION + dt.timedelta(days=3),
            status=AppointmentStatus.HELD,
            hold_expires_at=NOW + dt.timedelta(minutes=10),
        )
        response = client.get(reverse("web:calendar-feed", args=[patient.calendar_token]))
    assert response.status_code == 200
    events = {str(e["uid"]): str(e["status"]) for e in Calendar.from_ical(response.content).walk("VEVENT")}
    assert events[appointment_uid(booked)] == "CONFIRMED"
    assert events.get(appointment_uid(held)) != "CONFIRMED", "a hold is shown as a confirmed appointment"


def test_the_admin_refuses_a_reminder_template_that_cannot_render():
    site = factories.SiteFactory()
    policy = ReminderPolicy.objects.get(site=site)
    user = UserFactory(username="admin_user", is_superuser=True, is_staff=True)
    request = RequestFactory().post("/admin/")
    request.user = user
    model_admin = ReminderPolicyAdmin(ReminderPolicy, admin.site)
    form_class = model_admin.get_form(request, policy, change=True)
    data = {
        "site": site.pk,
        "offsets_hours": "[72, 24, 2]",
        "email_enabled": "on",
        "sms_enabled": "on",
        "quiet_hours_start": "21:00",
        "quiet_hours_end": "08:00",
        "patient_notice_hours": "24",
        "max_attempts": "5",
        "subject_template": policy.subject_template,
        # A typo an administrator makes: an unclosed tag. The API refuses it; every reminder would fail to render.
        "body_template": "Hello {{ patient_first_name }}, {% if site_name %}see you at {{ site_name }}",
        "sms_template": policy.sms_template,
    }
    form = form_class(data=data, instance=policy)
    assert not form.is_valid(), "the admin saved a reminder template that cannot be rendered"
