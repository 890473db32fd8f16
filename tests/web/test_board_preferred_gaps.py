"""The day board marks the free gaps that begin at a start of the site's day template as preferred:
the grid data (plain Python) and the page's mark and data attribute. Only at a level-loaded site:
one placed earliest-first books by no template, so the board stars none."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.urls import reverse

from clinic.models import Site
from scheduling.engine.placement import EARLIEST, LEVEL
from scheduling.models import DayPlan, DayTemplate, DayTemplateState
from tests.factories import PatientFactory
from tests.web.conftest import START, Web, login
from tests.web.test_board_grid import NEW_YORK, _grid, _items, _session
from web.board_grid import split_at_preferred


def _level_loaded(web: Web) -> None:
    Site.objects.filter(pk=web.clinic.site.pk).update(placement_policy=LEVEL)


def _one_start_at_1330_in_chair_3(web: Web) -> None:
    """A day template of one start: 13:30 in Chair 3."""
    DayTemplate.objects.create(
        site=web.clinic.site,
        state=DayTemplateState.DONE,
        starts=[{"chair_id": web.clinic.chairs[2].pk, "start": "13:30", "protocol_id": web.clinic.protocol.pk}],
        sessions_per_day=1,
        requested_at=dt.datetime(2026, 2, 27, 12, tzinfo=dt.UTC),
        computed_at=dt.datetime(2026, 2, 27, 12, tzinfo=dt.UTC),
    )


def _run(day: dt.date, *clocks: tuple[int, int]) -> list[dt.datetime]:
    return [dt.datetime.combine(day, dt.time(*clock), tzinfo=NEW_YORK) for clock in clocks]


def test_a_run_of_free_starts_is_cut_at_each_template_start():
    day = dt.date(2026, 3, 4)
    run = _run(day, (10, 0), (10, 15), (10, 30), (10, 45), (11, 0))

    pieces = split_at_preferred(run, frozenset({dt.time(10, 30), dt.time(11), dt.time(12)}), NEW_YORK)

    assert [([s.astimezone(NEW_YORK).time() for s in starts], preferred) for starts, preferred in pieces] == [
        ([dt.time(10), dt.time(10, 15)], False),
        ([dt.time(10, 30), dt.time(10, 45)], True),
        ([dt.time(11)], True),
    ]


def test_a_template_start_at_the_start_of_a_run_marks_that_gap_itself():
    day = dt.date(2026, 3, 4)
    run = _run(day, (8, 0), (8, 15))

    assert split_at_preferred(run, frozenset({dt.time(8)}), NEW_YORK) == [(run, True)]
    assert split_at_preferred(run, frozenset(), NEW_YORK) == [(run, False)]


def test_the_grid_marks_gaps_at_template_starts_as_preferred_and_leaves_other_chairs_alone():
    day = dt.date(2026, 3, 4)
    grid = _grid(
        day,
        [_session(1, day, (8, 0), (10, 0))],
        chairs=2,
        preferred={1: frozenset({dt.time(10, 30), dt.time(14)}), 3: frozenset({dt.time(9)})},
    )

    gaps = _items(grid, "gap", lane=0)
    first = [(item.starts_at.astimezone(NEW_YORK).time(), item.preferred) for item in gaps]
    assert first == [(dt.time(10), False), (dt.time(10, 30), True), (dt.time(14), True)]
    # Each piece is drawn up to the next one, the last to the end of a session at its last start.
    assert [(item.start, item.end) for item in gaps] == [(600, 630), (630, 840), (840, 16 * 60 + 30 + 90)]
    second = [(item.starts_at.astimezone(NEW_YORK).time(), item.preferred) for item in _items(grid, "gap", lane=1)]
    assert second == [(dt.time(8), False)]


def test_a_template_start_taken_by_a_session_is_not_offered():
    day = dt.date(2026, 3, 4)
    grid = _grid(day, [_session(1, day, (9, 0), (11, 0))], preferred={1: frozenset({dt.time(10)})})

    assert not any(item.preferred for item in _items(grid, "gap"))


@pytest.mark.django_db
def test_the_board_page_shows_preferred_gaps_with_a_mark_and_a_data_attribute(client, web):
    _level_loaded(web)
    _one_start_at_1330_in_chair_3(web)
    login(client, web.desk.user)

    html = client.get(reverse("web:board") + f"?day={START.isoformat()}").content.decode()

    preferred = re.findall(r'<a class="block gap gap--preferred[^"]*"[^>]*data-preferred="true"[^>]*>(.*?)</a>', html)
    assert len(preferred) == 1
    assert "Preferred 13:30" in preferred[0]
    assert "Chair 3" in preferred[0]
    assert html.count('data-preferred="true"') == 1


@pytest.mark.django_db
def test_on_a_day_with_a_day_plan_the_board_prefers_the_plans_starts(client, web):
    _level_loaded(web)
    chair = web.clinic.chairs[2]
    computed = dt.datetime(2026, 2, 27, 12, tzinfo=dt.UTC)
    template = DayTemplate.objects.create(
        site=web.clinic.site,
        state=DayTemplateState.DONE,
        starts=[{"chair_id": chair.pk, "start": "13:30", "protocol_id": web.clinic.protocol.pk, "lane": 0}],
        sessions_per_day=1,
        requested_at=computed,
        computed_at=computed,
    )
    # The day solved again around its bookings starts Chair 3 at 14:15 instead; the next day keeps 13:30.
    DayPlan.objects.create(
        site=web.clinic.site,
        day=START,
        template=template,
        starts=[{"chair_id": chair.pk, "start": "14:15"}],
        computed_at=computed,
    )
    login(client, web.desk.user)

    def preferred_on(day: dt.date) -> list[str]:
        html = client.get(reverse("web:board") + f"?day={day.isoformat()}").content.decode()
        return re.findall(r'<a class="block gap gap--preferred[^"]*"[^>]*data-preferred="true"[^>]*>(.*?)</a>', html)

    planned = preferred_on(START)
    assert len(planned) == 1 and "Preferred 14:15" in planned[0]
    following = preferred_on(START + dt.timedelta(days=1))
    assert len(following) == 1 and "Preferred 13:30" in following[0]


@pytest.mark.django_db
def test_the_board_says_whether_its_stars_are_the_days_plan_or_the_template(client, web):
    """A day with a day plan stars that plan's starts (the template solved again around the day's
    bookings), not the template's: the gap and the legend say so; a day without one says template."""
    _level_loaded(web)
    chair = web.clinic.chairs[2]
    computed = dt.datetime(2026, 2, 27, 12, tzinfo=dt.UTC)
    template = DayTemplate.objects.create(
        site=web.clinic.site,
        state=DayTemplateState.DONE,
        starts=[{"chair_id": chair.pk, "start": "13:30", "protocol_id": web.clinic.protocol.pk, "lane": 0}],
        sessions_per_day=1,
        requested_at=computed,
        computed_at=computed,
    )
    DayPlan.objects.create(
        site=web.clinic.site,
        day=START,
        template=template,
        starts=[{"chair_id": chair.pk, "start": "14:15"}],
        computed_at=computed,
    )
    login(client, web.desk.user)

    def board(day: dt.date) -> tuple[str, str]:
        html = client.get(reverse("web:board") + f"?day={day.isoformat()}").content.decode()
        (gap,) = re.findall(r'<a class="block gap gap--preferred[^"]*"[^>]*data-preferred="true"[^>]*>(.*?)</a>', html)
        (legend,) = re.findall(r'<p class="muted small legend"[^>]*>(.*?)</p>', html, re.S)
        return gap, legend

    gap, legend = board(START)
    assert "day-template start" not in gap and "at a start of this day's plan" in gap
    assert "day template solved again around the sessions booked on this day" in legend
    assert "begin at a start of the site's day template" not in legend
    gap, legend = board(START + dt.timedelta(days=1))
    assert "at a day-template start" in gap and "begin at a start of the site's day template" in legend
    assert "this day's plan" not in gap + legend


@pytest.mark.django_db
def test_on_a_day_open_other_hours_than_the_templates_the_board_marks_no_preferred_gap(client, web):
    """Placement prefers a template's starts only on days open the hours it was solved for (a
    shorter day would only be broken up by them); the board says the same."""
    from clinic.models import OpeningHours

    _level_loaded(web)
    chair = web.clinic.chairs[2]
    computed = dt.datetime(2026, 2, 27, 12, tzinfo=dt.UTC)
    DayTemplate.objects.create(
        site=web.clinic.site,
        state=DayTemplateState.DONE,
        starts=[{"chair_id": chair.pk, "start": "13:30", "protocol_id": web.clinic.protocol.pk}],
        inputs={"opening": ["08:00", "18:00"]},
        sessions_per_day=1,
        requested_at=computed,
        computed_at=computed,
    )
    shorter = START + dt.timedelta(days=1)
    OpeningHours.objects.filter(site=web.clinic.site, weekday=shorter.weekday()).update(
        opens_at=dt.time(9), closes_at=dt.time(17)
    )
    login(client, web.desk.user)

    def preferred_on(day: dt.date) -> list[str]:
        html = client.get(reverse("web:board") + f"?day={day.isoformat()}").content.decode()
        return re.findall(r'<a class="block gap gap--preferred[^"]*"[^>]*data-preferred="true"[^>]*>(.*?)</a>', html)

    assert len(preferred_on(START)) == 1
    assert preferred_on(shorter) == []


@pytest.mark.django_db
def test_a_site_switched_to_earliest_placement_shows_no_preferred_gaps(client, web):
    # The template was computed, and a day plan solved, while the site level-loaded; the manager then
    # switched the site to `earliest`. Booking no longer prefers the template's starts (site_placement
    # reads no template under earliest), so the board must not star them, nor the day plan's
    # left over until beat's next run deletes it: the desk would book the board's star while the
    # booking pages suggest another time.
    _level_loaded(web)
    chair = web.clinic.chairs[2]
    computed = dt.datetime(2026, 2, 27, 12, tzinfo=dt.UTC)
    template = DayTemplate.objects.create(
        site=web.clinic.site,
        state=DayTemplateState.DONE,
        starts=[{"chair_id": chair.pk, "start": "13:30", "protocol_id": web.clinic.protocol.pk}],
        sessions_per_day=1,
        requested_at=computed,
        computed_at=computed,
    )
    planned_day = START + dt.timedelta(days=1)
    DayPlan.objects.create(
        site=web.clinic.site,
        day=planned_day,
        template=template,
        starts=[{"chair_id": chair.pk, "start": "14:15"}],
        computed_at=computed,
    )
    login(client, web.desk.user)

    def preferred_on(day: dt.date) -> list[str]:
        html = client.get(reverse("web:board") + f"?day={day.isoformat()}").content.decode()
        return re.findall(r'data-preferred="true"[^>]*>(.*?)</(?:a|span)>', html)

    assert len(preferred_on(START)) == 1  # level: the template start is starred
    assert len(preferred_on(planned_day)) == 1  # and the day plan's

    Site.objects.filter(pk=web.clinic.site.pk).update(placement_policy=EARLIEST)

    assert preferred_on(START) == [], "the board still stars the template's 13:30 at an earliest site"
    assert preferred_on(planned_day) == [], "the board still stars the day plan's 14:15 at an earliest site"


@pytest.mark.django_db
def test_the_booking_pages_free_times_star_the_template_starts_as_the_board_does(client, web):
    _level_loaded(web)
    _one_start_at_1330_in_chair_3(web)
    plan = web.clinic.plan(patient=PatientFactory(home_site=web.clinic.site))
    login(client, web.desk.user)
    url = reverse("web:book-session", args=[plan.patient_id])
    kind = client.get(url).context["search"]["kind"].value()

    page = client.get(url, {"kind": kind, "first_day": START.isoformat(), "last_day": START.isoformat(), "chair": ""})

    free = [c for day in page.context["days"] for c in day["free"]]
    assert [(c["start"].astimezone(NEW_YORK).time(), c["chair"]) for c in free if c["preferred"]] == [
        (dt.time(13, 30), "Chair 3")
    ]
    html = page.content.decode()
    assert html.count('data-testid="preferred-slot"') == 1
    assert "★ marks a start of the day template, as on the board." in html
