"""`--clock-instants=all` runs every test marked `clock` at each instant of tests/clock.py, a browser
test at BROWSER_INSTANTS (`every`: at each instant too), except a test marked
`clock(calendar=False)`, which runs at the default instant alone."""

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests import clock

ROOT = Path(__file__).resolve().parent.parent


def _collected(*args: str) -> list[str]:
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", *args],
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return [line for line in result.stdout.splitlines() if "::" in line]


def test_all_instants_run_a_calendar_test_at_each_instant_and_a_calendar_free_one_once():
    board, header = "tests/web/test_browser_board.py", "tests/web/test_browser_header.py"
    ids = _collected("--clock-instants=all", board, header)
    grid = [i for i in ids if "test_the_grid_shows_each_session_in_its_chair_row_at_its_time" in i]
    contrast = [i for i in ids if "test_the_header_passes_axes_colour_contrast_check" in i]
    assert sorted(grid) == sorted(
        f"{board}::test_the_grid_shows_each_session_in_its_chair_row_at_its_time[at-{name}-chromium]"
        for name in clock.BROWSER_INSTANTS
    )
    assert contrast == [
        f"{header}::test_the_header_passes_axes_colour_contrast_check_on_every_main_page_for_every_role[chromium]"
    ]


def test_every_instant_runs_a_browser_test_at_each_instant_and_all_runs_the_others_at_each():
    board, seed = "tests/web/test_browser_board.py", "tests/test_seed_demo_room.py"
    every = _collected("--clock-instants=every", board)
    grid = [i for i in every if "test_the_grid_shows_each_session_in_its_chair_row_at_its_time" in i]
    assert sorted(grid) == sorted(
        f"{board}::test_the_grid_shows_each_session_in_its_chair_row_at_its_time[at-{name}-chromium]"
        for name in clock.INSTANTS
    )
    seeded = [i for i in _collected("--clock-instants=all", seed) if "test_the_coming_days_have_free_chair_time" in i]
    assert len(seeded) == len(clock.INSTANTS)


def test_the_browser_instants_keep_the_week_start_late_evening_both_clock_changes_a_weekend_night_and_new_year():
    assert set(clock.BROWSER_INSTANTS) <= set(clock.INSTANTS)
    local = [clock.instant(name) for name in clock.BROWSER_INSTANTS]
    # The start of the week inside opening hours (the week page is Monday-first); late evening, the
    # next day already in UTC; both clock changes (the UTC offset a day later differs: the change comes
    # that night); a weekend day; the last day of the year.
    assert any(t.weekday() == 0 and 8 <= t.hour < 17 for t in local)
    assert any(t.astimezone(dt.UTC).date() > t.date() for t in local)
    changes = [t for t in local if t.utcoffset() != (t + dt.timedelta(days=1)).utcoffset()]
    assert sorted(t.month for t in changes) == [3, 11], changes
    assert any(t.weekday() >= 5 for t in local)
    assert any((t.month, t.day) == (12, 31) for t in local)


@pytest.mark.clock
def test_a_clock_test_is_at_its_first_instant_only_at_the_first_one_it_runs_at(request, clock_instant_name):
    """A browser test saves its screenshots at its first instant only (tests/web/test_browser.py, shoot)."""
    wanted = request.config.getoption("--clock-instants")
    if wanted == "default":
        expected = True  # one run, at the default instant
    elif wanted in ("all", "every"):
        expected = clock_instant_name == next(iter(clock.INSTANTS))
    else:
        expected = clock_instant_name == wanted.split(",")[0].strip()
    assert clock.at_first_instant is expected


def test_clock_now_fails_a_test_that_is_not_marked_clock_instead_of_reading_the_real_clock(request):
    with pytest.raises(pytest.fail.Exception, match="mark it `clock`"):
        request.getfixturevalue("clock_now")


@pytest.mark.clock
def test_clock_now_is_the_instant_the_clock_was_set_to(clock_now, clock_instant_name):
    from django.utils import timezone

    assert clock_now == clock.instant(clock_instant_name)
    assert dt.timedelta(0) <= timezone.now() - clock_now < dt.timedelta(minutes=1)  # the clock runs from it
