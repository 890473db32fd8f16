"""Search pages that hold their place: a Bundle's next and previous links carry a `_page` cursor,
the sort key of the last (or first) row shown, so a row added to or removed from the search while
a client walks it shifts no later page (nothing is skipped or shown twice, as `_offset` would).

The cursor is sealed with AES-GCM (the `cryptography` package, a key derived from the SECRET_KEY):
the sort key may be a patient's name, and page links end up in access logs and the EHR's own logs,
so it is neither readable nor alterable. It names the query and the user it was written for: one
this server did not write, or one sent with another query or by another user, is a 400. `_offset`
is still read, for a client that counts pages itself."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from functools import reduce
from operator import or_
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.db.models import Q, QuerySet
from django.utils.crypto import salted_hmac

from interop.fhir.outcome import invalid

CURSOR = "_page"
_KEY_SALT = "interop.fhir.paging.cursor-key"
_NONCE_BYTES = 12
# The query's own parameters: the cursor names them, so it cannot be carried to another search.
_NOT_THE_QUERY = frozenset({CURSOR, "_offset", "_count", "_format", "_pretty"})


@dataclass(frozen=True)
class Cursor:
    after: bool  # True: the rows after `key`; False: the rows before it (a previous link)
    key: tuple[Any, ...]


@dataclass
class Page:
    rows: list[Any]
    next_key: tuple[Any, ...] | None  # the last row's key, when rows follow it
    previous_key: tuple[Any, ...] | None  # the first row's key, when rows come before it


def query_digest(params: dict[str, list[str]], user_id: int | None) -> str:
    """The search the cursor belongs to: who asks, and every parameter but the paging ones."""
    shown = sorted((name, value) for name, values in params.items() if name not in _NOT_THE_QUERY for value in values)
    return hashlib.sha256(repr((user_id, shown)).encode()).hexdigest()[:16]


def _cipher() -> AESGCM:
    return AESGCM(salted_hmac(_KEY_SALT, "aes-256-gcm", algorithm="sha256").digest())


def _encode(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return {"t": value.isoformat()}
    if isinstance(value, dt.date):
        return {"d": value.isoformat()}
    return value


def _decode(value: Any) -> Any:
    if isinstance(value, dict) and set(value) == {"t"}:
        return dt.datetime.fromisoformat(value["t"])
    if isinstance(value, dict) and set(value) == {"d"}:
        return dt.date.fromisoformat(value["d"])
    return value


def write_cursor(*, after: bool, key: tuple[Any, ...], params: dict[str, list[str]], user_id: int | None) -> str:
    payload = json.dumps({"a": after, "k": [_encode(v) for v in key], "q": query_digest(params, user_id)})
    nonce = os.urandom(_NONCE_BYTES)
    sealed = nonce + _cipher().encrypt(nonce, payload.encode(), None)
    return base64.urlsafe_b64encode(sealed).decode().rstrip("=")


def read_cursor(raw: str | None, params: dict[str, list[str]], *, width: int, user_id: int | None) -> Cursor | None:
    """The cursor in `_page`, checked: written here, for this query and user, with `width` values."""
    if raw is None:
        return None
    if params.get("_offset"):
        raise invalid("Give _page or _offset, not both: _page is the place a next or previous link holds.")
    try:
        sealed = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4))
        payload = _cipher().decrypt(sealed[:_NONCE_BYTES], sealed[_NONCE_BYTES:], None)
        data = json.loads(payload)
        key = tuple(_decode(v) for v in data["k"])
        after = data["a"]
        digest = data["q"]
    except (InvalidTag, binascii.Error, KeyError, TypeError, ValueError) as exc:
        raise invalid("_page: not a page link of this server's. Start the search again.") from exc
    if digest != query_digest(params, user_id) or len(key) != width or not isinstance(after, bool):
        raise invalid("_page belongs to another search: follow the links of the search you are paging.")
    return Cursor(after, key)


def _beyond(order: tuple[str, ...], key: tuple[Any, ...], *, after: bool) -> Q:
    """The rows past `key` in `order` (every field ascending, the last one unique): (a, b, id) >
    (ka, kb, kid) written out as a > ka, or a = ka and b > kb, or ...; < for `after=False`."""
    compare = "gt" if after else "lt"
    return reduce(
        or_,
        (
            Q(**{name: key[i] for i, name in enumerate(order[:depth])}, **{f"{order[depth]}__{compare}": key[depth]})
            for depth in range(len(order))
        ),
    )


def key_of(row: Any, order: tuple[str, ...]) -> tuple[Any, ...]:
    def read(name: str) -> Any:
        return reduce(getattr, name.split("__"), row)

    return tuple(read(name) for name in order)


def keyset_page(queryset: QuerySet, order: tuple[str, ...], cursor: Cursor | None, count: int) -> Page:
    """`count` rows of `queryset` in `order`, from the start or past the cursor's key, and whether
    rows lie beyond each end of the page (one row read past the page; one `exists` for the side the
    cursor came from)."""
    if cursor is None or cursor.after:
        rows = queryset.order_by(*order)
        if cursor is not None:
            rows = rows.filter(_beyond(order, cursor.key, after=True))
        found = list(rows[: count + 1])
        page = found[:count]
        more_after = len(found) > count
        more_before = (
            cursor is not None
            and bool(page)
            and queryset.filter(_beyond(order, key_of(page[0], order), after=False)).exists()
        )
    else:
        backwards = queryset.filter(_beyond(order, cursor.key, after=False)).order_by(*(f"-{name}" for name in order))
        found = list(backwards[: count + 1])
        page = list(reversed(found[:count]))
        more_before = len(found) > count
        more_after = bool(page) and queryset.filter(_beyond(order, key_of(page[-1], order), after=True)).exists()
    return Page(
        page,
        next_key=key_of(page[-1], order) if page and more_after else None,
        previous_key=key_of(page[0], order) if page and more_before else None,
    )


def offset_page(queryset: QuerySet, order: tuple[str, ...], offset: int, count: int) -> Page | None:
    """The page `_offset` asks for (None when it asks for none: start at the top, keyset_page), with
    cursor links onward from there."""
    if not offset:
        return None
    found = list(queryset.order_by(*order)[offset : offset + count + 1])
    page = found[:count]
    return Page(
        page,
        next_key=key_of(page[-1], order) if page and len(found) > count else None,
        previous_key=key_of(page[0], order) if page else None,
    )


def list_page(
    items: list[Any], key: Callable[[Any], Any], cursor: Cursor | None, count: int, *, offset: int = 0
) -> Page:
    """The same over a list already in `key` order (computed Slots)."""
    if cursor is None:
        start = min(offset, len(items))
        stop = start + count
    elif cursor.after:
        start = next((i for i, item in enumerate(items) if key(item) > cursor.key), len(items))
        stop = start + count
    else:
        stop = next((i for i, item in enumerate(items) if key(item) >= cursor.key), len(items))
        start = max(stop - count, 0)
    page = items[start:stop]
    return Page(
        page,
        next_key=key(page[-1]) if page and stop < len(items) else None,
        previous_key=key(page[0]) if page and start > 0 else None,
    )
