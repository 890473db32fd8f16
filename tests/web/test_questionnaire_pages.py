"""Questionnaires from the web: PCL-5 in the portal, the portal's links to the
questionnaires due before the next session, and clinicians entering answers
from the chart."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse

from clinic.models import Role
from measures.models import QuestionnaireResponse, Source
from tests.factories import SiteFactory, StaffFactory, UserFactory
from tests.web.conftest import login

pytestmark = pytest.mark.django_db


def _answers(count: int, value: int) -> dict[str, str]:
    return {f"item_{n}": str(value) for n in range(1, count + 1)}


def test_a_patient_fills_in_the_pcl5_in_the_portal(client, web):
    login(client, web.patient_a.user)
    url = reverse("measures:questionnaire", args=["pcl5"])
    page = client.get(url).content.decode()
    assert page.count('data-testid="question"') == 20
    assert "Repeated, disturbing, and unwanted memories of the stressful experience?" in page
    assert "Extremely" in page
    incomplete = client.post(url, _answers(19, 2))
    assert incomplete.status_code == 400
    assert not QuestionnaireResponse.objects.exists()
    response = client.post(url, _answers(20, 2))
    assert response.status_code == 302
    saved = QuestionnaireResponse.objects.get()
    assert (saved.patient, saved.instrument, saved.total_score, saved.severity, saved.source) == (
        web.patient_a,
        "pcl5",
        40,
        "probable_ptsd",
        Source.PORTAL,
    )


def test_the_portal_links_to_the_questionnaires_due_before_the_next_session(client, web):
    first = web.sessions_a[0]  # Monday 08:00 in New York: 70 hours after the frozen now
    login(client, web.patient_a.user)
    due = client.get(reverse("home")).context["due_questionnaires"]
    assert [(d.instrument, d.appointment.pk) for d in due] == [("phq9", first.pk)]
    page = client.get(reverse("home")).content.decode()
    assert f"{reverse('measures:questionnaire', args=['phq9'])}?appointment={first.pk}" in page
    assert "Before your next session" in page

    # A questionnaire answered before is asked again before each session.
    client.post(reverse("measures:questionnaire", args=["pcl5"]), _answers(20, 1))
    due = client.get(reverse("home")).context["due_questionnaires"]
    assert [d.instrument for d in due] == ["phq9", "pcl5"]

    # Answered for this session: no longer due.
    client.post(
        reverse("measures:questionnaire", args=["phq9"]) + f"?appointment={first.pk}",
        {**_answers(9, 1), "appointment": first.pk},
    )
    due = client.get(reverse("home")).context["due_questionnaires"]
    assert [d.instrument for d in due] == ["pcl5"]


def test_nothing_is_due_when_the_next_session_is_more_than_three_days_away(client, web, frozen):
    import time_machine

    login(client, web.patient_a.user)
    with time_machine.travel(frozen - dt.timedelta(days=2), tick=False):
        assert client.get(reverse("home")).context["due_questionnaires"] == []


def test_another_patient_cannot_answer_for_someone_elses_session(client, web):
    login(client, web.patient_b.user)
    url = reverse("measures:questionnaire", args=["phq9"]) + f"?appointment={web.sessions_a[0].pk}"
    assert client.get(url).status_code == 404


def test_a_nurse_enters_a_paper_phq9_from_the_chart_in_the_sites_time(client, web):
    login(client, web.nurse.user)
    chart = client.get(reverse("web:patient", args=[web.patient_a.pk])).content.decode()
    url = reverse("measures:staff-entry", args=[web.patient_a.pk, "phq9"])
    assert url in chart
    response = client.post(url, {**_answers(9, 2), "completed_at": "2026-02-27T09:30", "appointment": ""})
    assert response.status_code == 302
    saved = QuestionnaireResponse.objects.get()
    assert (saved.total_score, saved.source, saved.entered_by) == (18, Source.STAFF, web.nurse.user)
    # 09:30 in New York is 14:30 UTC.
    assert saved.completed_at == dt.datetime(2026, 2, 27, 14, 30, tzinfo=dt.UTC)
    page = client.get(response["Location"]).content.decode()
    assert "PHQ-9 saved for Alice Archer: 18" in page


def test_staff_entry_explains_errors_and_saves_nothing(client, web):
    login(client, web.prescriber.user)
    url = reverse("measures:staff-entry", args=[web.patient_a.pk, "gad7"])
    response = client.post(url, {**_answers(6, 1), "completed_at": "2026-03-05T10:00"})
    assert response.status_code == 400
    page = response.content.decode()
    assert "Please choose one answer." in page
    assert "A questionnaire cannot be completed in the future." not in page  # item errors first
    response = client.post(url, {**_answers(7, 1), "completed_at": "2026-03-05T10:00"})
    assert response.status_code == 400
    assert "A questionnaire cannot be completed in the future." in response.content.decode()
    assert not QuestionnaireResponse.objects.exists()


def test_only_clinicians_at_the_patients_site_enter_questionnaires(client, web):
    url = reverse("measures:staff-entry", args=[web.patient_a.pk, "phq9"])
    for user, status in ((web.desk.user, 403), (web.admin.user, 403), (web.patient_a.user, 403), (web.nurse.user, 200)):
        client.logout()
        login(client, user)
        assert client.get(url).status_code == status
    assert client.get(reverse("measures:staff-entry", args=[web.patient_a.pk, "nope"])).status_code == 404
    client.logout()
    outsider = StaffFactory(
        role=Role.NURSE, sites=[SiteFactory(name="Lakeside")], user=UserFactory(username="lk_nurse")
    )
    login(client, outsider.user)
    assert client.get(url).status_code == 404
    assert client.post(url, {**_answers(9, 1), "completed_at": "2026-02-27T09:30"}).status_code == 404
    assert not QuestionnaireResponse.objects.exists()
