"""Issue 20 #10: a patient without an open plan is not led to a dead end. The search results and
the chart say so before any click and offer the waitlist (and the prescriber's plan) instead of
"Book the free time" and "Book one session"."""

from __future__ import annotations

from django.urls import reverse

from tests.web.conftest import login, make_patient


def _planless(web):
    return make_patient(web.clinic, "planless", "Nora", "Planless")


def test_search_results_mark_a_patient_without_an_open_plan_and_offer_the_waitlist_not_the_free_time(client, web):
    patient = _planless(web)
    login(client, web.desk.user)
    chair = web.clinic.chairs[0].pk
    query = {"q": "Planless", "chair": chair, "at": "2026-03-04T10:00:00-05:00"}
    page = client.get(reverse("web:patient-search"), query).content.decode()
    assert "No open plan" in page
    assert "Book the free time<span" not in page
    assert reverse("web:book-session", args=[patient.pk]) not in page
    assert reverse("web:waitlist-add", args=[patient.pk]) in page
    # A patient with a plan still gets the one-click booking.
    page = client.get(reverse("web:patient-search"), {**query, "q": "Archer"}).content.decode()
    assert "Book the free time<span" in page and "No open plan" not in page


def test_the_chart_of_a_patient_without_an_open_plan_offers_the_waitlist_instead_of_book_one_session(client, web):
    patient = _planless(web)
    login(client, web.desk.user)
    chart = client.get(reverse("web:patient", args=[patient.pk])).content.decode()
    assert "Book one session" not in chart
    assert reverse("web:book-session", args=[patient.pk]) not in chart
    assert "No open plan to book on" in chart
    assert reverse("web:waitlist-add", args=[patient.pk]) in chart
    assert "Book one session" in client.get(reverse("web:patient", args=[web.patient_a.pk])).content.decode()


def test_the_book_one_session_page_without_a_plan_points_to_the_waitlist(client, web):
    patient = _planless(web)
    login(client, web.desk.user)
    page = client.get(reverse("web:book-session", args=[patient.pk])).content.decode()
    assert reverse("web:waitlist-add", args=[patient.pk]) in page
