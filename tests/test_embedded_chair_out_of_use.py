"""A chair out of use for a while (a closure naming the chair) on the embedded default (SQLite,
`python dev.py run`): the closure is added through the API's `closures/` with `chair`, read back
through the booking snapshot's hand-written UNION ALL (the chair's id in the first column, the
period aware), a booking into the chair then is refused (chair_out_of_use, naming the chair and the
reason), a booking naming no chair and a proposed course go to the other chair, and the board page
draws the period in the chair's row."""

from __future__ import annotations

from tests.sqlite_shell import run_on_sqlite

SCENARIO = r"""
import datetime as dt, json
import time_machine
from tests.scheduling.conftest import NOW, START, at_new_york, make_clinic, start_plus
time_machine.travel(NOW, tick=False).start()
from django.test import Client
from rest_framework.test import APIClient
from clinic.models import Closure, Role
from clinic.security.services import token_issue
from scheduling import services
from scheduling.errors import BookingConflict
from scheduling.selectors import site_snapshot
from tests.factories import StaffFactory, UserFactory

out = {}
clinic = make_clinic(chairs=2)
first, second = clinic.chairs
tuesday = start_plus(1)
admin = StaffFactory(role=Role.CLINIC_ADMIN, user=UserFactory(username="boss"), sites=[clinic.site])
api = APIClient(HTTP_HOST="localhost")
api.credentials(HTTP_AUTHORIZATION=f"Token {token_issue(user=admin.user)[0]}")
added = api.post("/api/v1/closures/", {
    "site": clinic.site.pk, "chair": first.pk, "reason": "IV pump broken",
    "starts_at": at_new_york(tuesday, 8).isoformat(), "ends_at": at_new_york(tuesday, 13).isoformat(),
}, format="json")
out["api"] = [added.status_code, added.json()]
listed = api.get("/api/v1/closures/", {"chair": first.pk}).json()
out["api_listed"] = [row["chair"] for row in listed.get("results", listed)]
# A whole week out of use for the proposal, from the course's first day.
Closure.objects.create(site=clinic.site, chair=first, reason="Chair being replaced",
    starts_at=at_new_york(start_plus(14), 0), ends_at=at_new_york(start_plus(21), 0))

snapshot = site_snapshot(site=clinic.site, start=at_new_york(tuesday, 0), end=at_new_york(start_plus(2), 0))
out["site_closures"] = len(snapshot.closures)
out["out_of_use"] = {c.name: [[s.start.isoformat(), s.end.isoformat(), why, s.start.utcoffset() is not None]
                              for s, why in c.out_of_use] for c in snapshot.chairs}

def book(chair, at):
    plan = clinic.plan()
    try:
        booked = services.appointment_book(patient=plan.patient, plan=plan, site=clinic.site, starts_at=at,
                                           chair=chair, actor=clinic.front_desk.user, now=NOW)
        return {"chair": booked.chair.name}
    except BookingConflict as exc:
        return {"reason": exc.details["reason"], "message": exc.message}

out["into_chair"] = book(first, at_new_york(tuesday, 10))
out["no_chair_named"] = book(None, at_new_york(tuesday, 10))
out["after_period"] = book(first, at_new_york(tuesday, 13))
proposal = services.course_propose(plan=clinic.plan(), start_date=start_plus(14), now=NOW)
out["proposed_chairs"] = sorted({s.chair_id for s in proposal.sessions
                                 if s.starts_at < at_new_york(start_plus(21), 0)})
out["ids"] = {"first": first.pk, "second": second.pk}

web = Client()
web.force_login(clinic.front_desk.user)
page = web.get("/board/", {"day": tuesday.isoformat()})
html = page.content.decode()
rows = {part.split('data-chair="')[1].split('"')[0]: part.split("</section>")[0]
        for part in html.split('data-testid="chair-row"')[1:]}
out["board"] = {
    "status": page.status_code,
    "marked": {name: 'data-testid="out-of-use"' in row for name, row in rows.items()},
    "listed": 'data-testid="chair-out-of-use"' in html and "IV pump broken" in html,
    "site_closed": 'data-testid="closure-band"' in html,
}
print("RESULT", json.dumps(out))
"""


def test_a_chair_out_of_use_on_sqlite(tmp_path, tmp_path_factory):
    found = run_on_sqlite(tmp_path, tmp_path_factory, SCENARIO)
    ids = found["ids"]
    status, body = found["api"]
    assert status == 201 and body["chair"] == ids["first"], found["api"]
    assert found["api_listed"] == [ids["first"]], found
    # The snapshot's SQL: the chair's period, aware, with its reason; the site is not closed.
    assert found["site_closures"] == 0, found
    assert found["out_of_use"]["Chair 2"] == [], found
    ((start, end, why, aware),) = found["out_of_use"]["Chair 1"]
    assert (start, end, why, aware) == (
        "2026-03-03T13:00:00+00:00",
        "2026-03-03T18:00:00+00:00",
        "IV pump broken",
        True,
    )
    assert found["into_chair"]["reason"] == "chair_out_of_use", found
    assert "Chair 1" in found["into_chair"]["message"] and "IV pump broken" in found["into_chair"]["message"]
    assert found["no_chair_named"] == {"chair": "Chair 2"}, found
    assert found["after_period"] == {"chair": "Chair 1"}, found
    assert found["proposed_chairs"] == [ids["second"]], found
    board = found["board"]
    assert board["status"] == 200, board
    assert board["marked"] == {"Chair 1": True, "Chair 2": False}, board
    assert board["listed"] and not board["site_closed"], board
