"""The controlled-substance register's page and CSV."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from decimal import Decimal

import pytest
from django.http import HttpRequest
from django.urls import reverse

from clinical import services as clinical
from clinical.models import ControlledSubstanceEntry
from tests.clinical.conftest import SESSION_START
from tests.clinical_helpers import record_administration
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db
VITALS_AT = SESSION_START + dt.timedelta(minutes=5)


def _administer(ward):
    return record_administration(ward.session, ward.nurse.user, start=VITALS_AT)


def _listed(page: str) -> list[int]:
    """The entry numbers of the page's rows, top to bottom."""
    return [int(pk) for pk in re.findall(r'data-testid="cs-entry"[^>]*>\s*<td>(\d+)</td>', page)]


def _older_entries(administration, count: int) -> None:
    first = administration.log_entries.get()
    ControlledSubstanceEntry.objects.bulk_create(
        ControlledSubstanceEntry(
            administration=administration,
            appointment=administration.appointment,
            patient=administration.appointment.patient,
            site=administration.appointment.site,
            route="iv",
            total_mg=Decimal("40"),
            lot_number=f"OLD-{n}",
            administered_at=first.administered_at,
            given_by=first.given_by,
            recorded_by=first.recorded_by,
            recorded_at=first.recorded_at + dt.timedelta(minutes=n + 1),
        )
        for n in range(count)
    )


def test_the_log_page_lists_the_newest_entry_first_and_the_csv_keeps_the_registers_order(client, ward):
    """A clinician opening the log looks for what was just given: the page starts with the newest
    line (a correction above the line it corrects). The CSV is the register's export and stays in
    the order it was written, oldest first, as a bound register reads."""
    first = _administer(ward).log_entries.get()
    second = clinical.controlled_substance_correct(
        entry=first, lot_number="LOT-TEST-2", reason="Lot misread", actor=ward.nurse.user, now=VITALS_AT
    )
    third = clinical.controlled_substance_correct(
        entry=second, lot_number="LOT-TEST-3", reason="Lot misread again", actor=ward.nurse.user, now=VITALS_AT
    )
    assert client.login(request=HttpRequest(), username=ward.nurse.user.username, password=PASSWORD)
    page = client.get(reverse("clinical:cs-log")).content.decode()
    assert _listed(page) == [third.pk, second.pk, first.pk]
    assert "newest first" in page
    exported = client.get(reverse("clinical:cs-log-csv")).content.decode()
    assert [int(row["entry"]) for row in csv.DictReader(io.StringIO(exported))] == [first.pk, second.pk, third.pk]


def test_a_cut_log_page_opens_with_the_newest_entry_and_leaves_out_the_oldest(client, ward):
    """More entries than a page holds: the page is the newest 500, newest at the top, in falling
    order; the oldest is the one left for the CSV."""
    administration = _administer(ward)
    first = administration.log_entries.get()
    _older_entries(administration, 500)
    written = list(ControlledSubstanceEntry.objects.order_by("-pk").values_list("pk", flat=True))
    assert client.login(request=HttpRequest(), username=ward.nurse.user.username, password=PASSWORD)
    page = client.get(reverse("clinical:cs-log")).content.decode()
    assert _listed(page) == written[:500]
    assert first.pk not in _listed(page) and "The latest 500 of 501 entries" in page


def test_the_log_page_shows_the_newest_entry_once_the_register_holds_more_than_500(client, ward):
    """The page lists the latest 500 entries of the register (newest first) and says the list is
    cut: the nurse who just recorded a dose sees it there."""
    administration = _administer(ward)
    first = administration.log_entries.get()
    ControlledSubstanceEntry.objects.bulk_create(
        ControlledSubstanceEntry(
            administration=administration,
            appointment=ward.session,
            patient=ward.session.patient,
            site=ward.clinic.site,
            route="iv",
            total_mg=Decimal("40"),
            lot_number=f"OLD-{n}",
            administered_at=first.administered_at,
            given_by=ward.nurse,
            recorded_by=ward.nurse.user,
            recorded_at=first.recorded_at + dt.timedelta(minutes=n + 1),
        )
        for n in range(500)
    )
    newest = ControlledSubstanceEntry.objects.order_by("-pk").first()
    assert client.login(request=HttpRequest(), username=ward.nurse.user.username, password=PASSWORD)
    page = client.get(reverse("clinical:cs-log")).content.decode()
    assert f"<td>{newest.pk}</td>" in page, "the newest register entry is missing from the log page"
    assert f"<td>{first.pk}</td>" not in page and "The latest 500 of 501 entries" in page


def test_a_csv_with_a_malformed_day_is_refused_not_the_whole_register(client, ward):
    """A CSV export asked for a day that does not exist (`date_from=2026-02-30`) is refused with 400,
    not answered with the whole register; the page lists nothing for it either."""
    _administer(ward)
    assert client.login(request=HttpRequest(), username=ward.admin.user.username, password=PASSWORD)
    response = client.get(reverse("clinical:cs-log-csv"), {"date_from": "2026-02-30", "date_to": "2026-02-28"})
    assert response.status_code == 400, response.content.decode()[:300]
    assert "not exported" in response.content.decode()
    page = client.get(reverse("clinical:cs-log"), {"date_from": "2026-02-30"})
    assert page.status_code == 400 and 'data-testid="cs-entry"' not in page.content.decode()


def test_the_log_page_shows_when_each_dose_was_given_so_a_corrected_start_reads_as_a_change(client, ward):
    """A correction of the start time alone: the page shows each entry's time of giving, so the new
    line differs from the one it corrects (it read the same, apart from the reason)."""
    administration = _administer(ward)
    first = administration.log_entries.get()
    later = first.administered_at + dt.timedelta(minutes=3)
    corrected = clinical.controlled_substance_correct(
        entry=first,
        started_at=later,
        reason="Started three minutes later than typed",
        actor=ward.nurse.user,
        now=first.recorded_at + dt.timedelta(minutes=10),
    )
    assert client.login(request=HttpRequest(), username=ward.nurse.user.username, password=PASSWORD)
    page = client.get(reverse("clinical:cs-log")).content.decode()
    zone = ward.clinic.site.zone
    for entry, given in ((first, first.administered_at), (corrected, later)):
        assert f'<td data-testid="cs-given-at">{given.astimezone(zone):%-d %b %Y, %H:%M}' in page, entry.pk
