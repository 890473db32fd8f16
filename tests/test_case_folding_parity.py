"""The embedded default's LIKE (clinic.db._like, SQLite's case-insensitive lookups) folds case as
PostgreSQL's UPPER() on both sides does, letter by letter: a name search must find the same charts
on both. It folded "ß" to "ss" (casefold), so "strasse" found "Straße" on SQLite only."""

from __future__ import annotations

import pytest
from django.db import connection

from clinic.db import _like

PAIRS = [
    ("strasse", "Straße"),
    ("STRASSE", "Straße"),
    ("straße", "STRASSE"),
    ("straße", "Straße"),
    ("élodie", "Élodie"),
    ("ÉLODIE", "élodie"),
    ("%lodie", "Élodie"),
    ("o_rien", "O'Brien"),
    ("ǆ", "ǅ"),
    ("ﬁona", "FIONA"),
    ("ΣΊΣΥΦΟΣ", "σίσυφος"),
    ("i̇stanbul", "İSTANBUL"),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("pattern", "value"), PAIRS)
def test_sqlites_like_answers_as_postgresqls_upper_like(pattern, value):
    with connection.cursor() as cursor:
        cursor.execute("SELECT UPPER(%s) LIKE UPPER(%s)", [value, pattern])
        on_postgresql = cursor.fetchone()[0]
    assert _like(pattern, value) == on_postgresql
