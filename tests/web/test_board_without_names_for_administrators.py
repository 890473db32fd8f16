"""Who comes is patient data: the front desk and clinicians read it; a clinic administrator sees
the board, the printed day sheet and the week for the load (as the API's day board and the FHIR
server answer them: no patient data), so those pages name no patient and show no cancellation
reason to them (web/access.py: "patient data is for the desk and clinicians")."""

from __future__ import annotations

import pytest
from django.urls import reverse

from scheduling.services import appointment_cancel
from tests.web.conftest import NOW, login

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("page_name", ["board", "print", "week"])
def test_an_administrator_sees_the_sessions_but_not_who_they_are_for(client, web, page_name):
    session = web.sessions_a[0]
    appointment_cancel(appointment=web.sessions_a[1], actor=web.desk.user, reason="Flu and fever", now=NOW)
    day = session.starts_at.astimezone(web.clinic.site.zone).date().isoformat()
    url = (
        reverse("web:week" if page_name == "week" else "web:board")
        + f"?day={day}"
        + ("&print=1" if page_name == "print" else "")
    )
    login(client, web.admin.user)
    shown = client.get(url).content.decode()
    assert web.patient_a.full_name not in shown and web.patient_a.last_name not in shown
    assert "A patient" in shown
    client.logout()
    login(client, web.desk.user)
    assert web.patient_a.full_name in client.get(url).content.decode()


def test_an_administrator_does_not_read_why_a_session_was_cancelled(client, web):
    cancelled = web.sessions_a[1]
    appointment_cancel(appointment=cancelled, actor=web.desk.user, reason="Flu and fever", now=NOW)
    day = cancelled.starts_at.astimezone(web.clinic.site.zone).date().isoformat()
    login(client, web.admin.user)
    assert "Flu and fever" not in client.get(reverse("web:board") + f"?day={day}").content.decode()
    client.logout()
    login(client, web.desk.user)
    assert "Flu and fever" in client.get(reverse("web:board") + f"?day={day}").content.decode()


@pytest.mark.parametrize("page_name", ["board", "print"])
def test_an_administrator_is_told_a_ride_home_is_recorded_but_not_who_drives(client, web, page_name):
    """The escort (the patient's usual driver, or the session's ride) is a name from the patient's
    record, often the family's: the desk reads it, an administrator only that there is one."""
    session = web.sessions_a[0]
    web.patient_a.escort_name = "Tom Archer (husband)"
    web.patient_a.save()
    day = session.starts_at.astimezone(web.clinic.site.zone).date().isoformat()
    url = reverse("web:board") + f"?day={day}" + ("&print=1" if page_name == "print" else "")
    login(client, web.desk.user)
    assert "Tom Archer" in client.get(url).content.decode()
    client.logout()
    login(client, web.admin.user)
    shown = client.get(url).content.decode()
    assert "Tom Archer" not in shown
    assert "recorded" in shown
