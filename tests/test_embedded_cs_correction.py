"""On the embedded default (SQLite, `python dev.py run`): the controlled-substance log line's
correction page (`/controlled-substances/<id>/correct/`) shows the line's values with its start on
the site's clock, a start corrected on that clock is stored in UTC with a new line, the old line
then answers 409 pointing to the new one, and the log shows it corrected. The session record's
new rules run there too: an IV infusion under half its protocol's minutes needs a reason, and the
administration recorded for a session still checked in puts it in the chair."""

from __future__ import annotations

from tests.sqlite_shell import run_on_sqlite

SCENARIO = r"""
import datetime as dt, json
from decimal import Decimal
import time_machine
from tests.clinical.conftest import SESSION_START
from tests.scheduling.conftest import make_clinic
time_machine.travel(SESSION_START + dt.timedelta(hours=2), tick=False).start()
from django.test import Client
from clinic.errors import DomainError
from clinical import services as clinical
from clinical.models import Administration, ControlledSubstanceEntry
from scheduling.models import AppointmentStatus
from tests.clinical_helpers import record_administration, record_pre_vitals
from tests.factories import AppointmentFactory, PatientFactory, PlanFactory, ProtocolFactory

out = {}
clinic = make_clinic(days=14)
nurse = clinic.nurses[0]

def checked_in(at, chair):
    return AppointmentFactory(patient=PatientFactory(home_site=clinic.site), chair=chair, nurse=nurse,
                              starts_at=at, status=AppointmentStatus.CHECKED_IN,
                              checked_in_at=at - dt.timedelta(minutes=10))

session = checked_in(SESSION_START, clinic.chairs[0])
# Given 10:10:30 to 10:50:30 in New York: the form shows the minute.
entry = record_administration(session, nurse.user, start=SESSION_START + dt.timedelta(minutes=5, seconds=30)).log_entries.get()
session.refresh_from_db()
out["status_after_administration"] = session.status

web = Client()
web.force_login(nurse.user)
url = f"/controlled-substances/{entry.pk}/correct/"
shown = web.get(url)
out["get"] = [shown.status_code, 'value="2026-03-02T10:10"' in shown.content.decode()]
posted = web.post(url, {
    "total_mg": "35.00", "dose_mg_per_kg": "0.500", "weight_kg": "70.0", "lot_number": "LOT-TEST-1",
    "route": "iv", "given_by": str(nurse.pk), "started_at": "2026-03-02T10:12",
    "reason": "Started at 10:12 by the pump log",
})
out["post"] = [posted.status_code, posted.get("Location")]
correction = ControlledSubstanceEntry.objects.filter(corrects=entry).first()
out["correction"] = None if correction is None else {
    "administered_at": correction.administered_at.isoformat(),
    "total_mg": str(correction.total_mg),
    "started_at": Administration.objects.get(pk=entry.administration_id).started_at.isoformat(),
}
again = web.get(url)
out["old_line"] = [again.status_code, correction is not None and f"/controlled-substances/{correction.pk}/correct/" in again.content.decode()]
log = web.get("/controlled-substances/", {"date_from": "2026-03-02", "date_to": "2026-03-02"}).content.decode()
out["log_says_corrected"] = correction is not None and f"corrected by #{correction.pk}" in log

# An IV infusion of 10 minutes (under half the protocol's): refused without a reason, taken with one.
short = checked_in(SESSION_START + dt.timedelta(hours=1), clinic.chairs[1])
short.plan = PlanFactory(patient=short.patient, protocol=ProtocolFactory(), site=short.site)
short.sequence = 1
short.save(update_fields=["plan", "sequence"])
record_pre_vitals(short, nurse.user, now=short.starts_at)
given = dict(appointment=short, route="iv", dose_mg_per_kg=Decimal("0.5"), weight_kg=Decimal("70"),
             total_mg=Decimal("35"), started_at=short.starts_at + dt.timedelta(minutes=5),
             ended_at=short.starts_at + dt.timedelta(minutes=15), lot_number="LOT-TEST-1",
             given_by=nurse, actor=nurse.user, now=short.starts_at + dt.timedelta(minutes=20))
try:
    clinical.administration_record(**given)
    out["short_without_reason"] = "recorded"
except DomainError as exc:
    out["short_without_reason"] = exc.code
out["short_lines_after_refusal"] = ControlledSubstanceEntry.objects.filter(appointment=short).count()
taken = clinical.administration_record(**given, short_infusion_reason="stopped early: dissociation")
out["short_line_reason"] = taken.log_entries.get().reason
print("RESULT", json.dumps(out))
"""


def test_the_cs_correction_page_and_session_record_on_sqlite(tmp_path, tmp_path_factory):
    found = run_on_sqlite(tmp_path, tmp_path_factory, SCENARIO)
    assert found["status_after_administration"] == "in_chair", found
    assert found["get"] == [200, True], found
    assert found["post"][0] == 302, found
    # 10:12 on the New York site's clock (EST) is 15:12 UTC.
    assert found["correction"] == {
        "administered_at": "2026-03-02T15:12:00+00:00",
        "total_mg": "35.00",
        "started_at": "2026-03-02T15:12:00+00:00",
    }, found
    assert found["old_line"] == [409, True], found
    assert found["log_says_corrected"], found
    assert found["short_without_reason"] == "short_infusion", found
    assert found["short_lines_after_refusal"] == 0, found
    assert "stopped early: dissociation" in found["short_line_reason"], found
