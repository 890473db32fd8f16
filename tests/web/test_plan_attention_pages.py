"""The chart says when a course is short and why the plan needs attention: the desk sees the
course short (a scheduling fact) with a link to book the make-up; clinicians also see the flag's
reason (clinical) and clear it with a reason; a patient sees neither."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse

from scheduling.services.courses import induction_reflow_propose
from tests.web.conftest import NOW, login
from tests.web.conftest import SHORT_COURSE_REASON as REASON_WORDS

pytestmark = pytest.mark.django_db


def _chart(client, web):
    return client.get(reverse("web:patient", args=[web.patient_a.pk]))


def test_the_desk_sees_the_course_short_with_a_make_up_link_but_not_the_clinical_reason(client, flagged):
    login(client, flagged.desk.user)
    page = _chart(client, flagged).content.decode()
    assert 'data-testid="course-short"' in page
    assert "missing 1 session of the 6" in page
    assert reverse("web:book-session", args=[flagged.patient_a.pk]) + "?kind=make-up" in page
    assert REASON_WORDS not in page and 'data-testid="clear-attention"' not in page


@pytest.mark.parametrize("who", ["nurse", "prescriber"])
def test_a_clinician_sees_the_reason_and_clears_it_with_a_reason(client, flagged, who):
    login(client, getattr(flagged, who).user)
    page = _chart(client, flagged).content.decode()
    assert 'data-testid="course-short"' in page and REASON_WORDS in page
    assert 'data-testid="clear-attention"' in page
    url = reverse("web:plan-clear-attention", args=[flagged.plan_a.pk])
    refused = client.post(url, {"attention-reason": "", "attention-version": flagged.plan_a.version})
    assert refused.status_code == 400
    assert "Give a reason for clearing the flag" in refused.content.decode()
    flagged.plan_a.refresh_from_db()
    assert flagged.plan_a.needs_attention
    done = client.post(
        url, {"attention-reason": "Five sessions are enough", "attention-version": flagged.plan_a.version}
    )
    assert done.status_code == 302
    flagged.plan_a.refresh_from_db()
    assert not flagged.plan_a.needs_attention and flagged.plan_a.attention_reason == ""
    latest = flagged.plan_a.history.order_by("-history_date", "-history_id").first()
    assert latest.history_change_reason == "Reviewed: Five sessions are enough"
    assert latest.history_user == getattr(flagged, who).user
    page = _chart(client, flagged).content.decode()
    assert REASON_WORDS not in page and 'data-testid="clear-attention"' not in page
    assert 'data-testid="course-short"' in page  # the course is still short: the desk may still book


def test_a_clear_from_a_page_drawn_before_another_change_is_refused(client, flagged):
    login(client, flagged.nurse.user)
    url = reverse("web:plan-clear-attention", args=[flagged.plan_a.pk])
    stale = client.post(url, {"attention-reason": "Seen", "attention-version": flagged.plan_a.version - 1})
    assert stale.status_code == 409
    flagged.plan_a.refresh_from_db()
    assert flagged.plan_a.needs_attention


def test_the_desk_and_patients_may_not_clear_the_flag(client, flagged):
    url = reverse("web:plan-clear-attention", args=[flagged.plan_a.pk])
    data = {"attention-reason": "Seen", "attention-version": flagged.plan_a.version}
    login(client, flagged.desk.user)
    assert client.post(url, data).status_code == 403
    client.logout()
    login(client, flagged.patient_a.user)
    assert client.post(url, data).status_code in (403, 404)
    flagged.plan_a.refresh_from_db()
    assert flagged.plan_a.needs_attention


def test_the_patient_never_sees_the_flag_or_its_reason(client, flagged):
    login(client, flagged.patient_a.user)
    page = client.get("/").content.decode()
    assert flagged.sessions_a[0].starts_at.strftime("%-d") in page  # the portal shows their sessions
    assert REASON_WORDS not in page and "Needs attention" not in page and "Course short" not in page


def test_booking_the_make_up_from_the_page_clears_the_flag(client, flagged):
    proposal = induction_reflow_propose(plan=flagged.plan_a, missed=flagged.sessions_a[2], now=NOW)
    slot = proposal.slots[0]
    zone = flagged.clinic.site.zone
    day = slot.start.astimezone(zone).date().isoformat()
    assert f"the first replacement that fits is {slot.start.astimezone(zone):%a %-d %b %Y %H:%M}" in (
        flagged.plan_a.attention_reason
    )
    login(client, flagged.desk.user)
    booked = client.post(
        reverse("web:book-session", args=[flagged.patient_a.pk]),
        {
            "kind": "make-up",
            "first_day": day,
            "last_day": day,
            "chair": "",
            "slot": f"{slot.start.astimezone(dt.UTC).isoformat()}|{slot.chair_id}",
        },
    )
    assert booked.status_code == 302, booked.content.decode()[:2000]
    flagged.plan_a.refresh_from_db()
    assert not flagged.plan_a.needs_attention
    assert 'data-testid="course-short"' not in _chart(client, flagged).content.decode()
    client.logout()
    login(client, flagged.nurse.user)
    assert 'data-testid="needs-attention"' not in _chart(client, flagged).content.decode()
