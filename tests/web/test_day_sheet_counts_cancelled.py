"""The printed day sheet lists the day's cancelled sessions too (with their reason, for the desk),
so its count says how many of its rows are cancelled: "3 sessions" over four rows read as a
missing session."""

from __future__ import annotations

import pytest
from django.urls import reverse

from scheduling.services import appointment_cancel
from tests.scheduling.conftest import NOW
from tests.web.conftest import login

pytestmark = pytest.mark.django_db


def _sheet(client, session) -> str:
    day = session.starts_at.astimezone(session.site.zone).date().isoformat()
    return client.get(reverse("web:board"), {"site": session.site_id, "day": day, "print": "1"}).content.decode()


def test_the_day_sheet_counts_the_cancelled_rows_apart(client, web):
    first = web.sessions_a[0]
    login(client, web.desk.user)
    before = _sheet(client, first)
    rows = before.count('data-testid="sheet-row"')
    assert f'data-testid="sheet-count">{rows} session{"s" if rows != 1 else ""}</span>' in before
    appointment_cancel(appointment=first, actor=web.desk.user, reason="Flu", now=NOW)
    after = _sheet(client, first)
    assert after.count('data-testid="sheet-row"') == rows, "the cancelled session is still listed"
    left = rows - 1
    assert (
        f'data-testid="sheet-count">{left} session{"s" if left != 1 else ""}, and 1 cancelled (listed)</span>' in after
    )
