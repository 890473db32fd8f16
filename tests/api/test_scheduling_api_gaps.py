"""Scheduling API gaps: a hidden field is no filter, undo check-in takes only its fields, an unknown site is a 400, and course alternatives only at the asker's sites."""

from __future__ import annotations

import pytest

from clinic.models import Chair
from scheduling.models import Appointment, TreatmentPlan
from tests.api.conftest import build_world

pytestmark = pytest.mark.django_db
V1 = "/api/v1"


# --- needs_attention is a clinicians-only field, but the plans list filters on it ----------------


@pytest.mark.parametrize("role", ["patient_b", "front_desk"])
def test_plan_filter_does_not_reveal_the_clinicians_only_needs_attention_flag(world, role):
    TreatmentPlan.objects.filter(pk=world.plan_b.pk).update(needs_attention=True, attention_reason="Short induction")
    client = world.client(role)
    shown = client.get(f"{V1}/plans/{world.plan_b.pk}/")
    assert shown.status_code == 200
    assert shown.json()["needs_attention"] is None  # hidden from this role (FIELD_READERS)

    flagged = client.get(f"{V1}/plans/?needs_attention=true")
    unflagged = client.get(f"{V1}/plans/?needs_attention=false")
    if flagged.status_code == 400 and unflagged.status_code == 400:
        return  # refusing the filter is fine
    ids_flagged = {p["id"] for p in flagged.json()["results"]}
    ids_unflagged = {p["id"] for p in unflagged.json()["results"]}
    # Whatever the filter says, a role that may not read the flag must not learn it from the filter.
    assert world.plan_b.pk not in ids_flagged or world.plan_b.pk in ids_unflagged


# --- undo-check-in takes unknown fields silently (not a StrictSerializer) -------------------------


def test_undo_check_in_refuses_unknown_fields(world):
    appointment = world.checked_in_b
    appointment.refresh_from_db()
    status = appointment.status  # in the chair since its administration was recorded
    response = world.client("front_desk").post(
        f"{V1}/appointments/{appointment.pk}/undo-check-in/",
        {"reason": "Wrong patient", "reasn": "typo", "notes": "x"},
        format="json",
    )
    assert response.status_code == 400, response.content
    assert set(response.json()["error"]["fields"]) >= {"reasn", "notes"}
    appointment.refresh_from_db()
    assert appointment.status == status


# --- book-course: an unknown site id in the sessions is a 404, as if the plan were gone -----------


def test_book_course_with_an_unknown_session_site_is_a_400_not_a_404(world):
    client = world.client("front_desk")
    plan = world.draft_plan
    proposal = client.post(f"{V1}/plans/{plan.pk}/propose-course/", {"start_date": "2026-03-09"}, format="json")
    assert proposal.status_code == 200
    sessions = [{key: value for key, value in s.items() if key != "why"} for s in proposal.json()["sessions"]]
    body = {"sessions": [{**s, "site": 987654} for s in sessions]}
    response = client.post(f"{V1}/plans/{plan.pk}/book-course/", body, format="json")
    # The plan exists and the asker may see it: 404 tells the client the plan is gone.
    assert response.status_code == 400, response.content
    assert not Appointment.objects.filter(plan=plan).exists()


# --- a course that does not fit offers alternatives at sites the asker does not work at -----------


def test_course_alternatives_name_only_sites_the_asker_works_at(db, frozen):
    built = build_world(two_sites=True)
    Chair.objects.filter(site=built.site).update(active=False)  # nothing fits at the plan's site
    client = built.client("front_desk")  # works at site one only
    response = client.post(
        f"{V1}/plans/{built.draft_plan.pk}/propose-course/", {"start_date": "2026-03-09"}, format="json"
    )
    assert response.status_code == 409
    alternatives = response.json()["error"]["details"]["alternatives"]
    offered = {a["site"] for a in alternatives} | {s["site"] for a in alternatives for s in a["sessions"]}
    # Site two's free chairs, nurse ids and times are not this desk's to read, nor can it book them.
    assert built.two.site.pk not in offered, alternatives
