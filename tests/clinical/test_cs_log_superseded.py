"""The controlled-substance log marks a line a later line corrects as superseded (page and CSV),
in one query however many lines are corrected; and a reversed day range is refused."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from decimal import Decimal

import pytest
from django.db import connection
from django.http import HttpRequest
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from clinical import selectors
from clinical import services as clinical
from clinical.models import ControlledSubstanceEntry
from tests.clinical.conftest import SESSION_START
from tests.clinical_helpers import record_administration
from tests.factories import PASSWORD
from tests.sqlite_shell import run_on_sqlite

pytestmark = pytest.mark.django_db
CORRECTED_AT = SESSION_START + dt.timedelta(hours=2)


def _corrected_twice(ward) -> list[ControlledSubstanceEntry]:
    """#1 35 mg, corrected by #2 (40 mg), itself corrected by #3 (lot misread): only #3 stands."""
    first = record_administration(ward.session, ward.nurse.user).log_entries.get()
    second = clinical.controlled_substance_correct(
        entry=first,
        weight_kg=Decimal("80"),
        total_mg=Decimal("40"),
        reason="Weight misread",
        actor=ward.prescriber.user,
        now=CORRECTED_AT,
    )
    third = clinical.controlled_substance_correct(
        entry=second, lot_number="LOT-TEST-2", reason="Lot misread", actor=ward.prescriber.user, now=CORRECTED_AT
    )
    return [first, second, third]


def _row(page: str, entry: ControlledSubstanceEntry) -> str:
    found = re.search(rf'<tr[^>]*data-testid="cs-entry"[^>]*>\s*<td>{entry.pk}</td>.*?</tr>', page, re.S)
    assert found, f"no row for entry #{entry.pk}"
    return found.group(0)


def test_a_corrected_line_is_shown_as_superseded_by_the_line_that_corrects_it(client, ward):
    first, second, third = _corrected_twice(ward)
    assert client.login(request=HttpRequest(), username=ward.nurse.user.username, password=PASSWORD)
    page = client.get(reverse("clinical:cs-log")).content.decode()
    for old, new in ((first, second), (second, third)):
        row = _row(page, old)
        assert f'<span data-testid="cs-corrected-by">corrected by #{new.pk}</span>' in row, row
        assert "cs-superseded" in row and "<s>" in row, f"#{old.pk} is not shown struck through: {row}"
    standing = _row(page, third)
    assert "corrected by" not in standing and "cs-superseded" not in standing and "<s>" not in standing


def test_the_csv_names_the_line_that_corrects_each_superseded_line(client, ward):
    first, second, third = _corrected_twice(ward)
    assert client.login(request=HttpRequest(), username=ward.admin.user.username, password=PASSWORD)
    response = client.get(reverse("clinical:cs-log-csv"))
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert [(r["entry"], r["corrects"], r["corrected_by"]) for r in rows] == [
        (str(first.pk), "", str(second.pk)),
        (str(second.pk), str(first.pk), str(third.pk)),
        (str(third.pk), str(second.pk), ""),
    ]


def test_the_log_reads_which_line_corrects_each_in_one_query(ward, django_assert_num_queries):
    first, second, third = _corrected_twice(ward)
    with django_assert_num_queries(1):
        lines = [(e.pk, e.corrected_by_id) for e in selectors.controlled_substance_log(site=ward.clinic.site)]
    assert lines == [(first.pk, second.pk), (second.pk, third.pk), (third.pk, None)]


def test_the_log_page_asks_as_many_queries_for_corrected_lines_as_for_one(client, ward):
    """Not one query per row: the page of three lines, two corrected, asks what the page of one asks."""
    first = record_administration(ward.session, ward.nurse.user).log_entries.get()
    assert client.login(request=HttpRequest(), username=ward.nurse.user.username, password=PASSWORD)
    client.get(reverse("clinical:cs-log"))  # the session and the staff row read once, as every request does
    with CaptureQueriesContext(connection) as one_line:
        assert client.get(reverse("clinical:cs-log")).status_code == 200
    second = clinical.controlled_substance_correct(
        entry=first, lot_number="LOT-TEST-2", reason="Lot misread", actor=ward.prescriber.user, now=CORRECTED_AT
    )
    clinical.controlled_substance_correct(
        entry=second, lot_number="LOT-TEST-3", reason="Lot misread again", actor=ward.prescriber.user, now=CORRECTED_AT
    )
    with CaptureQueriesContext(connection) as three_lines:
        page = client.get(reverse("clinical:cs-log"))
    assert page.content.decode().count('data-testid="cs-corrected-by"') == 2
    assert len(three_lines) == len(one_line), [q["sql"] for q in three_lines.captured_queries]


def test_a_day_range_that_ends_before_it_begins_is_refused_on_the_page_and_the_csv(client, ward):
    record_administration(ward.session, ward.nurse.user)
    assert client.login(request=HttpRequest(), username=ward.admin.user.username, password=PASSWORD)
    reversed_days = {"date_from": "2026-12-07", "date_to": "2026-12-01"}
    page = client.get(reverse("clinical:cs-log"), reversed_days)
    body = page.content.decode()
    assert page.status_code == 400, body[:300]
    assert "From (7 Dec 2026) is after To (1 Dec 2026)" in body and "No entries for these days" not in body
    exported = client.get(reverse("clinical:cs-log-csv"), reversed_days)
    assert exported.status_code == 400
    assert "From (7 Dec 2026) is after To (1 Dec 2026)" in exported.content.decode()
    same_day = client.get(reverse("clinical:cs-log"), {"date_from": "2026-03-02", "date_to": "2026-03-02"})
    assert same_day.status_code == 200 and 'data-testid="cs-entry"' in same_day.content.decode()


@pytest.mark.parametrize("path", ["controlled-substance-log/", "controlled-substance-log/export/"])
def test_the_api_refuses_a_reversed_day_range_as_the_page_does(ward, path):
    """An auditor's export with From after To answered 200 and an empty register ("nothing given")."""
    record_administration(ward.session, ward.nurse.user)
    api = ward.client("clinic_admin")
    refused = api.get(f"/api/v1/clinical/{path}", {"date_from": "2026-03-03", "date_to": "2026-03-02"})
    assert refused.status_code == 400, refused.content[:300]
    assert "From (3 Mar 2026) is after To (2 Mar 2026)" in refused.json()["error"]["fields"]["date_from"][0]
    same_day = api.get(f"/api/v1/clinical/{path}", {"date_from": "2026-03-02", "date_to": "2026-03-02"})
    assert same_day.status_code == 200 and b"LOT-TEST-1" in same_day.content


def test_the_log_with_its_corrected_by_reads_on_the_embedded_sqlite(tmp_path, tmp_path_factory):
    """The embedded default (SQLite) runs the same query, the line that corrects each included."""
    code = """
import datetime as dt, json
from clinical import selectors
entries = selectors.controlled_substance_log(date_from=dt.date(2026, 3, 1), date_to=dt.date(2026, 3, 2))
print("RESULT " + json.dumps({"rows": [e.corrected_by_id for e in entries], "csv": selectors.controlled_substance_csv(entries, role="nurse")}))
"""
    result = run_on_sqlite(tmp_path, tmp_path_factory, code)
    assert result["rows"] == [] and "corrects,corrected_by," in result["csv"]
