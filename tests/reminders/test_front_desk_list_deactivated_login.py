"""The front desk's daily list names tomorrow's patients with their mobile numbers. It went to
every StaffMember row that is active, but not whether the person's login is: a desk worker who
left and whose login was deactivated (User.is_active=False, what "Active" in the admin and every
login check mean; README: "a deactivation (of the login or the staff row)") keeps receiving
patients' names and phone numbers by email every afternoon."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core import mail

from clinic.models import Role
from scheduling.reminders.services import front_desk_lists_send_due
from tests import factories

pytestmark = pytest.mark.django_db

UTC = dt.UTC
TOMORROW = dt.date(2026, 11, 23)  # the site fixture is in New York
AFTERNOON = dt.datetime(2026, 11, 22, 21, 30, tzinfo=UTC)  # 16:30 in New York


def test_a_deactivated_login_gets_no_patient_list(site):
    chair = factories.ChairFactory(site=site)
    patient = factories.PatientFactory(home_site=site, last_name="Quimby")
    factories.AppointmentFactory(
        patient=patient, chair=chair, starts_at=dt.datetime.combine(TOMORROW, dt.time(15), tzinfo=UTC)
    )
    current = factories.StaffFactory(
        user=factories.UserFactory(username="desk_now", email="desk.now@example.org"),
        role=Role.FRONT_DESK,
        sites=[site],
    )
    gone = factories.StaffFactory(
        user=factories.UserFactory(username="desk_left", email="desk.left@example.org"),
        role=Role.FRONT_DESK,
        sites=[site],
    )
    gone.user.is_active = False
    gone.user.save(update_fields=["is_active"])

    assert front_desk_lists_send_due(now=AFTERNOON) == 1
    [message] = mail.outbox
    assert "Quimby" in message.body
    assert current.user.email in message.to
    assert gone.user.email not in message.to, "patients' names mailed to a deactivated login"
