"""The day board and the "To move" list mark the sessions of a plan flagged for a short induction,
as the chart does: the desk sees "Course short" with a link to book the make-up (a scheduling fact);
clinicians also see the flag's reason (clinical); a clinic administrator, who sees no patients,
sees neither. The marks cost no query per session."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from clinic.models import Closure
from scheduling import services
from scheduling.engine.wallclock import local_day
from scheduling.models import BLOCKING_STATUSES, Appointment, AppointmentStatus, Phase
from scheduling.services.courses import induction_reflow_propose
from tests.web.conftest import NOW, login
from tests.web.conftest import SHORT_COURSE_REASON as REASON_WORDS
from web.common import mark_plan_attention

pytestmark = pytest.mark.django_db

MONDAY = dt.date(2026, 3, 2)  # the first day of both courses (tests/web/conftest.py)


def _board(client):
    response = client.get(reverse("web:board"), {"day": MONDAY.isoformat()})
    assert response.status_code == 200
    return response.content.decode()


def _session_block(page: str, name: str) -> str:
    """The board's block of the session whose patient is `name`."""
    blocks = [b.split("</article>")[0] for b in page.split('data-testid="session"')[1:]]
    (block,) = [b for b in blocks if name in b]
    return block


def _snow_on_monday(site) -> None:
    Closure.objects.create(
        site=site,
        reason="Snow day",
        starts_at=dt.datetime.combine(MONDAY, dt.time(0), tzinfo=site.zone),
        ends_at=dt.datetime.combine(MONDAY, dt.time(23), tzinfo=site.zone),
    )


def _to_move_rows(client, web) -> dict[str, str]:
    response = client.get(reverse("web:to-move"), {"site": web.clinic.site.pk})
    assert response.status_code == 200
    table = response.content.decode().split('data-testid="sessions-to-move"')[1].split("</table>")[0]
    rows = table.split("<tbody>")[1].split("</tr>")[:-1]
    return {name: row for row in rows for name in (web.patient_a.full_name, web.patient_b.full_name) if name in row}


def test_the_desk_sees_course_short_on_the_board_with_a_make_up_link_but_not_the_reason(client, flagged):
    login(client, flagged.desk.user)
    page = _board(client)
    mine = _session_block(page, flagged.patient_a.full_name)
    assert 'data-testid="course-short"' in mine and "Course short" in mine
    assert reverse("web:book-session", args=[flagged.patient_a.pk]) + "?kind=make-up" in mine
    assert 'data-testid="course-short"' not in _session_block(page, flagged.patient_b.full_name)
    assert REASON_WORDS not in page


@pytest.mark.parametrize("who", ["nurse", "prescriber"])
def test_a_clinician_also_sees_the_reason_on_the_board(client, flagged, who):
    login(client, getattr(flagged, who).user)
    mine = _session_block(_board(client), flagged.patient_a.full_name)
    assert 'data-testid="course-short"' in mine and REASON_WORDS in mine


def test_an_administrator_sees_no_mark_on_the_board(client, flagged):
    login(client, flagged.admin.user)
    page = _board(client)
    assert 'data-testid="course-short"' not in page and REASON_WORDS not in page


def test_the_mark_goes_when_the_make_up_makes_the_course_whole(client, flagged):
    proposal = induction_reflow_propose(plan=flagged.plan_a, missed=flagged.sessions_a[2], now=NOW)
    services.appointment_book(
        patient=flagged.patient_a,
        plan=flagged.plan_a,
        site=flagged.clinic.site,
        starts_at=proposal.slots[0].start,
        phase=Phase.INDUCTION,
        actor=flagged.desk.user,
        now=NOW,
    )
    flagged.plan_a.refresh_from_db()
    assert not flagged.plan_a.needs_attention
    login(client, flagged.desk.user)
    assert 'data-testid="course-short"' not in _board(client)


def test_the_to_move_list_marks_the_short_course_for_the_desk_without_the_reason(client, flagged):
    _snow_on_monday(flagged.clinic.site)
    login(client, flagged.desk.user)
    rows = _to_move_rows(client, flagged)
    assert 'data-testid="course-short"' in rows[flagged.patient_a.full_name]
    assert (
        reverse("web:book-session", args=[flagged.patient_a.pk]) + "?kind=make-up" in rows[flagged.patient_a.full_name]
    )
    assert 'data-testid="course-short"' not in rows[flagged.patient_b.full_name]
    assert REASON_WORDS not in "".join(rows.values())
    login(client, flagged.nurse.user)
    assert REASON_WORDS in _to_move_rows(client, flagged)[flagged.patient_a.full_name]


def _count(client, url: str, params: dict[str, str]) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url, params).status_code == 200
    return len(queries)


def test_the_marks_cost_the_same_queries_for_one_flagged_plan_as_for_two(client, flagged):
    _snow_on_monday(flagged.clinic.site)
    login(client, flagged.desk.user)
    pages = [(reverse("web:board"), {"day": MONDAY.isoformat()}), (reverse("web:to-move"), {})]
    for url, params in pages:
        _count(client, url, params)  # a hot read's first use prepares its statement
    one = [_count(client, url, params) for url, params in pages]
    services.appointment_cancel(
        appointment=flagged.sessions_b[2], actor=flagged.patient_b.user, reason="Away", now=NOW, by_patient=True
    )
    flagged.plan_b.refresh_from_db()
    assert flagged.plan_b.needs_attention
    assert _board(client).count('data-testid="course-short"') == 2
    assert [_count(client, url, params) for url, params in pages] == one


def test_the_mark_shows_on_the_plans_live_sessions_not_on_its_cancelled_one(client, flagged):
    """The cancelled session that made the course short is still drawn on its day's board, set
    aside: it is no session of the course any more, so it carries no "Course short" mark."""
    cancelled = flagged.sessions_a[2]
    cancelled.refresh_from_db()
    assert cancelled.status == AppointmentStatus.CANCELLED
    day = local_day(cancelled.starts_at, flagged.clinic.site.zone)
    login(client, flagged.desk.user)
    response = client.get(reverse("web:board"), {"day": day.isoformat()})
    assert response.status_code == 200
    page = response.content.decode()
    blocks = [b.split("</article>")[0] for b in page.split('data-testid="session"')[1:]]
    (aside,) = [b for b in blocks if f"{flagged.patient_a.full_name}, Cancelled" in b]
    assert 'data-testid="course-short"' not in aside
    # A live session of the same plan keeps the mark.
    assert 'data-testid="course-short"' in _session_block(_board(client), flagged.patient_a.full_name)


def test_mark_plan_attention_leaves_cancelled_and_no_show_sessions_unmarked(rf, flagged):
    Appointment.objects.filter(pk=flagged.sessions_a[4].pk).update(status=AppointmentStatus.NO_SHOW)
    request = rf.get("/")
    request.staff = flagged.desk
    request.can = {"patient_chart": True}
    rows = list(Appointment.objects.filter(plan=flagged.plan_a).select_related("plan__protocol").order_by("starts_at"))
    mark_plan_attention(rows, request)
    marked = {a.pk for a in rows if a.course_short}
    assert marked == {a.pk for a in rows if a.status in BLOCKING_STATUSES}
    assert marked and not marked & {flagged.sessions_a[2].pk, flagged.sessions_a[4].pk}
