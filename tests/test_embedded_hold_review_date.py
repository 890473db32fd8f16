"""On the embedded default (SQLite): booking a hold, a hold released by a review date brought
forward (hold_released), a screening flag stopping a hold's booking, and the review date change."""

from __future__ import annotations

import pytest

from tests.sqlite_shell import run_on_sqlite

pytestmark = pytest.mark.django_db

SCENARIO = r"""
import datetime as dt, json
import time_machine
from tests.scheduling.conftest import NOW, START, make_clinic
time_machine.travel(NOW, tick=False).start()
from patients.models import Contraindication, PatientFlag
from scheduling import services
from clinic.errors import DomainError
from scheduling.models import Appointment

out = {}
clinic = make_clinic()
plan = clinic.plan()
UNTIL = NOW + dt.timedelta(minutes=10)
def hold(at, p=plan):
    return services.appointment_book(patient=p.patient, plan=p, site=clinic.site, starts_at=at,
        chair=clinic.chairs[0], actor=clinic.front_desk.user, now=NOW, hold_until=UNTIL)
def attempt(fn):
    try:
        return {"ok": fn().status}
    except DomainError as exc:
        return {"code": exc.code, "reason": (exc.details or {}).get("reason"), "message": exc.message}
first = hold(dt.datetime(2026, 3, 2, 15, tzinfo=dt.UTC))
out["book_first"] = attempt(lambda: services.appointment_book_held(appointment=first, actor=clinic.front_desk.user, now=NOW))
later = hold(dt.datetime(2026, 3, 5, 15, tzinfo=dt.UTC))
services.plan_change_review_date(plan=plan, review_date=dt.date(2026, 3, 3), reason="Dependence concern",
    actor=clinic.prescriber.user, now=NOW)
out["book_released"] = attempt(lambda: services.appointment_book_held(appointment=later, actor=clinic.front_desk.user, now=NOW))
other = clinic.plan()
held = hold(dt.datetime(2026, 3, 2, 17, tzinfo=dt.UTC), p=other)
rule = Contraindication.objects.create(label="Active psychosis", code="psy-sqlite", kind="flag")
PatientFlag.objects.create(patient=other.patient, contraindication=rule, recorded_by=clinic.prescriber.user)
out["book_flagged"] = attempt(lambda: services.appointment_book_held(appointment=held, actor=clinic.front_desk.user, now=NOW))
held.refresh_from_db()
out["flagged_status"] = held.status
print("RESULT", json.dumps(out))
"""


def test_holds_and_review_date_on_sqlite(tmp_path, tmp_path_factory):
    found = run_on_sqlite(tmp_path, tmp_path_factory, SCENARIO)
    assert found["book_first"] == {"ok": "booked"}, found
    assert found["book_released"]["reason"] == "hold_released", found
    assert found["book_flagged"]["code"] == "not_eligible", found
    assert found["flagged_status"] == "held", found
