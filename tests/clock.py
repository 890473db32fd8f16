"""Fixed instants for the tests that build their data from the clock.

A test marked ``clock`` never reads the real clock: the autouse fixture in tests/conftest.py
travels (ticking, so a live server and a browser still see time pass) to a fixed instant
before the test and its function-scoped fixtures run. In the ordinary run that instant is
DEFAULT_INSTANT; with ``--clock-instants=all`` every marked test runs once at each of
INSTANTS, the moments that have broken calendar arithmetic before: the start and the end of
the working week, late evening (the next local day is already tomorrow in UTC), the weekend,
the two nights the clocks change, and the turn of the year (a browser test at BROWSER_INSTANTS, five
of them, which leave out an afternoon and a weekend's daytime; `--clock-instants=every`: at each of
INSTANTS too).

Instants are wall-clock times in the zone the test names with ``@pytest.mark.clock(zone=...)``
(America/Denver when it names none), so "Thursday 16:00" is Thursday 16:00 at the test's site.

``@pytest.mark.clock(..., calendar=False)`` is for a browser test whose assertion cannot depend on
the date or the hour (the header's colour contrast, how a long name wraps): it is marked
``clock`` only because every browser test's live server runs on a set clock. It runs at the
default instant alone, also under ``--clock-instants=all``; each browser test costs seconds. The
demo seed's checks (tests/test_seed_demo.py) say it too: they share one seed made at the default
instant, and tests/test_seed_demo_room.py seeds at every instant."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

DEFAULT_ZONE = "America/Denver"

# name -> local wall-clock time (the first of a repeated hour on the November night).
INSTANTS: dict[str, dt.datetime] = {
    "monday-morning": dt.datetime(2027, 1, 4, 8, 30),
    "thursday-1600": dt.datetime(2026, 12, 3, 16, 0),
    "friday-2330": dt.datetime(2026, 12, 4, 23, 30),
    "saturday": dt.datetime(2026, 12, 5, 11, 0),
    "march-clocks-change": dt.datetime(2027, 3, 14, 1, 30),  # 02:00 does not exist that night
    "november-clocks-change": dt.datetime(2026, 11, 1, 1, 30),  # 01:00-02:00 happens twice
    "december-31": dt.datetime(2026, 12, 31, 22, 30),  # already 1 January in UTC
}
# A browser test costs seconds at each instant (Chromium, a live server): under `--clock-instants=all`
# it runs at these five: the start of the week inside opening hours (the week page is Monday-first),
# late evening into a weekend (the next local day is already tomorrow in UTC), both nights the clocks
# change (Sunday nights) and the turn of the year. Not tried in a browser under `all`: an afternoon
# with the day's sessions already begun (Thursday 16:00) and a weekend's daytime (the Saturday); the
# other clock tests run at every instant, and `--clock-instants=every` runs the browser tests at every
# instant too.
BROWSER_INSTANTS = ("monday-morning", "friday-2330", "march-clocks-change", "november-clocks-change", "december-31")
DEFAULT_INSTANT = "tuesday-morning"
DEFAULT_LOCAL = dt.datetime(2026, 12, 8, 9, 0)


def instant(name: str, zone: str = DEFAULT_ZONE) -> dt.datetime:
    """The aware instant called `name`, read as a wall-clock time in `zone`."""
    local = DEFAULT_LOCAL if name == DEFAULT_INSTANT else INSTANTS[name]
    return local.replace(tzinfo=ZoneInfo(zone), fold=0)


# Whether the running test is at the first instant it runs at in this run (tests/conftest.py sets
# it): a browser test saves its screenshots there only, not once more at each other instant over
# the same files (tests/web/test_browser.py, shoot).
at_first_instant = True
