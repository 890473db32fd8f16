"""Saving a session in the Django admin: notes and ride home are corrected there; the booking (time,
chair, status) changes only through the desk's pages."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.contrib.auth.models import Permission
from django.http import HttpRequest

from clinic.models import Role
from scheduling.models import Reminder
from scheduling.reminders.services import reminders_schedule
from tests.factories import (
    PASSWORD,
    AppointmentFactory,
    ChairFactory,
    PatientFactory,
    SiteFactory,
    StaffFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 3, 2, 14, tzinfo=dt.UTC)  # Monday 09:00 in New York


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


def _signed_in_admin(client):
    user = UserFactory(username="wide-prescriber", is_staff=True)
    user.user_permissions.set(Permission.objects.all())
    StaffFactory(user=user, role=Role.PRESCRIBER, all_sites=True)
    assert client.login(request=HttpRequest(), username=user.username, password=PASSWORD)


def _form_data(response) -> dict[str, object]:
    form = response.context["adminform"].form
    data: dict[str, object] = {}
    for bound in form:
        value = bound.value()
        if value is None or value is False:
            continue
        data[bound.html_name] = "on" if value is True else value
    for inline in response.context["inline_admin_formsets"]:
        for bound in inline.formset.management_form:
            data[bound.html_name] = bound.value()
    return data


def _moved(data: dict[str, object], starts_at: dt.datetime, ends_at: dt.datetime) -> dict[str, object]:
    data = {k: v for k, v in data.items() if not k.startswith(("starts_at", "ends_at"))}
    data.update(
        {
            "starts_at_0": f"{starts_at:%Y-%m-%d}",
            "starts_at_1": f"{starts_at:%H:%M:%S}",
            "ends_at_0": f"{ends_at:%Y-%m-%d}",
            "ends_at_1": f"{ends_at:%H:%M:%S}",
        }
    )
    return data


@pytest.fixture
def booked(frozen):
    site = SiteFactory(name="North")
    chair = ChairFactory(site=site)
    patient = PatientFactory(home_site=site)
    appointment = AppointmentFactory(patient=patient, chair=chair, starts_at=dt.datetime(2026, 3, 4, 15, tzinfo=dt.UTC))
    reminders_schedule(appointment=appointment, now=NOW)
    assert Reminder.objects.filter(appointment=appointment, kind="reminder").exists()
    return appointment


def test_saving_a_session_unchanged_in_the_admin_works(client, booked):
    """AppointmentAdmin keeps `status` read-only, so the form leaves it out of the model's
    validation; the chair/patient exclusion constraints' condition (`status in blocking`) then
    names a field the validation has no value for, and Django raises FieldError: every save of a
    session in the admin, even with nothing changed, answers 500."""
    _signed_in_admin(client)
    url = f"/admin/scheduling/appointment/{booked.pk}/change/"
    data = _form_data(client.get(url))
    data.update({"ride_home": "Sister, Dana"})
    data = {k: v for k, v in data.items() if not k.startswith(("starts_at", "ends_at"))}
    data.update(_moved({}, booked.starts_at, booked.ends_at))
    client.raise_request_exception = False
    response = client.post(url, data)
    assert response.status_code == 302, response.status_code
    booked.refresh_from_db()
    assert booked.ride_home == "Sister, Dana"


def test_the_admin_cannot_move_a_session_past_the_booking_rules_and_reminders(client, booked):
    """The time and chair are read-only in the admin: a move there would skip the booking rules,
    leave the reminders planned for the old start and send the EHR no SIU message."""
    _signed_in_admin(client)
    url = f"/admin/scheduling/appointment/{booked.pk}/change/"
    data = _moved(
        _form_data(client.get(url)), booked.starts_at + dt.timedelta(days=1), booked.ends_at + dt.timedelta(days=1)
    )
    before = (booked.starts_at, booked.ends_at, booked.chair_id)

    client.post(url, data)

    booked.refresh_from_db()
    assert (booked.starts_at, booked.ends_at, booked.chair_id) == before
    assert client.get("/admin/scheduling/appointment/add/").status_code == 403


def test_the_admin_edits_only_a_sessions_notes_and_ride_home(client, booked):
    """Everything else a service sets is shown, not posted back: the calendar sequence (a lower one
    makes the patient's calendar ignore the next update), why it was released with its plan, its
    route, its induction round, a prescriber's reason for a rule break and a hold's expiry."""
    _signed_in_admin(client)
    url = f"/admin/scheduling/appointment/{booked.pk}/change/"
    form = client.get(url).context["adminform"].form
    assert sorted(form.fields) == ["notes", "ride_home", "shown_version"]
