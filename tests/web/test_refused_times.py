"""Issue 20 #14: when the plan's rules refuse every time found, the front desk gets no "Book this
session" button that does nothing; it is told why instead. A clinician, who may take a refused
time with a reason, still gets it."""

from __future__ import annotations

from django.urls import reverse

from tests.web.conftest import login


def _search_a_day_the_plan_already_has(web):
    day = web.sessions_a[1].starts_at.astimezone(web.clinic.site.zone).date()
    return {"kind": "make-up", "first_day": day.isoformat(), "last_day": day.isoformat()}


def test_the_desk_gets_no_book_button_when_every_time_is_refused(client, web):
    login(client, web.desk.user)
    response = client.get(reverse("web:book-session", args=[web.patient_a.pk]), _search_a_day_the_plan_already_has(web))
    days = response.context["days"]
    assert [c for d in days for c in d["choices"]] and not [c for d in days for c in d["free"]]
    page = response.content.decode()
    assert "refused by the plan's rules" in page
    assert "Book this session" not in page
    assert "No time here can be booked" in page


def test_a_clinician_keeps_the_button_to_take_a_refused_time_with_a_reason(client, web):
    login(client, web.prescriber.user)
    page = client.get(
        reverse("web:book-session", args=[web.patient_a.pk]), _search_a_day_the_plan_already_has(web)
    ).content.decode()
    assert "Take one anyway" in page and "Book this session" in page


def test_no_time_found_at_all_does_not_blame_the_plans_rules(client, web):
    """A day with no free time (the site closed, a chair out of use) refuses nothing by the plan's
    rules: the desk is told to try other days or chairs, not that only a prescriber could help."""
    login(client, web.desk.user)
    sunday = {"kind": "make-up", "first_day": "2026-03-01", "last_day": "2026-03-01"}
    response = client.get(reverse("web:book-session", args=[web.patient_a.pk]), sunday)
    assert not [c for d in response.context["days"] for c in d["choices"]]
    page = response.content.decode()
    assert "No time here can be booked: try other days or another chair." in page
    assert "only a prescriber can accept a time the plan's rules refuse" not in page
