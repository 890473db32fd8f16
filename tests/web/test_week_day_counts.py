"""The week page's day headings: the counts a day shows agree with the sessions it lists, for
every role that sees the week. A cancelled session is counted but not listed, and its count says so."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.urls import reverse

from scheduling.models import AppointmentStatus
from scheduling.services import appointment_cancel
from tests.web.conftest import NOW, login

pytestmark = pytest.mark.django_db

MONDAY = dt.date(2026, 3, 2)
ROLES = ("desk", "nurse", "prescriber", "admin")


def _day_sections(html: str) -> list[str]:
    return re.findall(r'<section class="week__day.*?</section>', html, flags=re.S)


def _counts(section: str) -> dict[str, str]:
    """Each status badge of a day's heading: status -> its text."""
    heading = re.search(r'data-testid="status-counts">(.*?)</p>', section, flags=re.S)
    if heading is None:
        return {}
    return {
        status: re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", text)).strip()
        for status, text in re.findall(r'<span class="badge badge--(\w+)"[^>]*>(.*?)</span>(?= |$)', heading[1])
    }


@pytest.mark.parametrize("role", ROLES)
def test_each_days_counts_match_the_sessions_it_lists_and_cancelled_ones_say_they_are_not_listed(client, web, role):
    monday_sessions = sorted(
        (
            s
            for s in [*web.sessions_a, *web.sessions_b]
            if s.starts_at.astimezone(web.clinic.site.zone).date() == MONDAY
        ),
        key=lambda s: s.starts_at,
    )
    assert len(monday_sessions) >= 2
    appointment_cancel(appointment=monday_sessions[0], actor=web.desk.user, reason="Unwell", now=NOW)
    login(client, getattr(web, role).user)

    response = client.get(reverse("web:week") + f"?day={MONDAY.isoformat()}")

    assert response.status_code == 200
    sections = _day_sections(response.content.decode())
    assert len(sections) == 7
    for (day, sessions, _closures, statuses), section in zip(response.context["days"], sections, strict=True):
        listed = section.count('class="week__item')
        assert listed == len(sessions)
        counted = {s["status"]: s["count"] for s in statuses}
        # What the heading counts of the statuses it lists is exactly what it lists.
        assert sum(n for status, n in counted.items() if status != AppointmentStatus.CANCELLED) == listed, day
        badges = _counts(section)
        for status, number in counted.items():
            if status == AppointmentStatus.CANCELLED:
                assert badges[status] == f"{number} cancelled (not listed)", day
            else:
                assert badges[status].startswith(f"{number} "), day
                assert "not listed" not in badges[status], day
    monday = _counts(sections[0])
    assert monday[AppointmentStatus.CANCELLED] == "1 cancelled (not listed)"
    assert "Unwell" not in sections[0]
