"""`--clock-instants=all` runs every test marked `clock` at each instant of tests/clock.py, except
a test marked `clock(calendar=False)`, which runs at the default instant alone."""

import os
import subprocess
import sys
from pathlib import Path

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
        for name in clock.INSTANTS
    )
    assert contrast == [
        f"{header}::test_the_header_passes_axes_colour_contrast_check_on_every_main_page_for_every_role[chromium]"
    ]
