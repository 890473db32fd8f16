"""Text rules shared by the models, the pages and the API."""

from __future__ import annotations

from django.core.exceptions import ValidationError

# Line breaks and tabs, as Python's str.splitlines() knows them.
_BREAKS = frozenset("\t\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029")


def single_line(value: str) -> None:
    """A name is one line: it is printed on the board and the day sheet, in text messages,
    calendar entries and the HL7 feed, where a line break starts a new line or segment."""
    if any(char in _BREAKS for char in value):
        raise ValidationError("Give this on one line: no line breaks or tabs.", code="single_line")


def same_address(a: str, b: str) -> bool:
    """Two email addresses are one when they differ in case only (the database's iexact, in Python);
    an empty one is nobody's."""
    return bool(a) and a.strip().casefold() == b.strip().casefold()
