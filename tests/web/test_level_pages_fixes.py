"""The level-loading pages: the day template page's status polling, and the words a course proposal
gives for its times."""

from __future__ import annotations

import datetime as dt
import html
import json
import re

import pytest
import time_machine
from django.urls import reverse

from clinic.models import Site
from scheduling import services
from scheduling.models import DayTemplate, DayTemplateState
from tests.scheduling.conftest import add_shifts, make_clinic
from tests.web.conftest import login

pytestmark = pytest.mark.django_db

MONDAY = dt.datetime(2026, 3, 2, 14, tzinfo=dt.UTC)


def test_the_day_template_pages_status_poll_does_not_keep_an_idle_admin_signed_in(client, web):
    """The day template page asks for itself every 3 s while a run is queued; a page refreshing itself
    is not someone at the keyboard, so the poll is a background refresh (as the board's) and does
    not keep an unattended workstation signed in."""
    DayTemplate.objects.create(
        site=web.clinic.site, state=DayTemplateState.PENDING, requested_at=MONDAY, computed_by=web.admin.user
    )
    with time_machine.travel(MONDAY, tick=False) as clock:
        login(client, web.admin.user)
        page = client.get(reverse("web:day-template")).content.decode()
        poller = re.search(r"<div id=\"template-body\"[^>]*>", page).group(0)
        url = html.unescape(re.search(r'hx-get="([^"]*)"', poller).group(1))
        found = re.search(r"hx-headers='([^']*)'", poller)
        headers = {"HX-Request": "true", **(json.loads(found.group(1)) if found else {})}
        extra = {f"HTTP_{name.upper().replace('-', '_')}": value for name, value in headers.items()}
        # Nobody touches the keyboard for 30 minutes; the page polls on its own (sampled each minute).
        for _ in range(30):
            clock.shift(dt.timedelta(minutes=1))
            client.get(url, **extra)
        response = client.get(reverse("web:board"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


@pytest.mark.parametrize("policy", ["earliest", "level"])
def test_a_proposal_for_next_year_says_the_year_in_each_why(policy):
    """A course proposed on 28 December for January says the year in each session's why, under both
    policies, as every label of a day outside the current year does."""
    now = dt.datetime(2026, 12, 28, 14, tzinfo=dt.UTC)
    first = dt.date(2027, 1, 4)
    clinic = make_clinic(placement_policy=policy, days=0)
    for nurse in clinic.nurses:
        add_shifts(nurse, clinic.site, dt.date(2026, 12, 21), 60)
    plan = clinic.plan(start_date=first)

    proposal = services.course_propose(plan=plan, start_date=first, now=now)

    assert proposal.sessions and all(s.starts_at.year == 2027 for s in proposal.sessions)
    for session in proposal.sessions:
        assert session.why, session
        assert "2027" in session.why, session.why


@pytest.mark.parametrize("policy", ["level", "earliest"])
def test_the_day_template_page_says_whether_booking_uses_the_template(client, web, policy):
    """Booking prefers the template's starts only at a level-loaded site: at one placed earliest-first
    the page said it did, while booking and the board ignore it."""
    Site.objects.filter(pk=web.clinic.site.pk).update(placement_policy=policy)
    login(client, web.admin.user)
    page = client.get(reverse("web:day-template")).content.decode()
    if policy == "level":
        assert "Booking prefers its start times" in page
        assert 'data-testid="template-not-used"' not in page
    else:
        assert "Booking prefers its start times" not in page
        assert "This site books the earliest free time: the template is not used" in page
