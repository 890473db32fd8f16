"""Signed, expiring, single-purpose links to confirm or cancel one session.

A token names the appointment, the session start it was issued for and the
appointment's calendar sequence then (raised on every move and cancel), so a
link from before a move stops working, even once the session is moved back to
its old time; the salt differs per purpose, so a confirm link can never cancel.
No database row is needed to check one."""

from __future__ import annotations

import datetime as dt

from django.core import signing

from scheduling.models import UPCOMING_STATUSES, Appointment

CONFIRM = "confirm"
CANCEL = "cancel"
PURPOSES = (CONFIRM, CANCEL)
MAX_AGE = dt.timedelta(days=14)


class InvalidLink(Exception):
    pass


def _salt(purpose: str) -> str:
    if purpose not in PURPOSES:
        raise ValueError(f"Unknown link purpose {purpose!r}.")
    return f"scheduling.reminders.link.{purpose}"


def make_token(*, appointment: Appointment, purpose: str) -> str:
    payload = {"a": appointment.pk, "s": int(appointment.starts_at.timestamp()), "q": appointment.calendar_sequence}
    return signing.dumps(payload, salt=_salt(purpose), compress=True)


def appointment_from_token(*, token: str, purpose: str, now: dt.datetime) -> Appointment:
    """The appointment a valid, current link is about, or InvalidLink saying why."""
    try:
        payload = signing.loads(token, salt=_salt(purpose), max_age=MAX_AGE)
    except signing.SignatureExpired:
        raise InvalidLink("This link has expired.") from None
    except signing.BadSignature:
        raise InvalidLink("This link is not valid.") from None
    appointment = (
        Appointment.objects.select_related("patient__home_site", "site__reminder_policy", "plan__protocol")
        .filter(pk=payload.get("a"))
        .first()
    )
    if appointment is None:
        raise InvalidLink("This link is not valid.")
    if int(appointment.starts_at.timestamp()) != payload.get("s") or _moved_since(appointment, payload.get("q")):
        raise InvalidLink("This session has been moved since the message was sent; use the link in the newest message.")
    if now >= appointment.starts_at:
        raise InvalidLink("This session has already started.")
    return appointment


def _moved_since(appointment: Appointment, sequence: object) -> bool:
    """Whether the session was moved after the link was made. A cancel raises the sequence too, but
    a cancelled session's link only says so (the retried cancel, a confirm too late), so only an
    upcoming session's is compared. A link made before links carried the sequence ("q") is checked
    by its start alone."""
    return (
        sequence is not None and appointment.status in UPCOMING_STATUSES and sequence != appointment.calendar_sequence
    )
