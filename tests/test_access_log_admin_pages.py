"""Access is logged (domain.md, "Health data"; README, "/admin/": "Pages there that show patients
name them in the access log"). The admin's reminder list, waitlist-offer list and SIU outbox
show patients (a reminder's session and an offer are labelled with the patient's name, an SIU
message carries the patient's name, date of birth and MRN in its PID segment): the access-log
row of each page names them, so an audit of who looked at a patient finds these pages too."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth.models import Permission
from django.http import HttpRequest

from clinic.models import AccessLog, Role
from interop.models import SiuMessage
from interop.siu.messages import siu_message
from interop.siu.models import SiuReceiver
from scheduling.models import Reminder, WaitlistEntry, WaitlistOffer
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

STARTS = dt.datetime(2026, 3, 2, 15, tzinfo=dt.UTC)


@pytest.fixture
def rows():
    site = SiteFactory(name="North")
    chair = ChairFactory(site=site)
    patient = PatientFactory(home_site=site, first_name="Zelda", last_name="Quintero-Marker", mrn="MRN-ZQ")
    appointment = AppointmentFactory(patient=patient, chair=chair, starts_at=STARTS)
    reminder = Reminder.objects.create(
        appointment=appointment,
        channel="email",
        offset_minutes=1440,
        session_starts_at=STARTS,
        due_at=STARTS - dt.timedelta(days=1),
        next_attempt_at=STARTS - dt.timedelta(days=1),
    )
    entry = WaitlistEntry.objects.create(
        patient=patient, site=site, earliest_date=dt.date(2026, 3, 1), created_by=UserFactory(username="desk")
    )
    freed = AppointmentFactory(
        chair=chair, starts_at=STARTS + dt.timedelta(days=1), status="cancelled", cancelled_at=STARTS
    )
    offer = WaitlistOffer.objects.create(
        entry=entry, freed=freed, site=site, chair=chair, starts_at=freed.starts_at, ends_at=freed.ends_at
    )
    receiver = SiuReceiver.objects.create(site=site, host="127.0.0.1", port=9)
    message = SiuMessage.objects.create(
        appointment=appointment,
        receiver=receiver,
        event="S12",
        sequence=1,
        payload=siu_message(
            appointment=appointment, event="S12", control_id="C1", receiver=receiver, now=STARTS, actor=None
        ),
        next_attempt_at=STARTS,
        created_at=STARTS,
    )
    return {"patient": patient, "reminder": reminder, "offer": offer, "message": message}


PAGES = {
    "reminder-list": lambda rows: "/admin/scheduling/reminder/",
    "reminder": lambda rows: f"/admin/scheduling/reminder/{rows['reminder'].pk}/change/",
    "offer-list": lambda rows: "/admin/scheduling/waitlistoffer/",
    "offer": lambda rows: f"/admin/scheduling/waitlistoffer/{rows['offer'].pk}/change/",
    "siu-message": lambda rows: f"/admin/interop/siumessage/{rows['message'].pk}/change/",
}


@pytest.mark.parametrize("where", list(PAGES))
def test_an_admin_page_that_shows_a_patient_names_them_in_the_access_log(client, rows, where):
    user = UserFactory(username="wide-prescriber", is_staff=True, is_superuser=True)
    user.user_permissions.set(Permission.objects.all())
    StaffFactory(user=user, role=Role.PRESCRIBER, all_sites=True)
    assert client.login(request=HttpRequest(), username=user.username, password=PASSWORD)
    url = PAGES[where](rows)
    response = client.get(url)
    assert response.status_code == 200, url
    patient = rows["patient"]
    page = response.content.decode()
    assert patient.last_name.upper() in page.upper(), url  # the page shows the patient
    row = AccessLog.objects.filter(path=url).order_by("-pk").first()
    assert row is not None, url
    assert patient.pk in row.patient_ids, (url, row.patient_ids)
