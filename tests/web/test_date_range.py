"""Every date a page accepts goes through the clinical range the API enforces (2000-2100; birth
dates from 1900): a far-future or ancient date gets a form error or a 400, never a 500."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse

from tests.web.conftest import login

FAR = {"first_day": "9999-12-25", "last_day": "9999-12-31"}


def _no_crash(response) -> None:
    assert response.status_code in (400, 403, 404, 409), response.status_code


def test_book_one_session_refuses_far_future_days_with_a_form_error(client, web):
    login(client, web.desk.user)
    response = client.get(reverse("web:book-session", args=[web.patient_a.pk]), FAR)
    assert response.status_code == 400
    assert "between 2000-01-01 and 2100-12-31" in response.content.decode()


def test_move_refuses_far_future_days_with_a_form_error(client, web):
    login(client, web.desk.user)
    response = client.get(reverse("web:move-session", args=[web.sessions_a[-1].pk]), FAR)
    assert response.status_code == 400
    assert "between 2000-01-01 and 2100-12-31" in response.content.decode()


def test_the_patient_change_the_time_page_refuses_far_future_days(client, web):
    login(client, web.patient_a.user)
    response = client.get(reverse("web:portal-reschedule", args=[web.sessions_a[-1].pk]), FAR)
    assert response.status_code == 400
    assert "between 2000-01-01 and 2100-12-31" in response.content.decode()


@pytest.mark.parametrize("page_name", ["web:board", "web:week"])
@pytest.mark.parametrize("day", ["9999-12-31", "0001-01-01", "1999-12-31", "2101-01-01"])
def test_board_and_week_answer_400_for_a_day_out_of_range(client, web, page_name, day):
    login(client, web.desk.user)
    response = client.get(reverse(page_name), {"day": day})
    assert response.status_code == 400


@pytest.mark.parametrize("page_name", ["web:board", "web:week"])
def test_board_and_week_still_take_a_day_in_range(client, web, page_name):
    login(client, web.desk.user)
    assert client.get(reverse(page_name), {"day": "2026-03-04"}).status_code == 200
    assert client.get(reverse(page_name), {"day": ""}).status_code == 200  # empty: today


def test_a_far_future_free_gap_on_the_board_is_ignored(client, web):
    login(client, web.desk.user)
    chair = web.clinic.chairs[0]
    response = client.get(
        reverse("web:book-session", args=[web.patient_a.pk]), {"chair": chair.pk, "at": "9999-12-31T23:00:00-05:00"}
    )
    assert response.status_code == 200


# --- Item 2: plans and the waitlist refuse absurd dates; a date not in this year shows its year ---


def test_a_plan_starting_in_year_9999_is_refused_on_the_page_and_in_the_service(client, web):
    from clinic.errors import InvalidInput
    from scheduling.models import TreatmentPlan
    from scheduling.services import plan_create
    from tests.web.conftest import make_patient

    patient = make_patient(web.clinic, "newcomer", "Nia", "Newman")
    login(client, web.prescriber.user)
    response = client.post(
        reverse("web:plan-new", args=[patient.pk]),
        {
            "protocol": web.plan_a.protocol_id,
            "site": web.clinic.site.pk,
            "start_date": "9999-01-01",
            "preferred_weekdays": ["0", "1", "2", "3", "4"],
        },
    )
    assert response.status_code == 400
    assert "between 2000-01-01 and 2100-12-31" in response.content.decode()
    assert not TreatmentPlan.objects.filter(patient=patient).exists()
    with pytest.raises(InvalidInput, match="between 2000-01-01 and 2100-12-31"):
        plan_create(
            patient=patient,
            protocol=web.plan_a.protocol,
            prescriber=web.prescriber,
            start_date=dt.date(9999, 1, 1),
            actor=web.prescriber.user,
        )


def test_the_waitlist_refuses_an_earliest_day_in_year_9999_on_the_page_and_in_the_service(client, web):
    from clinic.errors import InvalidInput
    from scheduling.models import WaitlistEntry
    from scheduling.services.waitlist import waitlist_add
    from tests.web.conftest import NOW

    login(client, web.desk.user)
    response = client.post(
        reverse("web:waitlist-add", args=[web.patient_b.pk]),
        {"site": web.clinic.site.pk, "earliest_date": "9999-01-01"},
    )
    assert response.status_code == 400
    assert "between 2000-01-01 and 2100-12-31" in response.content.decode()
    with pytest.raises(InvalidInput, match="between 2000-01-01 and 2100-12-31"):
        waitlist_add(
            patient=web.patient_b, site=web.clinic.site, earliest_date=dt.date(9999, 1, 1), actor=web.desk.user, now=NOW
        )
    assert not WaitlistEntry.objects.exists()


def test_the_waitlist_shows_the_year_of_a_day_that_is_not_in_this_year(client, web):
    from scheduling.services.waitlist import waitlist_add
    from tests.web.conftest import NOW

    waitlist_add(
        patient=web.patient_a,
        site=web.clinic.site,
        earliest_date=dt.date(2026, 3, 2),
        latest_date=dt.date(2027, 1, 8),
        actor=web.desk.user,
        now=NOW,
    )
    login(client, web.desk.user)
    page = client.get(reverse("web:waitlist")).content.decode()
    assert "Fri 8 Jan 2027" in page
    assert "Mon 2 Mar –" in page  # this year's day: no year
