"""A proposal reads the site's opening hours and chairs and the patient's infusions so far by
hand (the ORM's compiling cost more than the answers, `docs/benchmarks.md`); what it reads is
what the ORM reads. The same check runs on SQLite in tests/test_embedded_booking.py."""

from __future__ import annotations

import pytest

from tests.scheduling.proposal_reads import check, proposal_reads_both_ways


@pytest.mark.django_db
def test_a_proposals_hand_written_reads_give_what_the_orm_gives():
    check(proposal_reads_both_ways())
