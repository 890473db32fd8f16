"""A questionnaire sent twice (a double click on "Send my answers", a second tab, the back button)
is one response: the same answers for the same patient, questionnaire, session and source,
sent again within minutes, store nothing new, and the sender is told they were already sent.
Two such sends at once store one. A response is never edited, so a wrong entry is entered again:
different answers, or the same ones much later, are a new response."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
import time_machine
from django.contrib.messages import get_messages
from django.db import connection, transaction
from django.http import HttpRequest
from django.urls import reverse

from measures.models import QuestionnaireResponse, Source
from measures.services import RESEND_WINDOW, questionnaire_submit
from tests.factories import PASSWORD
from tests.measures.conftest import LATER, phq9

pytestmark = pytest.mark.urls("tests.measures.urls")
V1 = "/api/v1"


def login(client, user) -> None:
    assert client.login(request=HttpRequest(), username=user.username, password=PASSWORD)  # axes needs a request


def portal_answers(value: str) -> dict[str, str]:
    return {f"item_{n}": value for n in range(1, 10)}


def last_message(response) -> str:
    """What the page the sender is sent to will say last (earlier messages are not yet shown)."""
    return [str(message) for message in get_messages(response.wsgi_request)][-1]


def test_the_same_answers_sent_twice_from_the_portal_are_one_response_and_the_patient_is_told(client, world):
    session = world.sessions_a[-1]
    url = reverse("measures:questionnaire", args=["phq9"]) + f"?appointment={session.pk}"
    with time_machine.travel(session.starts_at - dt.timedelta(days=1), tick=False):
        login(client, world.user("patient_a"))
        first = client.post(url, {**portal_answers("2"), "appointment": session.pk})
        second = client.post(url, {**portal_answers("2"), "appointment": session.pk})  # the double click
    assert first.status_code == second.status_code == 302
    assert second["Location"] == reverse("home")
    assert QuestionnaireResponse.objects.filter(patient=world.patient_a, appointment=session).count() == 1
    assert last_message(first) == "Thank you: your answers are saved and your care team will see them."
    assert last_message(second) == "These answers were already sent; your care team will see them once."


def test_different_answers_sent_right_after_are_a_new_response(client, world):
    session = world.sessions_a[-1]
    url = reverse("measures:questionnaire", args=["phq9"]) + f"?appointment={session.pk}"
    with time_machine.travel(session.starts_at - dt.timedelta(days=1), tick=False):
        login(client, world.user("patient_a"))
        client.post(url, {**portal_answers("2"), "appointment": session.pk})
        corrected = client.post(url, {**portal_answers("1"), "appointment": session.pk})
    assert last_message(corrected) == "Thank you: your answers are saved and your care team will see them."
    stored = QuestionnaireResponse.objects.filter(patient=world.patient_a, appointment=session)
    assert sorted(stored.values_list("total_score", flat=True)) == [9, 18]


def test_the_same_answers_sent_again_after_the_resend_window_are_a_new_response(world):
    def send(now: dt.datetime) -> QuestionnaireResponse:
        with time_machine.travel(now, tick=False):
            return questionnaire_submit(
                patient=world.patient_a,
                instrument="phq9",
                answers=phq9(12),
                entered_by=world.user("patient_a"),
                source=Source.PORTAL,
                now=now,
            )

    first = send(LATER)
    within = send(LATER + RESEND_WINDOW - dt.timedelta(seconds=1))
    after = send(LATER + RESEND_WINDOW + dt.timedelta(seconds=1))
    assert (within.pk, within.resent) == (first.pk, True)
    assert after.pk != first.pk and not after.resent
    assert QuestionnaireResponse.objects.count() == 2


@pytest.mark.django_db(transaction=True)
def test_two_sends_of_the_same_answers_at_once_store_one_response(world):
    """The first send's transaction is still open when the second arrives (a second tab)."""
    first_stored = threading.Event()
    release = threading.Event()
    outcome: dict[str, object] = {}

    def send(name: str, hold: bool) -> None:
        try:
            with transaction.atomic():
                outcome[name] = questionnaire_submit(
                    patient=world.patient_a,
                    instrument="phq9",
                    answers=phq9(12),
                    entered_by=world.user("patient_a"),
                    source=Source.PORTAL,
                    now=LATER,
                )
                if hold:
                    first_stored.set()
                    release.wait(timeout=10)
        except Exception as exc:  # pragma: no cover - reported below
            outcome[name] = repr(exc)
        finally:
            first_stored.set()
            connection.close()

    first = threading.Thread(target=send, args=("first", True))
    first.start()
    assert first_stored.wait(timeout=10)
    second = threading.Thread(target=send, args=("second", False))
    second.start()
    second.join(timeout=0.5)  # it waits for the first one to commit
    release.set()
    first.join(timeout=20)
    second.join(timeout=20)
    assert QuestionnaireResponse.objects.filter(patient=world.patient_a).count() == 1, outcome
    assert getattr(outcome["second"], "resent", None) is True, outcome


def test_a_nurse_saving_the_same_paper_form_twice_stores_it_once(client, world):
    login(client, world.user("nurse"))
    url = reverse("measures:staff-entry", args=[world.patient_a.pk, "phq9"])
    form = {**portal_answers("2"), "completed_at": "2026-04-18T09:30", "appointment": ""}
    first = client.post(url, form)
    second = client.post(url, form)
    assert first.status_code == second.status_code == 302
    assert QuestionnaireResponse.objects.filter(patient=world.patient_a).count() == 1
    assert last_message(second) == f"This PHQ-9 was already saved for {world.patient_a.full_name}."


def test_a_paper_form_of_another_day_with_the_same_answers_is_a_new_response(client, world):
    login(client, world.user("nurse"))
    url = reverse("measures:staff-entry", args=[world.patient_a.pk, "phq9"])
    client.post(url, {**portal_answers("2"), "completed_at": "2026-04-13T09:30", "appointment": ""})
    client.post(url, {**portal_answers("2"), "completed_at": "2026-04-18T09:30", "appointment": ""})
    assert QuestionnaireResponse.objects.filter(patient=world.patient_a).count() == 2


def test_the_api_answers_a_resent_questionnaire_with_the_response_already_stored(world):
    client = world.client("patient_a")
    body = {"instrument": "gad7", "answers": [3, 3, 2, 2, 2, 2, 1]}
    first = client.post(f"{V1}/questionnaire-responses/", body, format="json")
    again = client.post(f"{V1}/questionnaire-responses/", body, format="json")
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert QuestionnaireResponse.objects.filter(patient=world.patient_a).count() == 1
