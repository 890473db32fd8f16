"""A log line's reason (why an infusion was stopped early or given by another route, why a line was
corrected) is clinical text: the controlled-substance register shows it to clinicians only
(clinic/permissions.py FIELD_READERS["cs_entry"]["reason"]), on its page, its CSV, the API and the
Django admin. A clinic administrator auditing the register still sees every line, its amount, lot,
who gave it, what it corrects, and that a reason was recorded ("reason recorded (clinicians only)"),
never the words."""

from __future__ import annotations

import csv
import io

import pytest
import time_machine
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse

from clinic.models import Role
from clinical import services
from clinical.models import ControlledSubstanceEntry
from tests.clinical.test_api_and_pages import _login
from tests.clinical.test_short_infusion import NOW, _record, _under_protocol
from tests.factories import StaffFactory, UserFactory

pytestmark = pytest.mark.django_db

CLINICAL = "stopped early: BP 182/110 and severe dissociation"
CORRECTED = "lot misread: patient vomited on the label"
MARKER = "reason recorded (clinicians only)"
SHORT = f"Infusion of 12 minutes, under half the protocol's 40 minutes: {CLINICAL}"
# A correction of the lot keeps why the infusion was short on the line the register now reads.
CORRECTED_LINE = f"{CORRECTED}; {SHORT}"
LOG = "/api/v1/clinical/controlled-substance-log/"


@pytest.fixture
def stopped_early(ward):
    """The ward's session given 12 minutes of a 40-minute IV infusion, with the clinician's reason;
    its line then corrected (with a reason of its own)."""
    _under_protocol(ward)
    with time_machine.travel(NOW, tick=False):
        _record(ward, minutes=12, short_infusion_reason=CLINICAL)
        first = ControlledSubstanceEntry.objects.get()
        correction = services.controlled_substance_correct(
            entry=first, lot_number="KX-78", reason=CORRECTED, actor=ward.nurse.user, now=NOW
        )
    return first, correction


def _csv(body: str) -> dict[int, dict[str, str]]:
    return {int(row["entry"]): row for row in csv.DictReader(io.StringIO(body))}


def test_a_clinic_administrator_does_not_read_the_clinical_reason_on_the_register(ward, stopped_early):
    """From the security review: the page, its CSV and the API gave administrators every line's reason."""
    first, correction = stopped_early
    nurse = Client()
    _login(nurse, ward.nurse)
    assert CLINICAL in nurse.get(reverse("clinical:cs-log")).content.decode()  # clinicians read it

    admin = Client()
    _login(admin, ward.admin)
    page = admin.get(reverse("clinical:cs-log"))
    assert page.status_code == 200
    text = page.content.decode()
    assert CLINICAL not in text and CORRECTED not in text
    # The register stays auditable: every line, the correction, and that each carries a reason.
    assert "KX-77" in text and "KX-78" in text
    assert f"corrected by #{correction.pk}" in text and f"corrects #{first.pk}" in text
    assert text.count(MARKER) == 2, text

    exported = admin.get(reverse("clinical:cs-log-csv"))
    assert exported.status_code == 200
    body = exported.content.decode()
    assert CLINICAL not in body and CORRECTED not in body
    rows = _csv(body)
    assert rows[first.pk]["reason"] == MARKER and rows[correction.pk]["reason"] == MARKER
    assert rows[correction.pk]["corrects"] == str(first.pk) and rows[first.pk]["corrected_by"] == str(correction.pk)

    api = ward.client("clinic_admin").get(LOG)
    assert api.status_code == 200
    assert CLINICAL not in api.content.decode() and CORRECTED not in api.content.decode()
    lines = {line["id"]: line for line in api.json()["results"]}
    assert lines[first.pk]["reason"] is None and lines[first.pk]["reason_recorded"] is True
    assert lines[correction.pk]["reason"] is None and lines[correction.pk]["corrects"] == first.pk

    export = ward.client("clinic_admin").get(LOG + "export/")
    assert export.status_code == 200
    assert _csv(export.content.decode())[first.pk]["reason"] == MARKER


def test_a_line_without_a_reason_is_not_marked_as_having_one(ward):
    _under_protocol(ward)
    with time_machine.travel(NOW, tick=False):
        _record(ward, minutes=40)
    entry = ControlledSubstanceEntry.objects.get()
    admin = Client()
    _login(admin, ward.admin)
    assert MARKER not in admin.get(reverse("clinical:cs-log")).content.decode()
    assert _csv(admin.get(reverse("clinical:cs-log-csv")).content.decode())[entry.pk]["reason"] == ""
    line = ward.client("clinic_admin").get(LOG).json()["results"][0]
    assert line["reason"] is None and line["reason_recorded"] is False


def test_clinicians_read_the_reason_on_the_page_the_csv_the_api_and_the_session_record(ward, stopped_early):
    first, correction = stopped_early
    for staff, role in ((ward.nurse, "nurse"), (ward.prescriber, "prescriber")):
        browser = Client()
        _login(browser, staff)
        page = browser.get(reverse("clinical:cs-log")).content.decode()
        assert CLINICAL in page and CORRECTED in page and MARKER not in page
        rows = _csv(browser.get(reverse("clinical:cs-log-csv")).content.decode())
        assert CLINICAL in rows[first.pk]["reason"] and rows[correction.pk]["reason"] == CORRECTED_LINE

        api = ward.client(role)
        lines = {line["id"]: line for line in api.get(LOG).json()["results"]}
        assert CLINICAL in lines[first.pk]["reason"] and lines[first.pk]["reason_recorded"] is True
        assert CLINICAL in _csv(api.get(LOG + "export/").content.decode())[first.pk]["reason"]
        record = api.get(f"/api/v1/clinical/sessions/{ward.session.pk}/")
        assert record.status_code == 200, record.content
        assert [line["reason"] for line in record.json()["log"]] == [rows[first.pk]["reason"], CORRECTED_LINE]


def test_the_correction_answer_gives_its_reason_to_the_clinician_who_wrote_it(ward, stopped_early):
    _, correction = stopped_early
    answer = ward.client("nurse").post(
        f"{LOG}{correction.pk}/correct/", {"total_mg": "34", "reason": "pump log read again"}, format="json"
    )
    assert answer.status_code == 201, answer.content
    # The line's reason is the correction's, and why the infusion was short, carried from the line before.
    assert answer.json()["reason"] == f"pump log read again; {SHORT}" and answer.json()["reason_recorded"] is True


def test_the_admin_shows_an_administrator_the_register_without_the_reasons(client, ward, stopped_early):
    first, correction = stopped_early
    user = UserFactory(username="cs-auditor", is_staff=True)
    user.user_permissions.set(Permission.objects.all())
    StaffFactory(user=user, role=Role.CLINIC_ADMIN, all_sites=True)  # the admin is for clinic-wide staff
    _login(client, user)
    listing = client.get("/admin/clinical/controlledsubstanceentry/")
    assert listing.status_code == 200
    text = listing.content.decode()
    assert "KX-77" in text and "KX-78" in text
    assert CLINICAL not in text and CORRECTED not in text
    assert "reason recorded" in text.lower()  # the marker column's header
    for entry in (first, correction):
        shown = client.get(f"/admin/clinical/controlledsubstanceentry/{entry.pk}/change/")
        assert shown.status_code == 200
        assert CLINICAL not in shown.content.decode() and CORRECTED not in shown.content.decode()
    # Nor does a query-string filter on the reason tell what it holds.
    probe = client.get("/admin/clinical/controlledsubstanceentry/", {"reason__icontains": "dissociation"})
    assert probe.status_code != 200 or "KX-77" not in probe.content.decode()


def test_the_admin_shows_a_clinician_the_reasons(client, ward, stopped_early):
    user = UserFactory(username="cs-nurse-admin", is_staff=True)
    user.user_permissions.set(Permission.objects.all())
    StaffFactory(user=user, role=Role.NURSE, all_sites=True)
    _login(client, user)
    listing = client.get("/admin/clinical/controlledsubstanceentry/").content.decode()
    assert CLINICAL in listing and CORRECTED in listing
