"""Ids of things we compute but never store: proposed Appointments ($find) and Slots.

A proposal is stateless: its id carries what $hold and $book need (site, chair, nurse,
start, length, protocol, patient) in base 36, signed with an HMAC of the SECRET_KEY, so it
fits FHIR's id rule ([A-Za-z0-9-.]{1,64}) and cannot be forged or altered. Whether the time
is still free is checked again when it is held or booked.

A proposed Appointment's id also carries the hour $find issued it: it is good for
settings.FHIR_PROPOSAL_MAX_AGE_HOURS from the start of that hour, and no longer (`expired`), so
the reason it names need not be kept for ever (interop/fhir/find_reasons.py purges it). The
reason itself does not fit: a proposal found with one names the row that keeps it and the first
characters of that row's digest, so an id can only ever name the reason it was found with, even
after a database restore that reuses the row's number or in another installation with the same
SECRET_KEY. Slot ids (kind "s") carry neither.

The length budget (tests/interop/test_fhir_proposal_ids.py): the kind, 10 dots, a dash and a
16-character signature (28), the 5-character check and the 4-character hour (to 2211) leave 27 of
FHIR's 64 for the other numbers: site, length and protocol below 36² (1,296), chair and nurse below
36³ (46,656), start (5 until 2134), patient and reason below 36⁵ (60 million) fit."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import re
from dataclasses import dataclass

from django.conf import settings

_EPOCH = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
_HOUR = dt.timedelta(hours=1)
# The longest id FHIR allows.
MAX_LENGTH = 64


@dataclass(frozen=True)
class Proposed:
    kind: str  # "p" a proposed appointment, "s" a slot
    site_id: int
    chair_id: int
    nurse_id: int
    start: dt.datetime
    minutes: int
    protocol_id: int
    patient_id: int  # 0: no patient named
    reason_id: int = 0  # the FindReason $find was given (interop/fhir/find_reasons.py); 0: none
    reason_check: str = ""  # base-36 characters of that FindReason's digest: the id names its content too
    issued_at: dt.datetime | None = None  # "p": when $find proposed it (to the hour, rounded down)

    @property
    def end(self) -> dt.datetime:
        return self.start + dt.timedelta(minutes=self.minutes)


def max_age() -> dt.timedelta:
    """How long a proposed Appointment's id is good for, from the hour it was issued in."""
    return dt.timedelta(hours=settings.FHIR_PROPOSAL_MAX_AGE_HOURS)


def expired(proposed: Proposed, *, now: dt.datetime) -> bool:
    """Whether the proposal is older than max_age(). Slots carry no issue time and no reason."""
    return proposed.issued_at is not None and now - proposed.issued_at > max_age()


def _b36(number: int) -> str:
    if number < 0:
        raise ValueError("negative")
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        number, rest = divmod(number, 36)
        out = digits[rest] + out
        if not number:
            return out


def _signature(payload: str, secret: str | None = None) -> str:
    # "v2": the ids with an issue hour and a reason check. An older id is refused, not read in the
    # new layout (its reason number would be taken for the hour it was issued).
    key = hashlib.sha256(f"interop.fhir.ids.v2:{secret or settings.SECRET_KEY}".encode()).digest()
    digest = hmac.new(key, payload.encode(), hashlib.sha256).digest()[:10]
    return base64.b32encode(digest).decode().lower()


def _signed(payload: str, signature: str) -> bool:
    """Whether `signature` is the payload's under the SECRET_KEY, or under a key retired by a rotation
    (SECRET_KEY_FALLBACKS): an id given out before the rotation is still read while it is good."""
    return any(
        hmac.compare_digest(_signature(payload, secret), signature)
        for secret in (settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS)
    )


def encode(proposed: Proposed) -> str:
    minutes_since = int((proposed.start - _EPOCH).total_seconds() // 60)
    numbers = [
        proposed.site_id,
        proposed.chair_id,
        proposed.nurse_id,
        minutes_since,
        proposed.minutes,
        proposed.protocol_id,
        proposed.patient_id,
    ]
    if proposed.kind == "p":
        if proposed.issued_at is None:
            raise ValueError("A proposed appointment's id carries the time it was issued.")
        numbers.append((proposed.issued_at - _EPOCH) // _HOUR)
    parts = [proposed.kind, *(_b36(n) for n in numbers)]
    if proposed.reason_id:
        if proposed.kind != "p" or not re.fullmatch("[0-9a-z]+", proposed.reason_check):
            raise ValueError("Only a proposed appointment names a reason, with its check.")
        parts += [_b36(proposed.reason_id), proposed.reason_check]
    payload = ".".join(parts)
    return f"{payload}-{_signature(payload)}"


def decode(token: str, *, kind: str) -> Proposed | None:
    """The proposal behind `token`, or None if it is not one of ours (or was altered). Whether it
    has expired is the caller's question (`expired`)."""
    payload, _, signature = token.rpartition("-")
    if not payload or not _signed(payload, signature):
        return None
    parts = payload.split(".")
    # A slot: kind and 7 numbers; a proposal: kind, 7 numbers and the hour, then reason and check.
    if parts[0] != kind or len(parts) not in ((8,) if kind == "s" else (9, 11)):
        return None
    reason_check = parts.pop() if len(parts) == 11 else ""
    try:
        site, chair, nurse, minutes_since, minutes, protocol, patient, *rest = (int(p, 36) for p in parts[1:])
    except ValueError:
        return None
    start = _EPOCH + dt.timedelta(minutes=minutes_since)
    issued_at = _EPOCH + rest[0] * _HOUR if kind == "p" else None
    reason_id = rest[1] if len(rest) > 1 else 0
    return Proposed(kind, site, chair, nurse, start, minutes, protocol, patient, reason_id, reason_check, issued_at)


def is_proposal_id(resource_id: str) -> bool:
    return resource_id.startswith(("p.", "s."))
