"""The Idempotency-Key service every door answers through (/api/v1/ and the FHIR $hold and
$book): one run per (user, key), the first kept answer replayed, another request refused."""

from __future__ import annotations

import json

import pytest
import time_machine
from django.db import transaction
from rest_framework.test import APIClient

from scheduling.errors import IdempotencyKeyReused
from scheduling.models import IdempotencyRecord
from scheduling.services.idempotency import KeptAnswer, Replay, request_fingerprint, run_once
from tests.factories import UserFactory
from tests.scheduling.conftest import NOW, START

pytestmark = pytest.mark.django_db


def _keep_all(result: dict) -> KeptAnswer:
    return KeptAnswer(201, json.dumps(result))


def test_the_first_answer_is_kept_and_a_retry_gets_it_back_without_running_again():
    user = UserFactory()
    runs: list[int] = []

    def perform() -> dict:
        runs.append(1)
        return {"id": len(runs)}

    fingerprint = request_fingerprint("POST", "/x/", b'{"a": 1}')
    first = run_once(user_id=user.pk, key="k", fingerprint=fingerprint, perform=perform, keep=_keep_all)
    again = run_once(user_id=user.pk, key="k", fingerprint=fingerprint, perform=perform, keep=_keep_all)
    assert first == {"id": 1}
    assert again == Replay(201, {"id": 1})
    assert len(runs) == 1
    record = IdempotencyRecord.objects.get()
    assert (record.user_id, record.key, record.response_status) == (user.pk, "k", 201)


def test_an_answer_not_kept_leaves_the_key_free_for_a_retry():
    user = UserFactory()
    fingerprint = request_fingerprint("POST", "/x/", b"{}")
    refused = run_once(user_id=user.pk, key="k", fingerprint=fingerprint, perform=lambda: "no", keep=lambda _: None)
    assert refused == "no" and not IdempotencyRecord.objects.exists()
    retried = run_once(user_id=user.pk, key="k", fingerprint=fingerprint, perform=lambda: {"ok": True}, keep=_keep_all)
    assert retried == {"ok": True}
    assert IdempotencyRecord.objects.get().response_body == {"ok": True}


def test_the_same_key_with_another_request_is_refused_and_runs_nothing():
    user = UserFactory()
    run_once(
        user_id=user.pk,
        key="k",
        fingerprint=request_fingerprint("POST", "/x/", b"1"),
        perform=lambda: {"id": 1},
        keep=_keep_all,
    )

    def must_not_run() -> dict:
        raise AssertionError("ran twice")

    with pytest.raises(IdempotencyKeyReused) as refused:
        run_once(
            user_id=user.pk,
            key="k",
            fingerprint=request_fingerprint("POST", "/x/", b"2"),
            perform=must_not_run,
            keep=_keep_all,
        )
    assert refused.value.http_status == 422 and refused.value.code == "idempotency_key_reused"


def test_the_same_key_of_another_user_is_another_request():
    first, second = UserFactory(), UserFactory()
    fingerprint = request_fingerprint("POST", "/x/", b"{}")
    run_once(user_id=first.pk, key="k", fingerprint=fingerprint, perform=lambda: {"by": 1}, keep=_keep_all)
    assert run_once(user_id=second.pk, key="k", fingerprint=fingerprint, perform=lambda: {"by": 2}, keep=_keep_all) == {
        "by": 2
    }
    assert IdempotencyRecord.objects.count() == 2


def test_a_run_that_raises_keeps_no_claim():
    user = UserFactory()
    fingerprint = request_fingerprint("POST", "/x/", b"{}")

    def fails() -> dict:
        raise RuntimeError("refused")

    with pytest.raises(RuntimeError), transaction.atomic():
        run_once(user_id=user.pk, key="k", fingerprint=fingerprint, perform=fails, keep=_keep_all)
    assert not IdempotencyRecord.objects.exists()


def test_a_replay_repeats_the_headers_kept_with_the_answer():
    user = UserFactory()
    fingerprint = request_fingerprint("POST", "/x/", b"{}")

    def keep(result: dict) -> KeptAnswer:
        return KeptAnswer(201, json.dumps(result), {"Location": "https://example.org/x/7"})

    run_once(user_id=user.pk, key="k", fingerprint=fingerprint, perform=lambda: {"id": 7}, keep=keep)
    replay = run_once(user_id=user.pk, key="k", fingerprint=fingerprint, perform=dict, keep=keep)
    assert replay == Replay(201, {"id": 7}, {"Location": "https://example.org/x/7"})


def test_a_replayed_course_booking_carries_the_plans_etag_as_the_first_answer_did(clinic):
    with time_machine.travel(NOW, tick=False):
        plan = clinic.plan()
        client = APIClient()
        client.force_authenticate(clinic.front_desk.user)
        path = f"/api/v1/plans/{plan.pk}/book-course/"
        body = {"start_date": START.isoformat()}
        first = client.post(path, body, format="json", HTTP_IDEMPOTENCY_KEY="course-1")
        again = client.post(path, body, format="json", HTTP_IDEMPOTENCY_KEY="course-1")
    assert first.status_code == again.status_code == 201, first.content
    assert again["Idempotent-Replayed"] == "true"
    assert again["ETag"] == first["ETag"]
    assert again.json() == first.json()
