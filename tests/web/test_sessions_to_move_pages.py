"""The desk finds the sessions a change of set-up left behind: the board marks each one where it
stands and says what no longer fits, the "To move" page lists every one ahead with a Move link,
and the API answers the same list. Only the desk and clinicians of the site see it."""

from __future__ import annotations

import datetime as dt

from django.urls import reverse

from clinic.models import AccessLog, Closure, Role
from tests.factories import SiteFactory, StaffFactory
from tests.web.conftest import login

MONDAY = dt.date(2026, 3, 2)  # the first day of both courses (tests/web/conftest.py)


def _snow_on_monday(site) -> Closure:
    return Closure.objects.create(
        site=site,
        reason="Snow day",
        starts_at=dt.datetime.combine(MONDAY, dt.time(0), tzinfo=site.zone),
        ends_at=dt.datetime.combine(MONDAY, dt.time(23), tzinfo=site.zone),
    )


def _on_monday(web):
    return [
        a for a in (*web.sessions_a, *web.sessions_b) if a.starts_at.astimezone(web.clinic.site.zone).date() == MONDAY
    ]


def test_the_board_marks_a_session_a_closure_added_later_covers(client, web):
    login(client, web.desk.user)
    board = client.get(reverse("web:board"), {"day": MONDAY.isoformat()}).content.decode()
    assert 'data-testid="no-longer-fits"' not in board and 'data-testid="to-move"' not in board

    _snow_on_monday(web.clinic.site)
    board = client.get(reverse("web:board"), {"day": MONDAY.isoformat()}).content.decode()
    monday = _on_monday(web)
    assert monday
    assert board.count('data-testid="no-longer-fits"') == len(monday)
    callout = board.split('data-testid="to-move"')[1].split("</div>")[0]
    assert f'<span class="stat__value">{len(monday)}</span>' in callout and "no longer fit" in callout
    assert reverse("web:to-move") in callout
    assert board.count("the site is closed (Snow day)") >= len(monday)  # each mark says why


def test_the_to_move_page_lists_every_session_ahead_with_what_no_longer_fits(client, web):
    login(client, web.desk.user)
    page = client.get(reverse("web:to-move"))
    assert page.status_code == 200
    assert "still fits the site" in page.content.decode()

    _snow_on_monday(web.clinic.site)
    web.clinic.chairs[0].equipment = ["intranasal"]
    web.clinic.chairs[0].save()
    page = client.get(reverse("web:to-move"), {"site": web.clinic.site.pk})
    text = page.content.decode()
    rows = text.split('data-testid="sessions-to-move"')[1].split("</table>")[0]
    in_first_chair = [a for a in (*web.sessions_a, *web.sessions_b) if a.chair_id == web.clinic.chairs[0].pk]
    expected = {a.pk for a in (*_on_monday(web), *in_first_chair)}
    assert rows.count("<tr>") - 1 == len(expected)  # the header row
    for pk in expected:
        assert reverse("web:move-session", args=[pk]) in rows
    assert "The site is closed (Snow day)" in rows
    assert "That chair is not equipped for iv" in rows
    logged = (
        AccessLog.objects.filter(path=f"{reverse('web:to-move')}?site={web.clinic.site.pk}").order_by("-pk").first()
    )
    assert logged is not None
    assert set(logged.patient_ids) == {a.patient_id for a in (*web.sessions_a, *web.sessions_b) if a.pk in expected}


def test_the_to_move_page_is_for_the_desk_and_clinicians_of_the_site(client, web):
    for staff in (web.desk, web.nurse, web.prescriber):
        login(client, staff.user)
        assert client.get(reverse("web:to-move")).status_code == 200
        client.logout()
    for user in (web.admin.user, web.patient_a.user):
        login(client, user)
        assert client.get(reverse("web:to-move")).status_code == 403
        client.logout()
    elsewhere = SiteFactory()
    login(client, web.desk.user)
    assert client.get(reverse("web:to-move"), {"site": elsewhere.pk}).status_code == 404


def test_the_api_answers_the_sessions_to_move_with_a_reason_a_program_can_branch_on(client, web):
    site = web.clinic.site
    url = reverse("v1:site-sessions-to-move", args=[site.pk])
    login(client, web.desk.user)
    assert client.get(url).json()["sessions"] == []

    _snow_on_monday(site)
    body = client.get(url).json()
    monday = sorted(_on_monday(web), key=lambda a: (a.starts_at, a.pk))
    assert [entry["session"]["id"] for entry in body["sessions"]] == [a.pk for a in monday]
    assert {entry["reason"] for entry in body["sessions"]} == {"site_closed"}
    assert body["sessions"][0]["problem"] == "the site is closed (Snow day)"
    assert body["sessions"][0]["session"]["chair_name"] == monday[0].chair.name
    # Until the Sunday before: nothing yet.
    assert client.get(url, {"until": "2026-03-01"}).json()["sessions"] == []
    assert client.get(url, {"until": "2026-03-02"}).json()["sessions"] != []


def test_the_api_refuses_a_bad_window_and_other_peoples_sites(client, web):
    site = web.clinic.site
    url = reverse("v1:site-sessions-to-move", args=[site.pk])
    login(client, web.desk.user)
    far = client.get(url, {"until": "2028-01-01"})
    assert far.status_code == 400 and "until" in far.json()["error"]["fields"]
    assert client.get(url, {"until": "not-a-day"}).status_code == 400
    assert client.get(url, {"since": "2026-03-01"}).status_code == 400
    other = SiteFactory()
    assert client.get(reverse("v1:site-sessions-to-move", args=[other.pk])).status_code == 404
    client.logout()
    login(client, web.patient_a.user)
    assert client.get(url).status_code in (403, 404)
    client.logout()
    admin = StaffFactory(role=Role.CLINIC_ADMIN, sites=[site])
    login(client, admin.user)
    assert client.get(url).status_code == 403
