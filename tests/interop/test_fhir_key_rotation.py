"""A rotated SECRET_KEY: what was signed with the old key (a FHIR proposal id, a search's page link,
a patient's reminder link) is still read while the old key is among DJANGO_SECRET_KEY_FALLBACKS,
and refused once it is not."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import override_settings

from interop.fhir import ids
from interop.fhir.outcome import FHIRError
from interop.fhir.paging import Cursor, read_cursor, write_cursor
from scheduling import services
from scheduling.reminders import tokens
from tests.scheduling.conftest import NOW, START, make_clinic

OLD, NEW = "the-key-before-the-rotation", "the-key-after-the-rotation"
PROPOSED = ids.Proposed(
    kind="p",
    site_id=1,
    chair_id=2,
    nurse_id=3,
    start=dt.datetime(2026, 3, 2, 15, tzinfo=dt.UTC),
    minutes=120,
    protocol_id=4,
    patient_id=5,
    issued_at=dt.datetime(2026, 3, 1, 9, tzinfo=dt.UTC),
)
PARAMS = {"patient": ["Patient/5"]}


def test_a_proposal_id_given_out_before_a_rotation_is_read_while_the_old_key_is_a_fallback():
    with override_settings(SECRET_KEY=OLD):
        token = ids.encode(PROPOSED)
    with override_settings(SECRET_KEY=NEW, SECRET_KEY_FALLBACKS=[OLD]):
        assert ids.decode(token, kind="p") == PROPOSED
        # Ids given out now are signed with the new key alone.
        assert ids.decode(ids.encode(PROPOSED), kind="p") == PROPOSED
    with override_settings(SECRET_KEY=NEW, SECRET_KEY_FALLBACKS=[]):
        assert ids.decode(token, kind="p") is None


def test_a_page_link_given_out_before_a_rotation_still_pages_while_the_old_key_is_a_fallback():
    cursor = Cursor(after=True, key=("Archer", dt.date(1980, 1, 1), 7), inclusive=False)
    with override_settings(SECRET_KEY=OLD):
        raw = write_cursor(cursor, params=PARAMS, user_id=9, search="Patient")
    with override_settings(SECRET_KEY=NEW, SECRET_KEY_FALLBACKS=[OLD]):
        assert read_cursor(raw, PARAMS, width=3, user_id=9, search="Patient") == cursor
    with override_settings(SECRET_KEY=NEW, SECRET_KEY_FALLBACKS=[]), pytest.raises(FHIRError) as refused:
        read_cursor(raw, PARAMS, width=3, user_id=9, search="Patient")
    assert refused.value.status == 400 and "not a page link of this server's" in refused.value.message


@pytest.mark.django_db
def test_a_reminder_link_sent_before_a_rotation_still_works_while_the_old_key_is_a_fallback():
    clinic = make_clinic()
    plan = clinic.plan()
    session = services.course_book(plan=plan, actor=clinic.front_desk.user, now=NOW, start_date=START)[0]
    with override_settings(SECRET_KEY=OLD):
        token = tokens.make_token(appointment=session, purpose=tokens.CONFIRM)
    with override_settings(SECRET_KEY=NEW, SECRET_KEY_FALLBACKS=[OLD]):
        assert tokens.appointment_from_token(token=token, purpose=tokens.CONFIRM, now=NOW) == session
    with (
        override_settings(SECRET_KEY=NEW, SECRET_KEY_FALLBACKS=[]),
        pytest.raises(tokens.InvalidLink, match="not valid"),
    ):
        tokens.appointment_from_token(token=token, purpose=tokens.CONFIRM, now=NOW)
