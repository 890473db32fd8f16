"""The portal's self-reschedule of an induction session near the review date offers no time after it."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse

from scheduling import services
from scheduling.engine.wallclock import local_day
from tests.scheduling.conftest import NOW
from tests.web.conftest import login, web  # noqa: F401

pytestmark = pytest.mark.django_db


def test_portal_reschedule_offers_no_induction_time_after_the_review_date(web, client):  # noqa: F811
    last = web.sessions_a[-1]
    zone = web.clinic.site.zone
    review = local_day(last.starts_at, zone)
    services.plan_change_review_date(
        plan=web.plan_a, review_date=review, reason="Dependence concern", actor=web.prescriber.user, now=NOW
    )
    login(client, web.patient_a.user)
    first = review - dt.timedelta(days=2)
    response = client.get(
        reverse("web:portal-reschedule", args=[last.pk]),
        {"first_day": first.isoformat(), "last_day": (review + dt.timedelta(days=5)).isoformat()},
    )
    assert response.status_code == 200
    offered = [slot.start for d in response.context["days"] for slot in d["times"]]
    after = [s for s in offered if local_day(s, zone) > review]
    assert not after, after
