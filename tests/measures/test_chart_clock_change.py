"""The outcome chart's axis is a true time scale over whole local days, on days the clocks change
too: a fall-back day lasts 25 hours and a spring-forward day 23, so a score or a session is placed
by the time elapsed since the midnight that starts its day, never on the wall clock. Two scores
half an hour apart late on a fall-back day are two points inside the day, not one on its edge."""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

import pytest
from django.http import HttpRequest
from django.urls import reverse

from measures.charts import LEFT, RIGHT, WIDTH, line_chart
from tests.factories import PASSWORD
from tests.measures.conftest import phq9

NEW_YORK = ZoneInfo("America/New_York")
PLOT_LEFT, PLOT_RIGHT = LEFT, WIDTH - RIGHT


def new_york(*args: int) -> dt.datetime:
    """A New York wall time, as the database hands it back (in UTC)."""
    return dt.datetime(*args, tzinfo=NEW_YORK).astimezone(dt.UTC)


def fraction_across(x: float) -> float:
    return (x - PLOT_LEFT) / (PLOT_RIGHT - PLOT_LEFT)


def test_two_late_scores_on_a_fall_back_day_are_two_points_inside_the_day():
    # Sunday 2 November 2025: New York falls back at 02:00, the day lasts 25 hours.
    values = [(new_york(2025, 11, 2, 9), 20), (new_york(2025, 11, 2, 23), 12), (new_york(2025, 11, 2, 23, 30), 8)]
    chart = line_chart(values=values, y_max=27, session_times=[], zone=NEW_YORK)
    nine, eleven, half_past_eleven = (fraction_across(p.x) for p in chart.points)
    # 09:00 EST is 10 hours after midnight EDT; 23:00 is 24 hours after; 23:30 is 24.5.
    assert nine == pytest.approx(10 / 25, abs=0.002)
    assert eleven == pytest.approx(24 / 25, abs=0.002)
    assert half_past_eleven == pytest.approx(24.5 / 25, abs=0.002)
    assert chart.points[2].x < PLOT_RIGHT


def test_a_score_on_a_spring_forward_day_is_placed_by_elapsed_time():
    # Sunday 8 March 2026 lasts 23 hours; 23:00 EDT is 22 hours after the day's midnight (EST).
    chart = line_chart(values=[(new_york(2026, 3, 8, 23), 10)], y_max=27, session_times=[], zone=NEW_YORK)
    assert fraction_across(chart.points[0].x) == pytest.approx(22 / 23, abs=0.002)


def test_a_session_late_on_a_fall_back_day_is_a_tick_inside_the_day():
    values = [(new_york(2025, 11, 2, 9), 20)]
    chart = line_chart(values=values, y_max=27, session_times=[new_york(2025, 11, 2, 23)], zone=NEW_YORK)
    assert [fraction_across(x) for x in chart.session_ticks] == [pytest.approx(24 / 25, abs=0.002)]


def test_a_span_across_a_clock_change_keeps_the_hours_of_each_day():
    # From Saturday 1 to Monday 3 November 2025: 24 + 25 + 24 hours. Noon on Monday is 61 hours in.
    values = [(new_york(2025, 11, 1, 12), 20), (new_york(2025, 11, 3, 12), 10)]
    chart = line_chart(values=values, y_max=27, session_times=[], zone=NEW_YORK)
    assert [fraction_across(p.x) for p in chart.points] == [
        pytest.approx(12 / 73, abs=0.002),
        pytest.approx(61 / 73, abs=0.002),
    ]


@pytest.mark.urls("tests.measures.urls")
def test_clinician_chart_draws_both_late_scores_of_a_fall_back_day(client, world):
    assert world.clinic.site.time_zone == "America/New_York"
    world.record(world.patient_a, "phq9", phq9(20), dt.datetime(2025, 11, 2, 9, tzinfo=NEW_YORK))
    world.record(world.patient_a, "phq9", phq9(12), dt.datetime(2025, 11, 2, 23, tzinfo=NEW_YORK))
    world.record(world.patient_a, "phq9", phq9(8), dt.datetime(2025, 11, 2, 23, 30, tzinfo=NEW_YORK))
    user = world.user("prescriber")
    assert client.login(request=HttpRequest(), username=user.username, password=PASSWORD)
    page = client.get(reverse("web:patient", args=[world.patient_a.pk])).content.decode()
    block = page.split('data-testid="measure-phq9"')[1].split("</svg>")[0]
    xs = [float(x) for x in re.findall(r'data-testid="measure-point" cx="([\d.]+)"', block)]
    assert len(xs) == 3
    assert len(set(xs)) == 3, f"two scores drawn on one spot: {xs}"
    assert max(xs) < PLOT_RIGHT
