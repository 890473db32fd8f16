"""What a proposal id from $find binds and how long it lasts: it fits FHIR's 64 characters, it can
name only the reason it was found with (not whatever row now has that number), it is refused once
older than FHIR_PROPOSAL_MAX_AGE_HOURS, and the reasons no id in date names are purged."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from contextlib import contextmanager

import pytest
import time_machine
from knox.models import AuthToken

from interop.fhir import ids
from interop.fhir.models import FindReason
from scheduling.models import Appointment
from tests.interop.fhir_support import parameters, parse
from tests.interop.test_fhir_find_timing_reason import REASON, REASON_LINE, appointments, by_reference, find, post
from tests.scheduling.conftest import NOW

FHIR_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")
MAX_AGE = dt.timedelta(hours=24)  # FHIR_PROPOSAL_MAX_AGE_HOURS's default


@contextmanager
def at(world, instant: dt.datetime):
    """The clock at `instant`, with a new token for the front desk (API tokens last 10 hours)."""
    with time_machine.travel(instant, tick=False):
        world.tokens["front_desk"] = AuthToken.objects.create(user=world.clinic.front_desk.user)[1]
        yield


def hold(world, proposal):
    return post(world.client("front_desk"), "Appointment/$hold", by_reference(proposal))


def book_by_reference(world, proposal):
    return post(world.client("front_desk"), "Appointment/$book", by_reference(proposal))


def book_sent_back(world, proposal):
    body = parameters(("appointment-resource", "resource", proposal.model_dump(mode="json")))
    return post(world.client("front_desk"), "Appointment/$book", body)


WAYS = {"hold": hold, "book-by-reference": book_by_reference, "book-sent-back": book_sent_back}


def refused(response, status: int, reason: str) -> str:
    assert response.status_code == status, response.content
    issue = parse(response).issue[0]
    assert issue.code == "not-found" and issue.details.coding[0].code == reason
    return issue.diagnostics


# --- the id's length budget ------------------------------------------------------------------


def test_the_longest_proposal_id_the_budget_allows_fits_fhirs_64_characters_and_reads_back(settings):
    longest = ids.Proposed(
        "p",
        site_id=36**2 - 1,
        chair_id=36**3 - 1,
        nurse_id=36**3 - 1,
        start=dt.datetime(2134, 1, 1, 23, 59, tzinfo=dt.UTC),
        minutes=36**2 - 1,
        protocol_id=36**2 - 1,
        patient_id=36**5 - 1,
        reason_id=36**5 - 1,
        reason_check="zzzzz",
        issued_at=dt.datetime(2134, 1, 1, 23, 59, tzinfo=dt.UTC),
    )
    token = ids.encode(longest)
    assert len(token) == ids.MAX_LENGTH and FHIR_ID.fullmatch(token)
    # The hour it was issued in, rounded down: the age counts from there.
    issued_hour = dt.datetime(2134, 1, 1, 23, tzinfo=dt.UTC)
    assert ids.decode(token, kind="p") == ids.Proposed(**{**vars(longest), "issued_at": issued_hour})
    # The reason's check is signed like every other part.
    payload, _, signature = token.rpartition("-")
    assert ids.decode(f"{payload[:-5]}aaaaa-{signature}", kind="p") is None


def test_a_slot_id_is_as_before_without_an_issue_hour_or_reason():
    slot = ids.Proposed("s", 1, 2, 3, NOW, 120, 4, 0)
    token = ids.encode(slot)
    assert token.count(".") == 7 and ids.decode(token, kind="s") == slot
    assert not ids.expired(slot, now=NOW + 10 * MAX_AGE)
    assert ids.decode(token, kind="p") is None


# --- the id binds the reason's content -----------------------------------------------------------


def _row_now_keeps_another_reason(pk: int) -> None:
    """As after a restore that reset the table's numbers: the row with this id is another reason."""
    FindReason.objects.filter(pk=pk).delete()
    other = [{"text": "Chronic pain"}]
    FindReason.objects.create(pk=pk, digest=hashlib.sha256(b"another user's reason").hexdigest(), concepts=other)


@pytest.mark.parametrize("way", list(WAYS))
def test_a_proposal_whose_reason_row_now_keeps_another_reason_is_refused_not_booked_with_it(world, way):
    proposal = appointments(find(world, patient=world.patient_a, reason=REASON, days=1, count=1))[0]
    _row_now_keeps_another_reason(ids.decode(proposal.id, kind="p").reason_id)
    message = refused(WAYS[way](world, proposal), 404, "find_reason_mismatch")
    assert "$find again, or give reason" in message
    assert not Appointment.objects.filter(patient=world.patient_a).exists()


def test_a_proposal_whose_kept_reason_is_unchanged_still_books_with_it(world):
    proposal = appointments(find(world, patient=world.patient_a, reason=REASON, days=1, count=1))[0]
    response = book_by_reference(world, proposal)
    assert response.status_code == 200, response.content
    assert Appointment.objects.get(patient=world.patient_a).notes == REASON_LINE


# --- the id's age --------------------------------------------------------------------------------


@pytest.mark.parametrize("way", list(WAYS))
@pytest.mark.parametrize("reason", [REASON, None], ids=["with-reason", "without-reason"])
def test_a_proposal_is_refused_once_older_than_the_max_age(world, way, reason):
    first, second = appointments(find(world, patient=world.patient_a, reason=reason, days=1, count=2))
    with at(world, NOW + MAX_AGE):
        assert WAYS[way](world, first).status_code == 200
    with at(world, NOW + MAX_AGE + dt.timedelta(minutes=1)):
        message = refused(WAYS[way](world, second), 410, "proposal_expired")
    assert "more than 24 hours ago" in message and "$find again" in message
    assert Appointment.objects.filter(patient=world.patient_a).count() == 1


def test_a_proposals_age_counts_from_the_hour_it_was_given_out_in(world):
    with at(world, NOW + dt.timedelta(minutes=59)):
        proposal = appointments(find(world, patient=world.patient_a, days=1, count=1))[0]
    assert ids.decode(proposal.id, kind="p").issued_at == NOW
    with at(world, NOW + MAX_AGE + dt.timedelta(minutes=1)):
        refused(hold(world, proposal), 410, "proposal_expired")


# --- the reasons' retention ------------------------------------------------------------------------


def test_the_purge_deletes_the_reasons_not_given_for_longer_than_the_max_age(world):
    from interop.fhir.find_reasons import find_reasons_purge

    find(world, reason=REASON, days=1, count=1)
    with at(world, NOW + dt.timedelta(hours=10)):
        find(world, reason={"text": "Chronic pain"}, days=1, count=1)
    depression, pain = FindReason.objects.order_by("pk")
    assert (depression.last_used_at, pain.last_used_at) == (NOW, NOW + dt.timedelta(hours=10))
    assert find_reasons_purge(now=NOW + MAX_AGE) == 0
    assert find_reasons_purge(now=NOW + MAX_AGE + dt.timedelta(seconds=1)) == 1
    assert list(FindReason.objects.all()) == [pain]
    assert find_reasons_purge(now=NOW + dt.timedelta(hours=10) + MAX_AGE + dt.timedelta(seconds=1)) == 1
    assert not FindReason.objects.exists()


def test_a_reason_given_again_is_kept_from_its_last_use_and_its_new_proposals_book_with_it(world):
    from interop.fhir.find_reasons import find_reasons_purge

    old = appointments(find(world, patient=world.patient_a, reason=REASON, days=1, count=1))[0]
    again = NOW + dt.timedelta(hours=20)
    with at(world, again):
        new = appointments(find(world, patient=world.patient_a, reason=REASON, days=1, count=2))[-1]
    kept = FindReason.objects.get()  # the same row, its use refreshed
    assert ids.decode(new.id, kind="p").reason_id == ids.decode(old.id, kind="p").reason_id == kept.pk
    assert kept.last_used_at == again
    later = NOW + MAX_AGE + dt.timedelta(hours=6)
    assert find_reasons_purge(now=later) == 0
    with at(world, later):
        refused(hold(world, old), 410, "proposal_expired")
        response = hold(world, new)
    assert response.status_code == 200, response.content
    assert Appointment.objects.get(patient=world.patient_a).notes == REASON_LINE
    assert find_reasons_purge(now=again + MAX_AGE + dt.timedelta(seconds=1)) == 1


def test_beat_purges_the_find_reasons_hourly_through_a_registered_task(world, settings):
    from config.celery import app
    from interop.tasks import purge_find_reasons

    entry = settings.CELERY_BEAT_SCHEDULE["purge-find-reasons"]
    assert entry["task"] == purge_find_reasons.name and entry["task"] in app.tasks
    assert entry["schedule"] == 3600.0
    find(world, reason=REASON, days=1, count=1)
    assert purge_find_reasons.run() == 0
    with time_machine.travel(NOW + MAX_AGE + dt.timedelta(minutes=1), tick=False):
        assert purge_find_reasons.run() == 1
    assert not FindReason.objects.exists()
