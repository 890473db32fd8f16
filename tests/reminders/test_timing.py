"""When messages go out, on plain values: quiet hours in the patient's zone,
daylight-saving days in New York and London, offsets, backoff, channel choice."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scheduling.reminders.timing import (
    BEFORE_QUIET_MARGIN,
    QuietHours,
    choose_channel,
    notice_send_time,
    quiet_period_around,
    reminder_send_time,
    reminder_send_times,
    retry_delay,
)

UTC = dt.UTC
NEW_YORK = zoneinfo.ZoneInfo("America/New_York")
LONDON = zoneinfo.ZoneInfo("Europe/London")
NIGHT = QuietHours(start=dt.time(21), end=dt.time(8))


def utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)


def test_reminder_outside_quiet_hours_keeps_its_time():
    due = utc(2026, 11, 24, 15)  # 10:00 in New York
    assert (
        reminder_send_time(due_at=due, session_starts_at=due + dt.timedelta(hours=2), zone=NEW_YORK, quiet=NIGHT) == due
    )


def test_reminder_inside_quiet_hours_goes_at_their_end_in_the_patients_zone():
    session = utc(2026, 11, 24, 14)  # 09:00 EST
    two_hours_before = session - dt.timedelta(hours=2)  # 07:00 EST, quiet
    assert reminder_send_time(due_at=two_hours_before, session_starts_at=session, zone=NEW_YORK, quiet=NIGHT) == utc(
        2026, 11, 24, 13
    )  # 08:00 EST


def test_reminder_whose_quiet_end_is_not_before_the_session_goes_just_before_quiet_hours_begin():
    session = utc(2026, 11, 24, 13)  # 08:00 EST, exactly when quiet hours end
    sent = reminder_send_time(
        due_at=session - dt.timedelta(hours=2), session_starts_at=session, zone=NEW_YORK, quiet=NIGHT
    )
    assert sent == utc(2026, 11, 24, 2) - BEFORE_QUIET_MARGIN  # 20:55 EST the evening before


def test_quiet_hours_are_the_patients_not_utc():
    # 23:00 UTC is 18:00 in New York (fine) but 23:00 in London (quiet).
    due = utc(2026, 11, 24, 23)
    session = utc(2026, 11, 25, 16)
    assert reminder_send_time(due_at=due, session_starts_at=session, zone=NEW_YORK, quiet=NIGHT) == due
    assert reminder_send_time(due_at=due, session_starts_at=session, zone=LONDON, quiet=NIGHT) == utc(2026, 11, 25, 8)


@pytest.mark.parametrize(
    ("zone", "session", "expected", "change"),
    [
        # Session 09:00 local, 2 h reminder due 07:00 local: moved to 08:00 local,
        # whose UTC instant depends on the offset in force that morning.
        (NEW_YORK, utc(2026, 3, 8, 13), utc(2026, 3, 8, 12), "spring forward: 08:00 EDT"),
        (NEW_YORK, utc(2026, 11, 1, 14), utc(2026, 11, 1, 13), "fall back: 08:00 EST"),
        (LONDON, utc(2026, 3, 29, 8), utc(2026, 3, 29, 7), "spring forward: 08:00 BST"),
        (LONDON, utc(2026, 10, 25, 9), utc(2026, 10, 25, 8), "fall back: 08:00 GMT"),
    ],
)
def test_quiet_hours_end_on_clock_change_days_is_local_wall_clock(zone, session, expected, change):
    assert session.astimezone(zone).hour == 9
    sent = reminder_send_time(due_at=session - dt.timedelta(hours=2), session_starts_at=session, zone=zone, quiet=NIGHT)
    assert sent == expected, change
    assert sent.astimezone(zone).time() == dt.time(8)


@pytest.mark.parametrize(
    ("zone", "session", "quiet_began"),
    [
        # Session 08:00 local on the change day; quiet hours began 21:00 local the
        # evening before, under the other offset.
        (NEW_YORK, utc(2026, 3, 8, 12), utc(2026, 3, 8, 2)),  # 21:00 EST
        (NEW_YORK, utc(2026, 11, 1, 13), utc(2026, 11, 1, 1)),  # 21:00 EDT
        (LONDON, utc(2026, 3, 29, 7), utc(2026, 3, 28, 21)),  # 21:00 GMT
        (LONDON, utc(2026, 10, 25, 8), utc(2026, 10, 24, 20)),  # 21:00 BST
    ],
)
def test_before_quiet_hours_fallback_on_clock_change_nights(zone, session, quiet_began):
    period = quiet_period_around(session - dt.timedelta(hours=2), zone=zone, quiet=NIGHT)
    assert period is not None
    assert period[0] == quiet_began
    assert period[0].astimezone(zone).time() == dt.time(21)
    sent = reminder_send_time(due_at=session - dt.timedelta(hours=2), session_starts_at=session, zone=zone, quiet=NIGHT)
    assert sent == quiet_began - BEFORE_QUIET_MARGIN


def test_offsets_are_elapsed_hours_across_a_clock_change():
    session = utc(2026, 3, 10, 13)  # Tuesday 09:00 EDT, after the Sunday change
    times = reminder_send_times(
        offsets_hours=[72], session_starts_at=session, now=utc(2026, 3, 1), zone=NEW_YORK, quiet=NIGHT
    )
    assert times == {72 * 60: utc(2026, 3, 7, 13)}  # Saturday 08:00 EST: 72 real hours before
    assert times[72 * 60].astimezone(NEW_YORK).time() == dt.time(8)


def test_offsets_are_elapsed_hours_when_the_session_time_carries_a_local_zone():
    # A booking parsed in the current (non-UTC) zone arrives as a New York
    # wall-clock time; subtracting from it directly would give 71 real hours.
    session = dt.datetime(2026, 3, 10, 9, tzinfo=NEW_YORK)  # 13:00 UTC, after the Sunday change
    times = reminder_send_times(
        offsets_hours=[72, 24], session_starts_at=session, now=utc(2026, 3, 1), zone=NEW_YORK, quiet=NIGHT
    )
    assert times[72 * 60] == utc(2026, 3, 7, 13)
    assert session - times[72 * 60] == dt.timedelta(hours=72)
    assert times[24 * 60] == utc(2026, 3, 9, 13)


def test_offsets_already_passed_are_skipped():
    session = utc(2026, 11, 25, 17)  # 12:00 EST
    now = session - dt.timedelta(hours=30)
    times = reminder_send_times(
        offsets_hours=[72, 24, 2], session_starts_at=session, now=now, zone=NEW_YORK, quiet=NIGHT
    )
    assert sorted(times) == [120, 1440]


def test_two_offsets_pushed_onto_one_instant_keep_only_the_nearer_one():
    session = utc(2026, 11, 25, 14)  # 09:00 EST; 3 h and 2 h before are both in quiet hours
    times = reminder_send_times(
        offsets_hours=[3, 2], session_starts_at=session, now=utc(2026, 11, 20), zone=NEW_YORK, quiet=NIGHT
    )
    assert times == {120: utc(2026, 11, 25, 13)}


def test_notice_waits_for_end_of_quiet_hours_only_when_that_is_before_the_session():
    late_evening = utc(2026, 11, 24, 3)  # 22:00 EST
    assert notice_send_time(
        now=late_evening, session_starts_at=utc(2026, 11, 27, 15), zone=NEW_YORK, quiet=NIGHT
    ) == utc(2026, 11, 24, 13)
    assert notice_send_time(now=late_evening, session_starts_at=utc(2026, 11, 24, 12), zone=NEW_YORK, quiet=NIGHT) == (
        late_evening
    )


def test_quiet_hours_that_do_not_wrap_midnight():
    lunch = QuietHours(start=dt.time(12), end=dt.time(13))
    assert lunch.contains(dt.time(12, 30)) and not lunch.contains(dt.time(13))
    assert not QuietHours(start=dt.time(9), end=dt.time(9)).contains(dt.time(9))


def test_retry_delay_doubles_and_is_capped():
    assert [retry_delay(n).total_seconds() for n in (1, 2, 3, 4)] == [60, 120, 240, 480]
    assert retry_delay(20) == dt.timedelta(hours=1)


def test_sms_preference_without_mobile_falls_back_to_email_with_reason():
    choice = choose_channel(preferred="sms", has_email=True, has_mobile=False, email_enabled=True, sms_enabled=True)
    assert choice.channel == "email"
    assert "no mobile number" in choice.fallback_reason


def test_sms_preference_when_clinic_sends_no_sms_falls_back_to_email():
    choice = choose_channel(preferred="sms", has_email=True, has_mobile=True, email_enabled=True, sms_enabled=False)
    assert choice.channel == "email"
    assert "does not send text messages" in choice.fallback_reason


def test_preferred_channel_is_used_without_fallback_reason():
    assert (
        choose_channel(preferred="sms", has_email=True, has_mobile=True, email_enabled=True, sms_enabled=True).channel
        == "sms"
    )
    email = choose_channel(preferred="email", has_email=True, has_mobile=True, email_enabled=True, sms_enabled=True)
    assert (email.channel, email.fallback_reason) == ("email", "")


def test_unreachable_patient_gets_no_channel():
    assert (
        choose_channel(
            preferred="email", has_email=False, has_mobile=False, email_enabled=True, sms_enabled=True
        ).channel
        is None
    )


@settings(max_examples=300, deadline=None)
@given(
    due=st.datetimes(min_value=dt.datetime(2026, 1, 1), max_value=dt.datetime(2027, 12, 31)),
    lead=st.integers(min_value=1, max_value=72 * 60),
    zone=st.sampled_from([NEW_YORK, LONDON, zoneinfo.ZoneInfo("Australia/Lord_Howe")]),
    start_hour=st.integers(min_value=18, max_value=23),
    end_hour=st.integers(min_value=5, max_value=9),
)
def test_a_reminder_never_lands_in_quiet_hours_nor_after_the_session(due, lead, zone, start_hour, end_hour):
    quiet = QuietHours(start=dt.time(start_hour), end=dt.time(end_hour))
    due_at = due.replace(tzinfo=UTC)
    session = due_at + dt.timedelta(minutes=lead)
    sent = reminder_send_time(due_at=due_at, session_starts_at=session, zone=zone, quiet=quiet)
    assert sent < session
    assert sent <= due_at or quiet_period_around(due_at, zone=zone, quiet=quiet) is not None
    assert not quiet.contains(sent.astimezone(zone).time())


def test_a_quiet_start_the_clocks_skip_keeps_the_message_out_of_the_quiet_hours():
    """Quiet hours 02:30-11:00 on 8 March 2026, when New York skips 02:00-03:00: a reminder that
    must go before them (their end is after the session) goes before the clocks jump, not at
    03:25, which is already inside them."""
    quiet = QuietHours(start=dt.time(2, 30), end=dt.time(11, 0))
    session = dt.datetime(2026, 3, 8, 10, tzinfo=NEW_YORK)
    sent = reminder_send_time(
        due_at=session - dt.timedelta(hours=2), session_starts_at=session, zone=NEW_YORK, quiet=quiet
    )
    assert sent < dt.datetime(2026, 3, 8, 3, tzinfo=NEW_YORK)  # 03:00 EDT, the first quiet minute


def test_a_quiet_end_the_clocks_repeat_is_the_later_of_the_two():
    """Quiet hours 21:00-01:30 on 1 November 2026, when New York lives 01:00-02:00 twice: at 01:10
    of the second pass the quiet hours end at the second 01:30, not at the first (already past)."""
    quiet = QuietHours(start=dt.time(21, 0), end=dt.time(1, 30))
    second_pass = dt.datetime(2026, 11, 1, 6, 10, tzinfo=dt.UTC)  # 01:10 EST
    period = quiet_period_around(second_pass, zone=NEW_YORK, quiet=quiet)
    assert period is not None
    assert period[1] == dt.datetime(2026, 11, 1, 6, 30, tzinfo=dt.UTC)  # 01:30 EST
