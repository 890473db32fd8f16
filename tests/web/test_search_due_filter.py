"""The patient search's "Due for a session" filter: patients on an active maintenance plan at the
desk's sites with nothing booked ahead there whose next session is due within the days chosen, or
overdue (the day as the search shows it: the plan's interval after its last session), on the site's
own clock. With an empty name it lists every such patient of the desk's sites, the longest overdue
first; it keeps the search's site scoping, roles and fixed number of queries."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.urls import reverse

from scheduling.models import Appointment, AppointmentStatus, Phase, TreatmentPlan
from tests.api.conftest import second_clinic
from tests.factories import PatientFactory
from tests.scheduling.conftest import into_maintenance
from tests.web.conftest import login, make_patient

pytestmark = pytest.mark.django_db

# A Wednesday well after the courses booked from Mon 2 March have ended.
TODAY = dt.date(2026, 4, 15)
# 22:00 on TODAY at the site (New York, summer time): already the 16th in UTC. A search reading the
# UTC day would move every boundary by one.
LATE_EVENING = dt.datetime.combine(TODAY + dt.timedelta(days=1), dt.time(2), tzinfo=dt.UTC)
# 00:30 on TODAY at the site: still the 15th in UTC, the first minutes of the site's day.
JUST_AFTER_MIDNIGHT = dt.datetime.combine(TODAY, dt.time(4, 30), tzinfo=dt.UTC)


def _due_on(clinic, username: str, first: str, last: str, due: dt.date, *, keep_booked: bool = False):
    """A patient in maintenance at `clinic`'s site whose next session is due on `due` (the plan's
    interval set to fall on it), with nothing booked ahead unless `keep_booked`."""
    patient = make_patient(clinic, username, first, last) if username else PatientFactory(home_site=clinic.site)
    plan, _ = into_maintenance(clinic, patient=patient)
    if not keep_booked:
        Appointment.objects.filter(plan=plan, phase=Phase.MAINTENANCE).update(
            status=AppointmentStatus.CANCELLED, cancelled_at=dt.datetime(2026, 3, 20, tzinfo=dt.UTC)
        )
    given = plan.appointments.filter(status=AppointmentStatus.COMPLETED).order_by("-starts_at").first()
    interval = (due - given.starts_at.astimezone(plan.site.zone).date()).days
    TreatmentPlan.objects.filter(pk=plan.pk).update(maintenance_interval_days=interval)
    return patient


@pytest.fixture
def due_patients(web):
    clinic = web.clinic
    return {
        "overdue": _due_on(clinic, "p_over", "Olive", "Oakes", TODAY - dt.timedelta(days=3)),
        "yesterday": _due_on(clinic, "p_yest", "Yara", "Young", TODAY - dt.timedelta(days=1)),
        "today": _due_on(clinic, "p_today", "Tara", "Todd", TODAY),
        "in_7": _due_on(clinic, "p_seven", "Sam", "Seven", TODAY + dt.timedelta(days=7)),
        "in_8": _due_on(clinic, "p_eight", "Eve", "Eight", TODAY + dt.timedelta(days=8)),
    }


def _search(client, **params):
    return client.get(reverse("web:patient-search"), params)


def _names(response) -> list[str]:
    return [patient.first_name for patient in response.context["results"]]


@pytest.mark.parametrize("instant", [LATE_EVENING, JUST_AFTER_MIDNIGHT], ids=["late-evening", "just-after-midnight"])
def test_due_within_a_week_lists_the_overdue_first_then_by_due_day_up_to_the_seventh_day(
    client, web, due_patients, instant
):
    with time_machine.travel(instant, tick=False):
        login(client, web.desk.user)
        response = _search(client, q="", due="7")
    assert response.status_code == 200
    # Due in 8 days is not yet; Alice and Bob (booked), the others' sessions ahead are left out.
    assert _names(response) == ["Olive", "Yara", "Tara", "Sam"]
    rows = {p.first_name: p.maintenance_due for p in response.context["results"]}
    assert rows["Yara"] == {"day": TODAY - dt.timedelta(days=1), "overdue": True}
    assert rows["Tara"] == {"day": TODAY, "overdue": False}
    text = response.content.decode()
    assert text.count('data-testid="search-result"') == 4
    assert f"overdue since {TODAY - dt.timedelta(days=3):%a %-d %b %Y}" in text
    assert f"due {TODAY + dt.timedelta(days=7):%a %-d %b %Y}" in text


def test_a_wider_window_takes_the_later_day_and_today_only_takes_none_ahead(client, web, due_patients):
    with time_machine.travel(LATE_EVENING, tick=False):
        login(client, web.desk.user)
        assert _names(_search(client, due="14")) == ["Olive", "Yara", "Tara", "Sam", "Eve"]
        assert _names(_search(client, due="0")) == ["Olive", "Yara", "Tara"]


def test_the_filter_narrows_a_name_search(client, web, due_patients):
    with time_machine.travel(LATE_EVENING, tick=False):
        login(client, web.desk.user)
        assert _names(_search(client, q="Eight")) == ["Eve"]
        not_yet = _search(client, q="Eight", due="7")
        assert _names(_search(client, q="Oakes", due="7")) == ["Olive"]
    assert _names(not_yet) == []
    assert "No patient matches" in not_yet.content.decode() and "due for a session" in not_yet.content.decode()


def test_a_patient_with_a_session_booked_ahead_or_a_draft_plan_is_not_due(client, web):
    booked = _due_on(web.clinic, "p_booked", "Bea", "Booked", TODAY - dt.timedelta(days=2), keep_booked=True)
    draft = web.clinic.plan(patient=make_patient(web.clinic, "p_draft", "Dan", "Draft"))
    assert draft.status == "draft"
    with time_machine.travel(LATE_EVENING, tick=False):
        assert Appointment.objects.filter(
            patient=booked, status__in=[AppointmentStatus.BOOKED], starts_at__gt=LATE_EVENING
        ).exists(), "the laid-out maintenance sessions are expected to run past TODAY"
        login(client, web.desk.user)
        response = _search(client, due="28")
    assert response.status_code == 200
    assert _names(response) == []
    assert "No patient of your sites is due for a session" in response.content.decode()


def test_a_desk_never_sees_another_sites_due_patients(client, web, due_patients):
    other = second_clinic(protocol=web.clinic.protocol, days=120)
    _due_on(other, "", "", "", TODAY - dt.timedelta(days=5))
    theirs = _due_on(other, "p_other", "Otto", "Other", TODAY - dt.timedelta(days=4))
    with time_machine.travel(LATE_EVENING, tick=False):
        login(client, web.desk.user)
        mine = _search(client, due="7")
        by_name = _search(client, q="Otto", due="7")
        client.logout()
        login(client, other.front_desk.user)
        their_desk = _search(client, due="7")
    assert _names(mine) == ["Olive", "Yara", "Tara", "Sam"]
    assert _names(by_name) == []
    assert "Otto" not in mine.content.decode()
    # The other site's desk sees its own two, and none of site A's.
    assert [p.pk for p in their_desk.context["results"]][1:] == [theirs.pk]
    assert len(their_desk.context["results"]) == 2


@pytest.mark.parametrize("persona", ["patient_a", "admin"])
def test_the_due_list_is_not_for_patients_or_clinic_administrators(client, web, due_patients, persona):
    user = web.patient_a.user if persona == "patient_a" else web.admin.user
    with time_machine.travel(LATE_EVENING, tick=False):
        login(client, user)
        response = _search(client, due="7")
    assert response.status_code == 403
    assert "Olive" not in response.content.decode()


def test_an_unknown_window_is_refused_in_words(client, web, due_patients):
    with time_machine.travel(LATE_EVENING, tick=False):
        login(client, web.desk.user)
        response = _search(client, due="9999")
    assert response.status_code == 400
    assert response.context["results"] == []
    assert "Select a valid choice" in response.content.decode()


# As tests/web/test_search_maintenance_due.py counts the search: session, user, role, the patients,
# their maintenance plans (one query for every row), the access log.
SEARCH_QUERIES = 6


def test_the_due_list_keeps_a_fixed_number_of_queries(client, web, due_patients, django_assert_max_num_queries):
    with time_machine.travel(LATE_EVENING, tick=False):
        login(client, web.desk.user)
        _search(client, due="14")  # a hot read's first use in the process prepares its statement
        with django_assert_max_num_queries(SEARCH_QUERIES):
            response = _search(client, due="14")
    assert len(response.context["results"]) == 5
