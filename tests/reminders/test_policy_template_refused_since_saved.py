"""A reminder template saved before the reminder engine was restricted (a loop, `|safe`, `|join`)
no longer compiles. The patient is still reminded, in the built-in wording, and the clinic
administrator sees on the policy's admin pages which template is no longer accepted and why."""

from __future__ import annotations

import datetime as dt
import logging

import pytest
from django.contrib.auth.models import Permission
from django.http import HttpRequest

from clinic.models import Channel, ReminderPolicy, Role
from scheduling.models import ReminderKind, ReminderStatus
from scheduling.reminders.services import reminders_dispatch_due, reminders_schedule
from tests.factories import PASSWORD, StaffFactory, UserFactory
from tests.reminders.helpers import UTC, emails_for, make_appointment, rows

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 11, 22, 15, tzinfo=UTC)  # Sunday 10:00 in New York
SESSION = dt.datetime(2026, 11, 27, 15, tzinfo=UTC)  # Friday 10:00 in New York

# Accepted when it was saved; the engine now has no loop tag and no `join` filter.
OLD_BODY = "Hi {{ patient_first_name }}, {% for word in site_name %}{{ word }}{% endfor %} expects you."
OLD_SMS = "{{ site_name|join:'-' }} {{ local_start|date:'D j M H:i' }}"


def stored_before_the_restriction(appointment, **templates: str) -> ReminderPolicy:
    # A queryset update skips ReminderPolicy.clean, as the rows written before the restriction did.
    ReminderPolicy.objects.filter(site=appointment.site_id).update(**templates)
    return ReminderPolicy.objects.get(site=appointment.site_id)


def the_24_hour_reminder(appointment):
    reminders_schedule(appointment=appointment, now=NOW)
    reminder = rows(appointment, kind=ReminderKind.REMINDER, offset_minutes=24 * 60)[0]
    reminders_dispatch_due(now=NOW)  # the booking confirmation, out of the way
    return reminder


def test_a_reminder_whose_stored_template_is_no_longer_accepted_goes_out_in_the_built_in_wording(caplog):
    appointment = make_appointment(starts_at=SESSION)
    policy = stored_before_the_restriction(appointment, body_template=OLD_BODY)
    reminder = the_24_hour_reminder(appointment)
    with caplog.at_level(logging.WARNING, logger="scheduling.reminders.rendering"):
        report = reminders_dispatch_due(now=reminder.due_at)
    assert (report.sent, report.retried, report.failed) == (1, 0, 0)
    [message] = emails_for(reminder)
    assert "This is a reminder of your session at" in message.body  # ReminderPolicy's built-in body
    assert "Friday 27 November 2026 at 10:00 (America/New_York)" in message.body
    assert "Reminder: your appointment at" in message.subject  # the subject, still accepted, is the clinic's
    reminder.refresh_from_db()
    assert (reminder.status, reminder.attempts) == (ReminderStatus.SENT, 1)
    [warning] = [r for r in caplog.records if r.name == "scheduling.reminders.rendering"]
    assert f"reminder policy {policy.pk}" in warning.getMessage() and "body template" in warning.getMessage()


def test_a_text_message_whose_stored_template_is_no_longer_accepted_goes_out_in_the_built_in_wording(sms_outbox):
    appointment = make_appointment(starts_at=SESSION, preferred_channel=Channel.SMS)
    stored_before_the_restriction(appointment, sms_template=OLD_SMS)
    reminder = the_24_hour_reminder(appointment)
    reminders_dispatch_due(now=reminder.due_at)
    [text] = [m for m in sms_outbox if m.body.startswith("Appointment at")]
    assert "Arrange a ride home." in text.body
    reminder.refresh_from_db()
    assert reminder.status == ReminderStatus.SENT


@pytest.fixture
def clinic_admin(client, settings):
    settings.ROOT_URLCONF = "config.urls"
    user = UserFactory(username="policy-admin", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(content_type__app_label="clinic"))
    StaffFactory(user=user, role=Role.CLINIC_ADMIN, all_sites=True)
    assert client.login(request=HttpRequest(), username=user.username, password=PASSWORD)
    return client


def test_the_admin_says_which_stored_template_is_no_longer_accepted_and_why(clinic_admin):
    appointment = make_appointment(starts_at=SESSION)
    policy = stored_before_the_restriction(appointment, body_template=OLD_BODY)
    listing = clinic_admin.get("/admin/clinic/reminderpolicy/").content.decode()
    change = clinic_admin.get(f"/admin/clinic/reminderpolicy/{policy.pk}/change/").content.decode()
    for page in (listing, change):
        assert "Body template no longer accepted" in page
        assert "{% for %} cannot be used in a reminder template" in page
    assert "built-in wording" in change
    assert "Subject template" not in listing  # only the template that is refused is named


def test_the_admin_says_nothing_of_templates_that_are_accepted(clinic_admin):
    appointment = make_appointment(starts_at=SESSION)
    policy = ReminderPolicy.objects.get(site=appointment.site_id)
    listing = clinic_admin.get("/admin/clinic/reminderpolicy/").content.decode()
    change = clinic_admin.get(f"/admin/clinic/reminderpolicy/{policy.pk}/change/").content.decode()
    assert "no longer accepted" not in listing and "no longer accepted" not in change
