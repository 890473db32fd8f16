"""The clinic manager's pages: who may open the day template and capacity pages, the template's
regeneration from its page, and the capacity charts as matplotlib SVG images."""

from __future__ import annotations

import base64
import datetime as dt
import re
import types

import pytest
import time_machine
from django.urls import reverse

from clinic.models import Closure, Role
from clinical.selectors import CapacityPeriod, CapacityWindow
from scheduling import tasks
from scheduling.models import DayPlan, DayTemplate, DayTemplateState
from scheduling.services import day_template as day_template_service
from scheduling.services.day_template import day_template_regenerate
from tests.factories import SiteFactory, StaffFactory
from tests.scheduling.test_day_template_service import LATER, TWO_BY_TWO, _entry_nurse, _regenerate, _staggered_clinic
from tests.web.conftest import NOW, login
from web.capacity import _period_notes

pytestmark = pytest.mark.django_db

PAGES = ("web:day-template", "web:capacity")
# Who gets each page (200) and who is refused (403): the capacity page is for clinic administrators
# and prescribers; the day template for clinic administrators only.
ALLOWED = {
    "web:day-template": {"admin"},
    "web:capacity": {"admin", "prescriber"},
}
PERSONAS = ("desk", "nurse", "prescriber", "admin")


def _user(web, persona: str):
    return getattr(web, persona).user


@pytest.mark.parametrize("page_name", PAGES)
@pytest.mark.parametrize("persona", PERSONAS)
def test_each_staff_role_gets_the_manager_pages_only_if_its_role_may(client, web, page_name, persona):
    login(client, _user(web, persona))

    response = client.get(reverse(page_name))

    assert response.status_code == (200 if persona in ALLOWED[page_name] else 403)


@pytest.mark.parametrize("page_name", PAGES)
def test_patients_are_refused_and_visitors_sent_to_log_in(client, web, page_name):
    response = client.get(reverse(page_name))
    assert response.status_code == 302 and response.url.startswith(reverse("login"))

    login(client, web.patient_a.user)
    assert client.get(reverse(page_name)).status_code == 403
    if page_name == "web:day-template":
        assert client.post(reverse(page_name)).status_code == 403
        assert not DayTemplate.objects.exists()


@pytest.mark.parametrize("page_name", PAGES)
def test_another_sites_page_is_not_found(client, web, page_name):
    other = SiteFactory()
    login(client, web.admin.user)

    assert client.get(reverse(page_name) + f"?site={other.pk}").status_code == 404
    if page_name == "web:day-template":
        assert client.post(reverse(page_name), {"site": other.pk}).status_code == 404
        assert not DayTemplate.objects.exists()


def test_navigation_links_the_pages_for_the_roles_that_may_open_them(client, web):
    login(client, web.admin.user)
    html = client.get(reverse("web:board")).content.decode()
    assert reverse("web:capacity") in html and reverse("web:day-template") in html

    client.logout()
    login(client, web.desk.user)
    html = client.get(reverse("web:board")).content.decode()
    assert reverse("web:capacity") not in html and reverse("web:day-template") not in html


def test_a_clinic_admin_regenerates_the_template_from_its_page(
    client, web, monkeypatch, django_capture_on_commit_callbacks
):
    queued: list[int] = []

    class Broker:
        def signature(self, name, args):
            assert name == tasks.regenerate_day_template.name  # the registered task, by its name
            return types.SimpleNamespace(apply_async=lambda: queued.extend(args))

    monkeypatch.setattr(day_template_service, "current_app", Broker())
    login(client, web.admin.user)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("web:day-template"), {"site": web.clinic.site.pk})

    assert response.status_code == 302
    [attempt] = DayTemplate.objects.filter(site=web.clinic.site)
    assert attempt.state == DayTemplateState.PENDING and attempt.computed_by == web.admin.user
    assert queued == [attempt.pk]
    page = client.get(response.url).content.decode()
    assert "Being computed" in page and 'hx-trigger="every 3s"' in page

    # The worker's run: the page shows the template per chair, the count, when and by whom.
    day_template_regenerate(site=web.clinic.site, actor=web.admin.user, now=NOW, attempt=attempt)
    page = client.get(response.url).content.decode()
    assert "Being computed" not in page
    # The pages' clinic lets its nurse set up three at once: every chair starts at 08:00 and holds five.
    assert re.search(r'data-testid="sessions-per-day">15<', page)
    assert page.count('data-testid="template-chair"') == 3
    assert "08:00" in page and f"by {web.admin.display_name}" in page


def test_a_failed_run_is_shown_and_the_template_in_use_stays(client, web, monkeypatch):
    kept = day_template_regenerate(site=web.clinic.site, actor=web.admin.user, now=NOW)
    web.clinic.nurses[0].shifts.all().delete()
    failed = day_template_regenerate(site=web.clinic.site, actor=web.admin.user, now=NOW + dt.timedelta(minutes=5))
    login(client, web.admin.user)

    page = client.get(reverse("web:day-template")).content.decode()

    assert failed.state == DayTemplateState.FAILED and kept.state == DayTemplateState.DONE
    assert "Last computation failed" in page
    assert re.search(rf'data-testid="sessions-per-day">{kept.sessions_per_day}<', page)


def _svgs(html: str) -> dict[str, str]:
    found = re.findall(r'src="data:image/svg\+xml;base64,([A-Za-z0-9+/=]+)"[^>]*data-testid="chart-(\w+)"', html)
    return {name: base64.b64decode(data).decode() for data, name in found}


def test_the_capacity_page_draws_four_charts_with_both_periods(client, web):
    day_template_regenerate(site=web.clinic.site, actor=web.admin.user, now=NOW)
    login(client, web.prescriber.user)

    response = client.get(reverse("web:capacity"))

    html = response.content.decode()
    charts = _svgs(html)
    assert set(charts) == {"utilisation", "setups", "waits", "overtime"}
    for svg in charts.values():
        assert svg.lstrip().startswith("<?xml") and "<svg" in svg and "matplotlib" in svg.lower()
    assert "4 weeks before" in charts["utilisation"] and "4 weeks since" in charts["utilisation"]
    # Split at the template's day; the courses booked from Monday 2 March fall in the period since.
    assert "the day template of 27 Feb 2026" in html
    sessions = re.findall(r'data-testid="period-sessions">(\d+) <span[^>]*>\(([\d.]+) an open day\)', html)
    assert len(sessions) == 2
    assert sessions[0] == ("0", "0.0") and sessions[1][0] == "12" and float(sessions[1][1]) > 0
    # Nothing was booked before the courses: the page says the period before counts days without any.
    # Its open days are counted (the table's "(N open)"), and so is the Friday before the Monday the
    # courses began, in the period since (from the template's Friday).
    open_before = re.search(r"\((\d+) open\)", rows_html(html)[0]).group(1)
    notes = re.findall(r'data-testid="period-note">(.*?)</p>', html)
    assert notes == [
        f"The site&#x27;s first session is on 2 Mar 2026: {open_before} open days of the 4 weeks before come before it, with nothing booked.",
        "The site&#x27;s first session is on 2 Mar 2026: 1 open day of the 4 weeks since comes before it, with nothing booked.",
    ]
    assert int(open_before) > 15


def rows_html(html: str) -> list[str]:
    return re.findall(r'data-testid="capacity-period">(.*?)</tr>', html, re.S)


def _period(label: str, sessions: int, first: dt.date) -> CapacityPeriod:
    """Four weeks from `first`, open Monday to Saturday."""
    window = CapacityWindow(label=label, first_day=first, last_day=first + dt.timedelta(days=27))
    days = [first + dt.timedelta(days=n) for n in range(28) if (first + dt.timedelta(days=n)).weekday() < 6]
    return CapacityPeriod(window=window, open_days=len(days), open_dates=days, sessions=sessions)


def test_the_capacity_page_says_when_the_periods_volumes_differ_or_a_period_began_before_any_session():
    today = dt.date(2026, 12, 7)
    before = _period("4 weeks before", 48, dt.date(2026, 10, 12))
    since = _period("4 weeks since", 72, dt.date(2026, 11, 9))
    # 2.0 against 3.0 sessions an open day: the heights compare the volume, and the page says so.
    [volumes] = _period_notes([before, since], dt.date(2026, 9, 1), today)
    assert volumes.startswith("The periods' volumes differ: 2.0 (4 weeks before) against 3.0 (4 weeks since)")
    # Within a quarter of each other, nothing is said; none at all in one is a difference.
    assert _period_notes([_period("a", 60, before.window.first_day), since], dt.date(2026, 9, 1), today) == []
    [none] = _period_notes([_period("a", 0, before.window.first_day), since], dt.date(2026, 9, 1), today)
    assert none.startswith("The periods' volumes differ: 0.0 (a) against 3.0 (4 weeks since)")
    # A first session inside the period before: its open days before it (Mon 12 to Wed 21 Oct, the
    # Sunday aside) are counted, and said; the volumes are still compared.
    [_, first] = _period_notes([before, since], dt.date(2026, 10, 22), today)
    assert first == (
        "The site's first session was on 22 Oct 2026: 9 open days of the 4 weeks before come before it, with nothing booked."
    )
    # A period wholly before it is not a volume; a first session still to come "is on".
    notes = _period_notes([before, since], dt.date(2026, 12, 9), today)
    assert [note[:40] for note in notes] == ["The site's first session is on 9 Dec 202"] * 2
    empty = [_period("4 weeks before", 0, before.window.first_day), _period("4 weeks since", 0, since.window.first_day)]
    assert _period_notes(empty, None, today) == ["No session has been booked at this site yet."]


def test_the_capacity_period_selector_takes_8_weeks_and_another_day_and_refuses_bad_days(client, web):
    login(client, web.admin.user)

    html = client.get(reverse("web:capacity") + "?weeks=8&since=2026-03-09").content.decode()
    assert "8 weeks before" in html and "9 Mar 2026" in html
    for query in ("?weeks=abc", "?weeks=3", "?weeks=-1"):
        assert client.get(reverse("web:capacity") + query).status_code == 200, query  # the 4 weeks
    # A day that is malformed or outside the clinical range is a 400, as on every page (web/common.py).
    for query in ("?since=not-a-day", "?since=2026-02-30", "?since=0001-01-01&weeks=8", "?since=9999-12-31"):
        assert client.get(reverse("web:capacity") + query).status_code == 400, query


def test_the_template_page_lists_the_coming_days_solved_again_around_their_bookings(client, web):
    template = day_template_regenerate(site=web.clinic.site, actor=web.admin.user, now=NOW)
    today = NOW.astimezone(web.clinic.site.zone).date()
    for day, booked in ((today - dt.timedelta(days=1), [1]), (today + dt.timedelta(days=4), [7, 8])):
        DayPlan.objects.create(
            site=web.clinic.site,
            day=day,
            template=template,
            starts=[{"chair_id": web.clinic.chairs[0].pk, "start": "14:15"}],
            booked=booked,
            computed_at=NOW,
        )
    login(client, web.admin.user)

    with time_machine.travel(NOW, tick=False):
        page = client.get(reverse("web:day-template")).content.decode()

    rows = re.findall(r'<tr data-testid="day-plan">(.*?)</tr>', page, re.S)
    assert len(rows) == 1  # yesterday's plan is not listed
    coming = today + dt.timedelta(days=4)
    assert f"{coming:%a} {coming.day} {coming:%b %Y}" in rows[0]
    assert f"?day={coming.isoformat()}" in rows[0]
    assert re.findall(r"<td>(\d+)</td>", rows[0]) == ["2", "1"]


def test_without_coming_day_plans_the_template_page_says_so(client, web):
    day_template_regenerate(site=web.clinic.site, actor=web.admin.user, now=NOW)
    login(client, web.admin.user)

    with time_machine.travel(NOW, tick=False):
        page = client.get(reverse("web:day-template")).content.decode()

    assert 'data-testid="no-day-plans"' in page


def test_the_template_page_names_the_nurse_each_start_is_for(client):
    # Two early (08-16) and two late (10-18) nurses: each start names its shift's hours and which
    # of the two nurses on them, as placement gives it on the day.
    clinic = _staggered_clinic(TWO_BY_TWO, chairs=6)
    template = _regenerate(clinic)
    admin = StaffFactory(role=Role.CLINIC_ADMIN, sites=[clinic.site])
    login(client, admin.user)

    page = client.get(reverse("web:day-template"), {"site": clinic.site.pk}).content.decode()

    starts = re.findall(r'data-testid="template-start">(\d\d:\d\d) <small>([^<]*)</small>', page)
    assert len(starts) == len(template.starts)
    assert {nurse for _, nurse in starts} == {
        "08:00–16:00 nurse 1",
        "08:00–16:00 nurse 2",
        "10:00–18:00 nurse 1",
        "10:00–18:00 nurse 2",
    }
    # Each as the template has it: the start's shift and its rank among the nurses on that shift.
    expected = sorted(
        (e["start"], f"{e['shift'][0]}–{e['shift'][1]} nurse {e['shift_rank'] + 1}") for e in template.starts
    )
    assert sorted(starts) == expected


def test_the_template_page_says_who_its_nurses_are_on_the_next_day_open_its_hours(client):
    """ "08:00–16:00 nurse 1" is a place on the roster; the page says who holds it on the next day the
    site opens the template's hours, skipping closed days, as placement finds her on that day: the
    rank-th by staff id of the nurses on that shift."""
    clinic = _staggered_clinic(TWO_BY_TWO, chairs=6)
    template = _regenerate(clinic)
    zone = clinic.site.zone
    Closure.objects.create(
        site=clinic.site,
        starts_at=dt.datetime(2026, 3, 25, tzinfo=zone),
        ends_at=dt.datetime(2026, 3, 27, tzinfo=zone),
        reason="Staff training",
    )
    admin = StaffFactory(role=Role.CLINIC_ADMIN, sites=[clinic.site])
    login(client, admin.user)

    with time_machine.travel(LATER, tick=False):  # Wednesday 25 March, 14:00 in New York
        page = client.get(reverse("web:day-template"), {"site": clinic.site.pk}).content.decode()

    key = re.search(r'data-testid="nurse-key">(.*?)</p>', page, re.S).group(1)
    assert key.startswith("On Fri 27 Mar, the next day open these hours")
    named = dict(re.findall(r"<strong>([^<]*)</strong> ([^·<.]*?)(?: ·|\.)", key))

    def label(entry):
        return f"{entry['shift'][0]}–{entry['shift'][1]} nurse {entry['shift_rank'] + 1}"

    expected = {label(e): _entry_nurse(clinic, e, TWO_BY_TWO) for e in template.starts}
    assert named == {label: nurse.user.get_full_name() for label, nurse in expected.items()}
    assert len(set(named.values())) == 4
    # Each start's badge names her too.
    first = min(template.starts, key=lambda e: (e["start"], e["chair_id"]))
    assert f"· {expected[label(first)].user.get_full_name()} on Fri 27 Mar" in page
    # A day solved again around its bookings (a day plan) takes that plan's nurses: the next day is named.
    DayPlan.objects.create(site=clinic.site, day=dt.date(2026, 3, 27), template=template, computed_at=LATER)
    with time_machine.travel(LATER, tick=False):
        page = client.get(reverse("web:day-template"), {"site": clinic.site.pk}).content.decode()
    assert 'data-testid="nurse-key">On Mon 30 Mar, the next day open these hours, the nurses' in page
    # Without the closure, today is such a day, and the page says today.
    Closure.objects.filter(site=clinic.site).delete()
    with time_machine.travel(LATER, tick=False):
        page = client.get(reverse("web:day-template"), {"site": clinic.site.pk}).content.decode()
    assert 'data-testid="nurse-key">Today (Wed 25 Mar) the nurses the template names are: ' in page
