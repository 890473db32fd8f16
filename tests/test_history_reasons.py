"""A clinician's reason of ordinary length must be kept, not make the write fail.

simple_history kept `history_change_reason` in a 100-character column by default; services put the
clinician's whole reason into it (with a prefix), so a longer reason failed on PostgreSQL, and then
was cut to fit. It is a text column now (SIMPLE_HISTORY_HISTORY_CHANGE_REASON_USE_TEXT_FIELD): the
reason is kept whole."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from clinical.models import ControlledSubstanceEntry
from scheduling.models import PlanStatus
from tests.clinical.conftest import ward  # noqa: F401  (the fixture)
from tests.clinical_helpers import record_session_for_completion
from tests.measures.conftest import world  # noqa: F401  (the fixture)

pytestmark = pytest.mark.django_db

# 150 characters: a perfectly ordinary explanation, well inside the 2000 the API accepts.
REASON = (
    "Pump log shows the infusion stopped at 34 mg when the line occluded; the remaining 1 mg was "
    "discarded and witnessed by the charge nurse on duty today."
)


def test_a_controlled_substance_correction_keeps_a_150_character_reason(ward):  # noqa: F811
    assert len(REASON) > 100
    record_session_for_completion(ward.session, ward.nurse.user)
    entry = ControlledSubstanceEntry.objects.get()
    with time_machine.travel(ward.session.starts_at + dt.timedelta(hours=3), tick=False):
        response = ward.client("prescriber").post(
            f"/api/v1/clinical/controlled-substance-log/{entry.pk}/correct/",
            {"total_mg": "34", "reason": REASON},
            format="json",
        )
    assert response.status_code == 201, response.json()
    assert ControlledSubstanceEntry.objects.filter(corrects=entry, reason=REASON).exists()


def test_pausing_a_plan_on_the_chart_with_a_long_reason_is_not_a_server_error(client, world):  # noqa: F811
    client.raise_request_exception = False
    plan = world.plan_a
    client.force_login(world.user("nurse"))
    response = client.post(
        f"/plans/{plan.pk}/adjust/",
        {"action": "pause", "reason": REASON, "version": plan.version},
    )
    assert response.status_code != 500
    plan.refresh_from_db()
    assert response.status_code == 302 and plan.status == PlanStatus.PAUSED
    # The history row keeps the whole reason.
    latest = plan.history.order_by("-history_date", "-history_id").first()
    assert latest.history_change_reason.endswith(REASON)
