"""$find's `reason`, kept with the proposals it was given for.

A proposal is otherwise stateless (interop/fhir/ids.py), but its id has no room for a reason: FHIR
ids hold at most 64 characters. Each distinct reason is kept once (FindReason) and the signed id
names its row, so $hold or $book by appointment-reference keeps the reason exactly as a proposal
sent back whole keeps its reasonCode."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable

from fhir.resources.R4B.codeableconcept import CodeableConcept

from interop.fhir.models import FindReason
from interop.fhir.outcome import FHIRError


def remember(concepts: list[CodeableConcept], *, asked_by: int | None) -> int:
    """The id of the row that keeps `concepts` for the user `asked_by` (0 for no reason): one row per
    distinct reason and user. The row's id shows in the proposal ids, so a row shared by every
    client would let one client learn whether another ever sent the same text (an old id, not a
    new one); kept per user, a client sees only its own reasons again."""
    if not concepts:
        return 0
    data = [json.loads(concept.model_dump_json()) for concept in concepts]
    canonical = json.dumps({"asked_by": asked_by, "reason": data}, sort_keys=True, separators=(",", ":"))
    digest = hashlib.sha256(canonical.encode()).hexdigest()
    # get_or_create is atomic on its own ($find runs outside a request transaction); two searches
    # giving the same new reason at once meet on the unique digest and share the row.
    row, _ = FindReason.objects.get_or_create(digest=digest, defaults={"concepts": data})
    return row.pk


def recall(reason_ids: Iterable[int]) -> dict[int, list[CodeableConcept]]:
    """The kept reasons by id (0: none), in one query. A signed id naming a reason that is no longer
    kept is refused: booking it without its reason would drop it silently."""
    wanted = {pk for pk in reason_ids if pk}
    rows = dict(FindReason.objects.filter(pk__in=wanted).values_list("pk", "concepts")) if wanted else {}
    missing = wanted - set(rows)
    if missing:
        raise FHIRError(
            404, "not-found", "The reason this proposal was found with is no longer kept; $find again, or give reason."
        )
    found: dict[int, list[CodeableConcept]] = {0: []}
    for pk, concepts in rows.items():
        found[pk] = [CodeableConcept.model_validate(concept) for concept in concepts]
    return found
