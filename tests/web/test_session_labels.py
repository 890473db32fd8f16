"""Session labels (web.common.session_label), the same on the chart, the board, the portal and the
pages that name one session: an induction session counts against its protocol; a maintenance
session's number counts the whole course and says so."""

from __future__ import annotations

import pytest

from scheduling.models import Phase
from tests.scheduling.conftest import into_maintenance, make_clinic
from web.common import session_label

pytestmark = pytest.mark.django_db


def test_the_first_maintenance_session_after_six_induction_sessions_does_not_read_as_the_seventh():
    clinic = make_clinic()
    plan, course = into_maintenance(clinic)
    assert [session_label(a) for a in course] == [f"Session {n} of 6" for n in range(1, 7)]
    first = plan.appointments.filter(phase=Phase.MAINTENANCE).order_by("starts_at").select_related("plan__protocol")[0]
    assert first.sequence == 7
    assert session_label(first) == "Maintenance (session 7 of the course)"
