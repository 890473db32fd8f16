"""$find's `reason`, kept with the proposals it was given for, and no longer than they last.

A proposal is otherwise stateless (interop/fhir/ids.py), but its id has no room for a reason: FHIR
ids hold at most 64 characters. Each distinct reason is kept once (FindReason) and the signed id
names its row and carries a check of the row's digest, so $hold or $book by appointment-reference
keeps the reason exactly as a proposal sent back whole keeps its reasonCode, and an id never names
another reason (after a restore that reuses row numbers, or from another installation).

A reason's free text may name a patient, so a row is kept only while a proposal id naming it can
still be used: ids expire (ids.max_age()), a $find that gives the reason again refreshes the row's
`last_used_at`, and `find_reasons_purge` (beat, hourly) deletes the rows no id in date names."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass

from fhir.resources.R4B.codeableconcept import CodeableConcept

from interop.fhir import ids
from interop.fhir.models import FindReason
from interop.fhir.outcome import FHIRError

# Base-36 characters of a row's digest a proposal id carries: about 26 bits, so an id naming a row
# that now keeps another reason is refused but for a chance in 60 million.
CHECK_LENGTH = 5


@dataclass(frozen=True)
class KeptReason:
    """What a proposal id says of its reason: the FindReason's id (0: none) and its check."""

    id: int
    check: str


NO_REASON = KeptReason(0, "")


def check_of(digest: str) -> str:
    """The first CHECK_LENGTH base-36 characters of a FindReason's digest (hex SHA-256)."""
    number = int(digest, 16) % 36**CHECK_LENGTH
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    for _ in range(CHECK_LENGTH):
        number, rest = divmod(number, 36)
        out = digits[rest] + out
    return out


def remember(concepts: list[CodeableConcept], *, asked_by: int | None, now: dt.datetime) -> KeptReason:
    """The row that keeps `concepts` for the user `asked_by` (NO_REASON for no reason), used at
    `now`: one row per distinct reason and user. The row's id shows in the proposal ids, so a row
    shared by every client would let one client learn whether another ever sent the same text (an
    old id, not a new one); kept per user, a client sees only its own reasons again."""
    if not concepts:
        return NO_REASON
    data = [json.loads(concept.model_dump_json()) for concept in concepts]
    canonical = json.dumps({"asked_by": asked_by, "reason": data}, sort_keys=True, separators=(",", ":"))
    digest = hashlib.sha256(canonical.encode()).hexdigest()
    # One statement (INSERT … ON CONFLICT (digest) DO UPDATE SET last_used_at): two searches giving
    # the same new reason at once share the row, a search reusing one moves its purge back, and a
    # purge that deleted the row first only makes this insert a new one.
    row = FindReason(digest=digest, concepts=data, last_used_at=now)
    FindReason.objects.bulk_create(
        [row], update_conflicts=True, unique_fields=["digest"], update_fields=["last_used_at"]
    )
    if row.pk is None:  # a database that cannot return the row from the upsert
        row = FindReason.objects.get(digest=digest)
    return KeptReason(row.pk, check_of(digest))


def recall(proposals: Iterable[ids.Proposed]) -> dict[int, list[CodeableConcept]]:
    """The reasons the proposals were found with, by FindReason id (0: none), in one query. A
    proposal naming a reason that is no longer kept, or a row that now keeps another reason, is
    refused: booking it without its reason, or with another one, would change the record silently."""
    named = {(p.reason_id, p.reason_check) for p in proposals if p.reason_id}
    wanted = {pk for pk, _ in named}
    rows = FindReason.objects.in_bulk(wanted) if wanted else {}
    if wanted - set(rows):
        raise FHIRError(
            404,
            "not-found",
            "The reason this proposal was found with is no longer kept; $find again, or give reason.",
            reason="find_reason_gone",
        )
    if any(check_of(rows[pk].digest) != check for pk, check in named):
        raise FHIRError(
            404,
            "not-found",
            "The reason this proposal was found with is not the one this server keeps under its number "
            "(the proposal comes from another installation or from before a restore); $find again, or "
            "give reason.",
            reason="find_reason_mismatch",
        )
    found: dict[int, list[CodeableConcept]] = {0: []}
    for pk, row in rows.items():
        found[pk] = [CodeableConcept.model_validate(concept) for concept in row.concepts]
    return found


def find_reasons_purge(*, now: dt.datetime) -> int:
    """Delete the reasons no proposal id still in date can name: those not given to $find for
    longer than ids.max_age(). Each id was issued no later than its row's last use, so an id naming
    a deleted row has expired and is refused as such. Returns how many rows went."""
    deleted, _ = FindReason.objects.filter(last_used_at__lt=now - ids.max_age()).delete()
    return deleted
