"""Search pages that hold their place: a Bundle's next and previous links carry a `_page` cursor,
the sort key of the last (or first) row shown, so a row added to or removed from the search while
a client walks it shifts no later page (nothing is skipped or shown twice, as `_offset` would).

The cursor is sealed with AES-GCM (the `cryptography` package, a key derived from the SECRET_KEY; one
sealed under a key retired by a rotation, SECRET_KEY_FALLBACKS, is still opened):
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
from django.conf import settings
from django.db.models import Q, QuerySet
from django.utils.crypto import salted_hmac

from interop.fhir.outcome import invalid

CURSOR = "_page"
_KEY_SALT = "interop.fhir.paging.cursor-key"
_NONCE_BYTES = 12
# The sealed payload is padded to a multiple of this, so that its length says nothing of the key.
_PAD_BYTES = 512
# The query's own parameters: the cursor names them, so it cannot be carried to another search.
_NOT_THE_QUERY = frozenset({CURSOR, "_offset", "_count", "_format", "_pretty"})


@dataclass(frozen=True)
class Cursor:
    """A place in a search: the rows after `key` (`after`), or before it; `inclusive` takes the row
    at `key` too. No key: from the end (`after=False`), the last rows."""

    after: bool
    key: tuple[Any, ...] | None
    inclusive: bool = False


@dataclass
class Page:
    rows: list[Any]
    next: Cursor | None  # where the next link goes, when rows follow this page
    previous: Cursor | None  # where the previous link goes, when rows come before it


def query_digest(params: dict[str, list[str]], user_id: int | None, search: str) -> str:
    """The search the cursor belongs to: who asks, the resource type searched, and every parameter
    but the paging ones."""
    shown = sorted((name, value) for name, values in params.items() if name not in _NOT_THE_QUERY for value in values)
    return hashlib.sha256(repr((user_id, search, shown)).encode()).hexdigest()[:16]


def _cipher(secret: str | None = None) -> AESGCM:
    return AESGCM(salted_hmac(_KEY_SALT, "aes-256-gcm", secret=secret, algorithm="sha256").digest())


def _open(sealed: bytes) -> bytes:
    """The sealed cursor opened with the SECRET_KEY's key, else with a key retired by a rotation
    (SECRET_KEY_FALLBACKS): a page link given out before the rotation still works."""
    for secret in (settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS):
        try:
            return _cipher(secret).decrypt(sealed[:_NONCE_BYTES], sealed[_NONCE_BYTES:], None)
        except InvalidTag:
            continue
    raise InvalidTag


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


def write_cursor(cursor: Cursor, *, params: dict[str, list[str]], user_id: int | None, search: str) -> str:
    data = {
        "a": cursor.after,
        "i": cursor.inclusive,
        "k": None if cursor.key is None else [_encode(v) for v in cursor.key],
        "q": query_digest(params, user_id, search),
    }
    payload = json.dumps(data, ensure_ascii=False).encode()
    # Padded to a whole number of blocks: the sealed length would otherwise tell a name's length.
    payload += b" " * (-len(payload) % _PAD_BYTES)
    nonce = os.urandom(_NONCE_BYTES)
    sealed = nonce + _cipher().encrypt(nonce, payload, None)
    return base64.urlsafe_b64encode(sealed).decode().rstrip("=")


def read_cursor(
    raw: str | None, params: dict[str, list[str]], *, width: int, user_id: int | None, search: str
) -> Cursor | None:
    """The cursor in `_page`, checked: written here, for this search and user, with `width` values."""
    if raw is None:
        return None
    if params.get("_offset"):
        raise invalid("Give _page or _offset, not both: _page is the place a next or previous link holds.")
    try:
        sealed = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4))
        data = json.loads(_open(sealed))
        key = None if data["k"] is None else tuple(_decode(v) for v in data["k"])
        after, inclusive, digest = data["a"], data["i"], data["q"]
    except (InvalidTag, binascii.Error, KeyError, TypeError, ValueError) as exc:
        raise invalid("_page: not a page link of this server's. Start the search again.") from exc
    # The digest first: a key is never used, nor named in an error, for a search it was not written for.
    if digest != query_digest(params, user_id, search):
        raise invalid("_page belongs to another search: follow the links of the search you are paging.")
    if (key is not None and len(key) != width) or not isinstance(after, bool) or not isinstance(inclusive, bool):
        raise invalid("_page: not a page link of this server's. Start the search again.")
    return Cursor(after, key, inclusive)


def _opposite(cursor: Cursor) -> Cursor:
    """The rows on the other side of `cursor`'s place (a page reached through it is empty)."""
    return Cursor(not cursor.after, cursor.key, not cursor.inclusive)


class _Rows:
    """Rows in a fixed order, read from the side of a place: a queryset (keyset SQL) or a list."""

    def key(self, row: Any) -> tuple[Any, ...]:
        raise NotImplementedError

    def take(self, cursor: Cursor | None, limit: int, *, offset: int = 0) -> list[Any]:
        """At most `limit` rows from `cursor`'s place outwards (nearest first), or from `offset`."""
        raise NotImplementedError

    def any(self, cursor: Cursor) -> bool:
        raise NotImplementedError


def _page(rows: _Rows, cursor: Cursor | None, count: int, offset: int = 0) -> Page:
    """`count` rows from the top (or `offset`), or from `cursor`'s place, with a link onward when rows
    lie beyond the page, and a link back when rows lie on the side it was reached from (past an
    empty page too: the place it was asked from)."""
    if count == 0:  # the total alone
        return Page([], None, None)
    forward = cursor is None or cursor.after
    found = rows.take(cursor, count + 1, offset=offset)
    page = found[:count] if forward else list(reversed(found[:count]))
    onward = None
    if len(found) > count:
        onward = Cursor(True, rows.key(page[-1])) if forward else Cursor(False, rows.key(page[0]))
    back: Cursor | None = None
    if page:
        back = Cursor(False, rows.key(page[0])) if forward else Cursor(True, rows.key(page[-1]))
    elif cursor is not None:
        back = _opposite(cursor) if cursor.key is not None else None
    elif offset:
        back = Cursor(False, None)  # past the end: the last rows
    from_the_top = cursor is None and not offset
    if back is not None and (from_the_top or not rows.any(back)):
        back = None
    next_, previous = (onward, back) if forward else (back, onward)
    return Page(page, next=next_, previous=previous)


def _beyond(order: tuple[str, ...], cursor: Cursor) -> Q:
    """The rows on `cursor`'s side of its key in `order` (every field ascending, the last unique):
    (a, b, id) > (ka, kb, kid) written out as a > ka, or a = ka and b > kb, or ...; < before it; the
    row at the key too when inclusive."""
    if cursor.key is None:
        return Q()
    key = cursor.key
    compare = "gt" if cursor.after else "lt"
    terms = [
        Q(**{name: key[i] for i, name in enumerate(order[:depth])}, **{f"{order[depth]}__{compare}": key[depth]})
        for depth in range(len(order))
    ]
    if cursor.inclusive:
        terms.append(Q(**{name: key[i] for i, name in enumerate(order)}))
    return reduce(or_, terms)


class _QueryRows(_Rows):
    def __init__(self, queryset: QuerySet, order: tuple[str, ...]) -> None:
        self.queryset, self.order = queryset, order

    def key(self, row: Any) -> tuple[Any, ...]:
        return tuple(reduce(getattr, name.split("__"), row) for name in self.order)

    def take(self, cursor: Cursor | None, limit: int, *, offset: int = 0) -> list[Any]:
        if cursor is None:
            return list(self.queryset.order_by(*self.order)[offset : offset + limit])
        order = self.order if cursor.after else tuple(f"-{name}" for name in self.order)
        return list(self.queryset.filter(_beyond(self.order, cursor)).order_by(*order)[:limit])

    def any(self, cursor: Cursor) -> bool:
        return self.queryset.filter(_beyond(self.order, cursor)).exists()


class _ListRows(_Rows):
    def __init__(self, items: list[Any], key: Callable[[Any], Any]) -> None:
        self.items, self._key = items, key

    def key(self, row: Any) -> tuple[Any, ...]:
        return self._key(row)

    def _side(self, cursor: Cursor) -> list[Any]:
        if cursor.key is None:
            return self.items if cursor.after else list(reversed(self.items))
        at = cursor.key
        if cursor.after:
            return [item for item in self.items if self.key(item) > at or (cursor.inclusive and self.key(item) == at)]
        before = [item for item in self.items if self.key(item) < at or (cursor.inclusive and self.key(item) == at)]
        return list(reversed(before))

    def take(self, cursor: Cursor | None, limit: int, *, offset: int = 0) -> list[Any]:
        return self.items[offset : offset + limit] if cursor is None else self._side(cursor)[:limit]

    def any(self, cursor: Cursor) -> bool:
        return bool(self._side(cursor))


def keyset_page(queryset: QuerySet, order: tuple[str, ...], cursor: Cursor | None, count: int, offset: int = 0) -> Page:
    """A page of `queryset` in `order` (one row read past it, and one `exists` for the side it was
    reached from)."""
    return _page(_QueryRows(queryset, order), cursor, count, offset)


def list_page(
    items: list[Any], key: Callable[[Any], Any], cursor: Cursor | None, count: int, *, offset: int = 0
) -> Page:
    """The same over a list already in `key` order (computed Slots)."""
    return _page(_ListRows(items, key), cursor, count, offset)
