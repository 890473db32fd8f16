"""CSV for spreadsheets, without formula injection.

A spreadsheet opening a CSV runs any cell that starts with =, +, - or @ (and, in some,
one that starts with a tab or carriage return) as a formula: a lot number typed as
=HYPERLINK(...) would send the sheet's data elsewhere when clicked. Every CSV export
goes through `csv_text`, which prefixes such cells with an apostrophe so they are shown
as the text that was typed (OWASP's advice for CSV injection)."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# A plain signed number (-12.5) cannot run anything, and keeping it a number keeps sums working.
_PLAIN_NUMBER = re.compile(r"[+-]?\d+(\.\d+)?")


def csv_safe_cell(value: Any) -> str:
    text = "" if value is None else str(value)
    if text.startswith(FORMULA_STARTS) and not _PLAIN_NUMBER.fullmatch(text):
        return "'" + text
    return text


def csv_text(header: Iterable[Any], rows: Iterable[Iterable[Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([csv_safe_cell(cell) for cell in header])
    for row in rows:
        writer.writerow([csv_safe_cell(cell) for cell in row])
    return out.getvalue()
