"""The capacity page's charts, drawn by matplotlib as SVG on the server.

Each chart puts the periods side by side on the same axes (before and since the template),
so a moved peak reads at a glance. The page embeds each SVG as an <img> data URI: matplotlib
writes style attributes, which the page's Content-Security-Policy (style-src 'self') would
strip from inline <svg>, but an image's own document is not styled by the page's policy.
Figures are built with matplotlib.figure.Figure, not pyplot: no global figure state, so
concurrent requests in threads do not share one."""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")

from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator, PercentFormatter

from clinical.selectors import CapacityPeriod, CapacityReport

# Colour-blind safe (Okabe-Ito): before, since.
COLOURS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7")
STYLE = {
    "svg.fonttype": "none",  # text stays text: smaller, and sharp at any zoom
    "svg.hashsalt": "capacity",  # the same data draws the same bytes
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
}
SIZE = (6.4, 2.8)


def _svg(figure: Figure) -> str:
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
    return buffer.getvalue()


def data_uri(svg: str) -> str:
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode("ascii")


def _labels(periods: Sequence[CapacityPeriod]) -> list[str]:
    return [period.window.label for period in periods]


def _by_hour_of_day(axes: Axes, report: CapacityReport, *, xlabel: str, ylabel: str) -> None:
    """The report's opening hours along x, a light grid, and the periods' legend to the right."""
    axes.set_xticks(report.hours, [f"{hour:02d}" for hour in report.hours])
    axes.set_xlim(report.hours[0], report.hours[-1] + 1)
    axes.set_xlabel(xlabel)
    axes.set_ylabel(ylabel)
    axes.grid(axis="y", alpha=0.3)
    axes.legend(loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False)


def utilisation_chart(report: CapacityReport) -> str:
    """Chair use (solid) and nurse hands-on share of shift time (dashed) by hour of day, per period."""
    with matplotlib.rc_context(STYLE):
        figure = Figure(figsize=SIZE, layout="constrained")
        axes = figure.add_subplot()
        centres = [hour + 0.5 for hour in report.hours]
        for colour, period in zip(COLOURS, report.periods, strict=False):
            chair = [value if value is not None else float("nan") for value in period.chair_utilisation]
            nurse = [value if value is not None else float("nan") for value in period.nurse_utilisation]
            axes.plot(centres, chair, color=colour, marker="o", markersize=3, label=f"Chairs, {period.window.label}")
            axes.plot(centres, nurse, color=colour, linestyle="--", label=f"Nurses, {period.window.label}")
        axes.set_ylim(0, 1.05)
        axes.yaxis.set_major_formatter(PercentFormatter(1.0))
        _by_hour_of_day(axes, report, xlabel="Hour of day", ylabel="Busy")
        return _svg(figure)


def setups_chart(report: CapacityReport) -> str:
    """Setups begun per 15 minutes, per period: the average open day (bars, above) and the busiest
    day (line, below), each on its own scale, so an average of a fraction of a setup still shows."""
    with matplotlib.rc_context(STYLE):
        figure = Figure(figsize=(SIZE[0], SIZE[1] * 1.6), layout="constrained")
        average, busiest = figure.subplots(2, 1, sharex=True)
        count = len(report.periods) or 1
        width = 0.25 / count * 0.9
        positions = [minute / 60 for minute in report.setup_bins]
        for index, (colour, period) in enumerate(zip(COLOURS, report.periods, strict=False)):
            # Side by side about the middle of their quarter hour (x + 0.125), where the line's step is.
            shifted = [x + 0.125 + (index - (count - 1) / 2) * width for x in positions]
            average.bar(
                shifted,
                period.setups_mean,
                width=width,
                color=colour,
                alpha=0.8,
                label=f"Average day, {period.window.label}",
            )
            busiest.step(
                [x + 0.125 for x in positions],
                period.setups_peak,
                where="mid",
                color=colour,
                linewidth=1.2,
                label=f"Busiest day (peak {period.peak_setups}), {period.window.label}",
            )
        busiest.yaxis.set_major_locator(MaxNLocator(integer=True))
        busiest.set_ylim(bottom=0)
        _by_hour_of_day(average, report, xlabel="", ylabel="Setups, average day")
        _by_hour_of_day(busiest, report, xlabel="Start of the 15 minutes", ylabel="Setups, busiest day")
        return _svg(figure)


def waits_chart(report: CapacityReport) -> str:
    """Minutes from check-in to the infusion's start, one box per period (median, quartiles, p90 whiskers)."""
    with matplotlib.rc_context(STYLE):
        figure = Figure(figsize=(SIZE[0], 2.2), layout="constrained")
        axes = figure.add_subplot()
        periods = list(report.periods)
        data = [period.waits_minutes or [float("nan")] for period in periods]
        boxes = axes.boxplot(
            data,
            orientation="horizontal",
            whis=(10, 90),
            showfliers=False,
            patch_artist=True,
            tick_labels=[f"{p.window.label}\n({len(p.waits_minutes)} sessions)" for p in periods],
        )
        for colour, box in zip(COLOURS, boxes["boxes"], strict=False):
            box.set_facecolor(colour)
            box.set_alpha(0.6)
        axes.invert_yaxis()
        if not any(period.waits_minutes for period in periods):
            axes.set_xlim(0, 60)
            axes.text(30, 1.5, "No session records with a check-in and an infusion start yet", ha="center", va="center")
        else:
            axes.set_xlim(left=0)
        axes.set_xlabel("Minutes from check-in to infusion start")
        axes.grid(axis="x", alpha=0.3)
        return _svg(figure)


def overtime_chart(report: CapacityReport) -> str:
    """Minutes past closing per open day, and the share of open days that ran over, per period."""
    with matplotlib.rc_context(STYLE):
        figure = Figure(figsize=(SIZE[0], 2.2), layout="constrained")
        axes = figure.add_subplot()
        labels = _labels(report.periods)
        values = [period.overtime_per_open_day for period in report.periods]
        bars = axes.barh(labels, values, color=COLOURS[: len(values)], alpha=0.8)
        axes.bar_label(
            bars,
            labels=[
                f"{p.overtime_per_open_day:.0f} min/day · {p.overtime_sessions} sessions on {p.overtime_days} of {p.open_days} days"
                if p.overtime_sessions
                else f"no session past closing on {p.open_days} open days"
                for p in report.periods
            ],
            padding=3,
        )
        axes.invert_yaxis()
        # Whole minutes on the axis; with no overtime at all, ten of them, and the labels say none.
        axes.set_xlim(0, (max(values) if any(values) else 10.0) * 1.8)
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
        axes.set_xlabel("Minutes past closing per open day")
        axes.grid(axis="x", alpha=0.3)
        return _svg(figure)


def capacity_charts(report: CapacityReport) -> dict[str, str]:
    """name -> SVG data URI, for the page's <img> tags."""
    return {
        "utilisation": data_uri(utilisation_chart(report)),
        "setups": data_uri(setups_chart(report)),
        "waits": data_uri(waits_chart(report)),
        "overtime": data_uri(overtime_chart(report)),
    }
