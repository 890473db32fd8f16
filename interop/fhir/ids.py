"""Ids of things we compute but never store: proposed Appointments ($find) and Slots.

A proposal is stateless: its id carries what $hold and $book need (site, chair, nurse,
start, length, protocol, patient) in base 36, signed with an HMAC of the SECRET_KEY, so it
fits FHIR's id rule ([A-Za-z0-9-.]{1,64}) and cannot be forged or altered. Whether the time
is still free is checked again when it is held or booked. The one thing that does not fit is
the reason $find was given: a proposal found with one names the row that keeps it (an eighth
number, left out when there is none, so the ids of proposals without a reason are as before;
interop/fhir/find_reasons.py)."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
from dataclasses import dataclass

from django.conf import settings

_EPOCH = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)


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

    @property
    def end(self) -> dt.datetime:
        return self.start + dt.timedelta(minutes=self.minutes)


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


def _signature(payload: str) -> str:
    key = hashlib.sha256(f"interop.fhir.ids:{settings.SECRET_KEY}".encode()).digest()
    digest = hmac.new(key, payload.encode(), hashlib.sha256).digest()[:10]
    return base64.b32encode(digest).decode().lower()


def encode(proposed: Proposed) -> str:
    minutes_since = int((proposed.start - _EPOCH).total_seconds() // 60)
    numbers = (
        proposed.site_id,
        proposed.chair_id,
        proposed.nurse_id,
        minutes_since,
        proposed.minutes,
        proposed.protocol_id,
        proposed.patient_id,
    ) + ((proposed.reason_id,) if proposed.reason_id else ())
    payload = proposed.kind + "." + ".".join(_b36(n) for n in numbers)
    return f"{payload}-{_signature(payload)}"


def decode(token: str, *, kind: str) -> Proposed | None:
    """The proposal behind `token`, or None if it is not one of ours (or was altered)."""
    payload, _, signature = token.rpartition("-")
    if not payload or not hmac.compare_digest(_signature(payload), signature):
        return None
    parts = payload.split(".")
    if len(parts) not in (8, 9) or parts[0] != kind:
        return None
    try:
        site, chair, nurse, minutes_since, minutes, protocol, patient, *reason = (int(p, 36) for p in parts[1:])
    except ValueError:
        return None
    start = _EPOCH + dt.timedelta(minutes=minutes_since)
    return Proposed(kind, site, chair, nurse, start, minutes, protocol, patient, reason[0] if reason else 0)


def is_proposal_id(resource_id: str) -> bool:
    return resource_id.startswith(("p.", "s."))
