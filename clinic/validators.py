"""Text rules shared by the models, the pages and the API."""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError

# Line breaks and tabs, as Python's str.splitlines() knows them.
_BREAKS = frozenset("\t\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029")


def single_line(value: str) -> None:
    """A name is one line: it is printed on the board and the day sheet, in text messages,
    calendar entries and the HL7 feed, where a line break starts a new line or segment."""
    if any(char in _BREAKS for char in value):
        raise ValidationError("Give this on one line: no line breaks or tabs.", code="single_line")


# C0 and C1 control characters and DEL. Anyone may send them in a header, a path or a login
# form, and PostgreSQL refuses a NUL in text: a row that keeps such text as sent (the access log's,
# django-axes' failed attempt) would fail, so they are replaced, visibly, before it is written.
_CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def without_control_characters(text: str) -> str:
    """`text` with each control character replaced by U+FFFD: storable, and still visibly not what was sent."""
    return _CONTROL_CHARACTERS.sub("\ufffd", text)


def upper_by_letter(text: str) -> str:
    """Each character's upper case where that is one character, as PostgreSQL's UPPER() (and so
    Django's case-insensitive lookups) does: "ß" stays "ß", where str.upper and casefold make it
    "SS" and "strasse" would match "Straße"."""
    return "".join(upper if len(upper := char.upper()) == 1 else char for char in text)


def same_address(a: str, b: str) -> bool:
    """Two email addresses are one when they differ in case only, as the database's iexact finds
    them; an empty one is nobody's."""
    return bool(a) and upper_by_letter(a.strip()) == upper_by_letter(b.strip())
