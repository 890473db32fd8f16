"""When a message goes out, on plain values (no ORM): offsets, quiet hours in
the patient's own zone, retry backoff, and which channel reaches the patient."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass

from clinic.models import Channel

# "Just before quiet hours begin": far enough from the boundary that a
# dispatcher running every few seconds still sends it outside them.
BEFORE_QUIET_MARGIN = dt.timedelta(minutes=5)
RETRY_BASE = dt.timedelta(minutes=1)
RETRY_CAP = dt.timedelta(hours=1)


@dataclass(frozen=True)
class QuietHours:
    start: dt.time
    end: dt.time

    def contains(self, local_time: dt.time) -> bool:
        if self.start == self.end:
            return False
        if self.start < self.end:
            return self.start <= local_time < self.end
        # Wraps past midnight, e.g. 21:00-08:00.
        return local_time >= self.start or local_time < self.end


def _wall_clock_instant(day: dt.date, at: dt.time, zone: zoneinfo.ZoneInfo, *, latest: bool) -> dt.datetime:
    """`at` on `day` on `zone`'s wall clock, as a UTC instant. A time the clocks skip (spring) or
    repeat (autumn) has two readings (fold 0 and 1, PEP 495); quiet hours take the one that keeps
    them longer: the earlier for their start, the later for their end (`latest`), so no message
    goes out inside them on the nights the clocks change."""
    readings = [dt.datetime.combine(day, at, tzinfo=zone).replace(fold=fold).astimezone(dt.UTC) for fold in (0, 1)]
    return max(readings) if latest else min(readings)


def quiet_period_around(
    instant: dt.datetime, *, zone: zoneinfo.ZoneInfo, quiet: QuietHours
) -> tuple[dt.datetime, dt.datetime] | None:
    """The (start, end) in UTC of the quiet period `instant` falls in, or None."""
    local = instant.astimezone(zone)
    local_time = local.time()
    if not quiet.contains(local_time):
        return None
    if quiet.start < quiet.end:
        start_day = end_day = local.date()
    elif local_time >= quiet.start:
        start_day = local.date()
        end_day = start_day + dt.timedelta(days=1)
    else:
        end_day = local.date()
        start_day = end_day - dt.timedelta(days=1)
    return (
        _wall_clock_instant(start_day, quiet.start, zone, latest=False),
        _wall_clock_instant(end_day, quiet.end, zone, latest=True),
    )


def reminder_send_time(
    *, due_at: dt.datetime, session_starts_at: dt.datetime, zone: zoneinfo.ZoneInfo, quiet: QuietHours
) -> dt.datetime:
    """Outside quiet hours: at the end of the quiet period, unless that is at or
    after the session start; then just before the quiet period began."""
    period = quiet_period_around(due_at, zone=zone, quiet=quiet)
    if period is None:
        return due_at
    quiet_start, quiet_end = period
    if quiet_end < session_starts_at:
        return quiet_end
    return quiet_start - BEFORE_QUIET_MARGIN


def notice_send_time(
    *, now: dt.datetime, session_starts_at: dt.datetime, zone: zoneinfo.ZoneInfo, quiet: QuietHours
) -> dt.datetime:
    """A booking, change or cancellation notice waits for the end of quiet hours
    only if it still arrives before the session; otherwise the news is worth
    the late message."""
    period = quiet_period_around(now, zone=zone, quiet=quiet)
    if period is None or period[1] >= session_starts_at:
        return now
    return period[1]


def reminder_send_times(
    *,
    offsets_hours: list[int],
    session_starts_at: dt.datetime,
    now: dt.datetime,
    zone: zoneinfo.ZoneInfo,
    quiet: QuietHours,
) -> dict[int, dt.datetime]:
    """{offset in minutes: send time} for the offsets still ahead of `now`.

    Offsets are elapsed hours, so across a clock change "24 h before" is 24 real
    hours, not the same wall-clock time the day before. Two offsets pushed onto
    the same instant by quiet hours keep only the one nearer the session."""
    # Python subtracts wall-clock time within one zone: a start carrying
    # America/New_York minus 72 h across a clock change is 71 or 73 real hours.
    # In UTC the two agree.
    session_starts_at = session_starts_at.astimezone(dt.UTC)
    by_instant: dict[dt.datetime, int] = {}
    for hours in sorted(set(offsets_hours), reverse=True):
        send_at = reminder_send_time(
            due_at=session_starts_at - dt.timedelta(hours=hours),
            session_starts_at=session_starts_at,
            zone=zone,
            quiet=quiet,
        )
        if now < send_at < session_starts_at:
            by_instant[send_at] = hours * 60
    return {minutes: instant for instant, minutes in by_instant.items()}


def retry_delay(attempts: int) -> dt.timedelta:
    """Exponential backoff after the `attempts`-th failed attempt: 1, 2, 4 … minutes, capped at an hour."""
    return min(RETRY_BASE * (2 ** max(attempts - 1, 0)), RETRY_CAP)


@dataclass(frozen=True)
class ChannelChoice:
    channel: str | None
    fallback_reason: str = ""


def choose_channel(
    *, preferred: str, has_email: bool, has_mobile: bool, email_enabled: bool, sms_enabled: bool
) -> ChannelChoice:
    """The patient's preferred channel when the clinic sends on it and the patient
    can be reached there; otherwise the other one, saying why."""
    if preferred == Channel.SMS:
        if sms_enabled and has_mobile:
            return ChannelChoice(Channel.SMS)
        reason = "no mobile number on file" if sms_enabled else "the clinic does not send text messages"
        if email_enabled and has_email:
            return ChannelChoice(Channel.EMAIL, f"text message preferred, but {reason}")
        return ChannelChoice(None, f"text message preferred, but {reason}, and no email fallback")
    if email_enabled and has_email:
        return ChannelChoice(Channel.EMAIL)
    reason = "no email address on file" if email_enabled else "the clinic does not send email"
    if sms_enabled and has_mobile:
        return ChannelChoice(Channel.SMS, f"email preferred, but {reason}")
    return ChannelChoice(None, f"email preferred, but {reason}, and no text-message fallback")
