"""The capacity page's setups chart draws each bar inside its own 15 minutes."""

from __future__ import annotations

import datetime as dt

import pytest
from matplotlib.axes import Axes

from clinical.selectors import CapacityPeriod, CapacityReport, CapacityWindow
from web import capacity_charts


def _report(periods: int) -> CapacityReport:
    bins = list(range(8 * 60, 10 * 60, 15))
    windows = [CapacityWindow(f"period {n}", dt.date(2026, 3, 2), dt.date(2026, 3, 8)) for n in range(periods)]
    return CapacityReport(
        site=None,  # type: ignore[arg-type]  (the chart reads no site)
        chairs=3,
        hours=[8, 9],
        setup_bins=bins,
        periods=[
            CapacityPeriod(window=w, open_days=5, setups_mean=[1.0] * len(bins), setups_peak=[2] * len(bins))
            for w in windows
        ],
    )


@pytest.fixture
def drawn_bars(monkeypatch) -> list[tuple[float, float]]:
    """(centre, width) of every bar the chart draws, in hours of the day."""
    drawn: list[tuple[float, float]] = []
    original = Axes.bar

    def bar(self, x, height, width=0.8, *args, **kwargs):
        drawn.extend((position, width) for position in x)
        return original(self, x, height, width, *args, **kwargs)

    monkeypatch.setattr(Axes, "bar", bar)
    return drawn


@pytest.mark.parametrize("periods", [1, 2, 3])
def test_each_periods_setup_bars_lie_within_their_quarter_hour(drawn_bars, periods):
    # The 08:00-08:15 bar of the average day is drawn between 08:00 and 08:15 (x 8.0-8.25), as the
    # busiest-day line for that bin is; the periods' bars side by side within it.
    report = _report(periods)
    capacity_charts.setups_chart(report)

    starts = [minute / 60 for minute in report.setup_bins]
    assert len(drawn_bars) == periods * len(starts)
    for index, (centre, width) in enumerate(drawn_bars):
        first = starts[index % len(starts)]
        left, right = centre - width / 2, centre + width / 2
        assert first - 1e-9 <= left and right <= first + 0.25 + 1e-9, (
            f"{periods} period(s): the bar of the bin from {first:.2f} h spans {left:.3f}-{right:.3f} h"
        )


def test_one_periods_bar_is_centred_in_its_quarter_hour_as_the_busiest_day_line(drawn_bars):
    report = _report(1)
    capacity_charts.setups_chart(report)

    centres = [centre for centre, _ in drawn_bars]
    assert centres == pytest.approx([minute / 60 + 0.125 for minute in report.setup_bins])
