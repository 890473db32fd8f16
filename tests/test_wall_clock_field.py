"""Pages read a datetime-local input on the site's wall clock, including the two nights a year the
clocks change (found by running the clock tests at the November instant: the PCL-5 entry refused
the 01:30 it had itself pre-filled)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import time_machine
from django import forms
from django.utils import timezone

from clinic.form_fields import WallClockDateTimeField

DENVER = ZoneInfo("America/Denver")


class Form(forms.Form):
    at = WallClockDateTimeField(label="At")


def clean(value: str, zone: ZoneInfo = DENVER) -> forms.Form:
    with timezone.override(zone):
        form = Form(data={"at": value})
        form.is_valid()
    return form


FIRST_0130 = dt.datetime(2026, 11, 1, 7, 30, tzinfo=dt.UTC)  # 01:30 MDT
SECOND_0130 = dt.datetime(2026, 11, 1, 8, 30, tzinfo=dt.UTC)  # 01:30 MST, an hour later


def test_a_time_the_clocks_repeat_is_its_first_occurrence_until_the_second_has_come():
    """What a page records happened already: 01:30 typed at 01:40 MDT is the first 01:30; typed at
    01:40 MST (the clocks went back meanwhile), the second; typed any later, still the second."""
    with time_machine.travel(FIRST_0130 + dt.timedelta(minutes=10), tick=False):
        assert clean("2026-11-01T01:30").cleaned_data["at"] == FIRST_0130
    with time_machine.travel(SECOND_0130 + dt.timedelta(minutes=10), tick=False):
        assert clean("2026-11-01T01:30").cleaned_data["at"] == SECOND_0130
    with time_machine.travel(SECOND_0130 + dt.timedelta(days=30), tick=False):
        assert clean("2026-11-01T01:30").cleaned_data["at"] == SECOND_0130


def test_a_repeated_time_still_to_come_is_its_first_occurrence():
    with time_machine.travel(FIRST_0130 - dt.timedelta(days=1), tick=False):
        form = clean("2026-11-01T01:30")
    assert form.errors == {}
    assert form.cleaned_data["at"] == FIRST_0130


def test_a_time_the_clocks_skip_is_refused_with_what_to_enter():
    form = clean("2027-03-14T02:30")
    assert "the clocks went forward that night" in form.errors["at"][0]
    assert "14 Mar 2027 02:30" in form.errors["at"][0]


def test_an_ordinary_time_is_read_in_the_current_zone():
    form = clean("2026-12-08T09:15", ZoneInfo("America/New_York"))
    assert form.cleaned_data["at"] == dt.datetime(2026, 12, 8, 14, 15, tzinfo=dt.UTC)


def test_garbage_is_a_form_error_not_an_exception():
    assert "at" in clean("tomorrow-ish").errors
    assert "at" in clean("2026-13-45T99:99").errors


def test_a_time_the_page_filled_in_the_repeated_hour_keeps_the_occurrence_it_showed():
    """Rendered from an instant, the input carries which 01:30 it is; posted back unchanged, that one
    is read, even once both have come. A time changed by hand does not take the stale occurrence."""
    with timezone.override(DENVER):
        rendered = Form(initial={"at": FIRST_0130}).as_p()
    assert 'name="at__occurrence" value="2026-11-01T01:30|-06:00"' in rendered
    with time_machine.travel(SECOND_0130 + dt.timedelta(hours=2), tick=False), timezone.override(DENVER):
        kept = Form(data={"at": "2026-11-01T01:30", "at__occurrence": "2026-11-01T01:30|-06:00"})
        changed = Form(data={"at": "2026-11-01T01:45", "at__occurrence": "2026-11-01T01:30|-06:00"})
        assert kept.is_valid() and changed.is_valid()
    assert kept.cleaned_data["at"] == FIRST_0130
    assert changed.cleaned_data["at"] == SECOND_0130 + dt.timedelta(minutes=15)  # typed: the latest come


def test_an_ordinary_time_carries_no_occurrence():
    with timezone.override(DENVER):
        rendered = Form(initial={"at": dt.datetime(2026, 11, 2, 15, tzinfo=dt.UTC)}).as_p()
    assert "__occurrence" not in rendered
