"""Idempotency-Key on booking writes, for every door that takes one (/api/v1/ and the FHIR
server's $hold and $book): the first successful answer is kept per (user, key) and a retry of
the same request gets that answer back instead of booking again; the same key with another
request is refused. The doors shape their own answers; this keeps and finds them."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from django.db import connection, transaction
from django.utils import timezone

from scheduling.errors import IdempotencyKeyReused
from scheduling.models import IdempotencyRecord

MAX_KEY_LENGTH = 200
KEY_RULE = f"Use 1 to {MAX_KEY_LENGTH} printable ASCII characters."


def key_is_valid(key: str) -> bool:
    """An Idempotency-Key is stored and shown (the admin): 1 to MAX_KEY_LENGTH printable ASCII
    characters, no control character."""
    return 0 < len(key) <= MAX_KEY_LENGTH and all(" " <= char <= "~" for char in key)


Result = TypeVar("Result")


@dataclass(frozen=True)
class KeptAnswer:
    """What a retry is answered with: the first answer's status, its body (encoded once, by the
    door) and the headers a replay repeats (a created resource's Location, say)."""

    status: int
    body_json: str
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Replay:
    """The kept answer of an earlier request with the same key and fingerprint."""

    status: int
    body: Any  # the JSON value kept
    headers: dict[str, str] = field(default_factory=dict)


def request_fingerprint(method: str, path: str, body: bytes) -> str:
    """What makes two requests the same request: method, path and body."""
    return hashlib.sha256(f"{method} {path}\n".encode() + body).hexdigest()


def run_once(
    *,
    user_id: int,
    key: str,
    fingerprint: str,
    perform: Callable[[], Result],
    keep: Callable[[Result], KeptAnswer | None],
) -> Result | Replay:
    """Run `perform` at most once per (user, key), or answer the kept Replay of the first run.

    The key's row is claimed first (inserted, not yet committed), so a retry that arrives
    while the first attempt is still running waits on the unique index for it and then
    replays its answer instead of racing it into a booking conflict; if the first attempt
    rolled back, the retry claims the key and tries again. `keep` says what to keep of the
    result, or None for an answer not worth keeping (a refusal changed nothing: its claim is
    dropped). The same key with another fingerprint raises IdempotencyKeyReused."""
    # No savepoint: an error anywhere below rolls the caller's whole transaction back (the claim too).
    with transaction.atomic(savepoint=False):
        claimed = _claim(user_id, key, fingerprint)
        if claimed is None:
            record = IdempotencyRecord.objects.get(user_id=user_id, key=key)
            if record.request_fingerprint != fingerprint:
                raise IdempotencyKeyReused(
                    "This Idempotency-Key was already used with a different request; use a new key for a new booking."
                )
            return Replay(record.response_status, record.response_body, dict(record.response_headers))
        result = perform()
        answer = keep(result)
        if answer is None:
            IdempotencyRecord.objects.filter(pk=claimed).delete()
        else:
            _fill(claimed, answer)
        return result


def _claim(user_id: int, key: str, fingerprint: str) -> int | None:
    """Insert the key's row, or return None if another request holds it (after waiting for that
    request's transaction to end). The placeholder answer never commits: it is replaced or
    deleted in the same transaction."""
    table = IdempotencyRecord._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (user_id, key, request_fingerprint, response_status, response_body,"  # noqa: S608 - model table name
            " response_headers, created_at) VALUES (%s, %s, %s, 0, %s, %s, %s)"
            " ON CONFLICT (user_id, key) DO NOTHING RETURNING id",
            [user_id, key, fingerprint, "{}", "{}", connection.ops.adapt_datetimefield_value(timezone.now())],
        )
        row = cursor.fetchone()
    return int(row[0]) if row else None


def _fill(record_id: int, answer: KeptAnswer) -> None:
    """Keep the answer on the claimed row: the body as encoded once, in one plain UPDATE."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {IdempotencyRecord._meta.db_table} SET response_status = %s, response_body = %s,"  # noqa: S608 - model table name
            " response_headers = %s WHERE id = %s",
            [answer.status, answer.body_json, json.dumps(dict(answer.headers)), record_id],
        )
