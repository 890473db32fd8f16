"""Cancel and rebook shows the replacement before anything is written (`induction_reflow_propose`
with the session still booked), then books it (`appointment_cancel(rebook=True)`). What it shows
is what it books: the session being cancelled counts for nothing in the preview either, so it does
not keep the make-up the protocol's gap away from itself (a make-up the next day was shown two
days later, and the next day then booked)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.db import transaction
from django.urls import reverse

from scheduling import services
from scheduling.engine.model import NoFit
from scheduling.models import AppointmentStatus
from scheduling.services.courses import induction_reflow_propose
from tests.scheduling.conftest import NOW, START, at_new_york, make_clinic
from tests.web.conftest import login

pytestmark = pytest.mark.django_db


def _spread_course(clinic):
    """Six sessions Mon 2, Wed 4, Fri 6, Tue 10, Thu 12, Mon 16 March at 10:00: cancelling the
    Thursday leaves Fri 13 free of the standing sessions' 48 hours, but within the Thursday's own."""
    plan = clinic.plan()
    days = [0, 2, 4, 8, 10, 14]
    return plan, clinic.book(plan, [at_new_york(START + dt.timedelta(days=d), 10) for d in days])


@pytest.mark.parametrize("policy", ["earliest", "level"])
def test_the_make_up_the_day_after_a_cancelled_session_is_shown_before_the_cancel(policy):
    clinic = make_clinic(placement_policy=policy)
    plan, course = _spread_course(clinic)
    thursday = course[4]
    shown = induction_reflow_propose(plan=plan, missed=thursday, now=NOW)
    assert shown is not None and not isinstance(shown, NoFit), shown
    outcome = services.appointment_cancel(
        appointment=thursday, actor=clinic.front_desk.user, reason="Flu", now=NOW, rebook=True
    )
    assert [a.starts_at for a in outcome.rebooked] == [slot.start for slot in shown.slots]
    assert [a.chair_id for a in outcome.rebooked] == [slot.chair_id for slot in shown.slots]


@pytest.mark.parametrize("policy", ["earliest", "level"])
@pytest.mark.parametrize("lost", range(6))
def test_whichever_session_is_cancelled_the_rebook_books_the_replacement_shown(policy, lost):
    clinic = make_clinic(placement_policy=policy, nurses=2)
    plan = clinic.plan()
    course = services.course_book(plan=plan, actor=None, now=NOW, start_date=START)
    shown = induction_reflow_propose(plan=plan, missed=course[lost], now=NOW)
    with transaction.atomic():
        outcome = services.appointment_cancel(
            appointment=course[lost], actor=clinic.front_desk.user, reason="Flu", now=NOW, rebook=True
        )
    if shown is None or isinstance(shown, NoFit):
        assert outcome.rebooked == []
    else:
        assert [(a.starts_at, a.chair_id, a.nurse_id) for a in outcome.rebooked] == [
            (slot.start, slot.chair_id, slot.nurse_id) for slot in shown.slots
        ]


@dataclass
class Desk:
    """A course spread as `_spread_course` lays it, the desk logged in, and the cancel page of
    its Thursday session showing the replacement (`page`)."""

    clinic: Any
    plan: Any
    course: list
    thursday: Any
    url: str
    page: Any
    client: Any = field(repr=False, default=None)

    def rebook(self, shown: str, **kwargs):
        return self.client.post(self.url, {"reason": "Flu", "mode": "rebook", "shown": shown}, **kwargs)


@pytest.fixture
def desk(client, time_machine) -> Desk:
    time_machine.move_to(NOW, tick=False)
    clinic = make_clinic()
    plan, course = _spread_course(clinic)
    thursday = course[4]
    login(client, clinic.front_desk.user)
    url = reverse("web:appointment-action", args=[thursday.pk, "cancel"])
    page = client.post(url, {"reason": "Flu", "mode": "propose-rebook"})
    assert page.status_code == 200, page.content[:500]
    assert page.context["replacement"], page.context["replacement_problem"]
    return Desk(clinic=clinic, plan=plan, course=course, thursday=thursday, url=url, page=page, client=client)


def test_the_desks_rebook_page_shows_the_day_it_then_books(desk):
    shown = desk.page.context["replacement"]
    desk.rebook(desk.page.context["shown"])
    desk.thursday.refresh_from_db()
    assert desk.thursday.status == AppointmentStatus.CANCELLED
    booked = sorted(
        a.starts_at
        for a in desk.plan.appointments.exclude(pk__in=[a.pk for a in desk.course]).exclude(status="cancelled")
    )
    assert booked == shown, f"shown {shown}, booked {booked}"


def test_a_replacement_taken_between_showing_and_booking_is_not_swapped_for_another(desk):
    """The desk may have told the patient the time shown: when another booking takes it meanwhile,
    the rebook cancels and books nothing, and shows the replacement that fits now."""
    shown = desk.page.context["replacement"]
    # Another patient takes that time (the site's one nurse sets them up then).
    desk.clinic.book(desk.clinic.plan(), [shown[0]])
    before = sorted(a.pk for a in desk.plan.appointments.all())
    again = desk.rebook(desk.page.context["shown"])
    assert again.status_code == 200 and again.context["changed"]
    assert b'data-testid="replacement-changed"' in again.content
    desk.thursday.refresh_from_db()
    assert desk.thursday.status == AppointmentStatus.BOOKED, "nothing is cancelled"
    assert sorted(a.pk for a in desk.plan.appointments.all()) == before, "nothing is booked"
    now_shown = again.context["replacement"]
    assert now_shown and now_shown != shown
    desk.rebook(again.context["shown"])
    desk.thursday.refresh_from_db()
    assert desk.thursday.status == AppointmentStatus.CANCELLED
    assert sorted(a.starts_at for a in desk.plan.appointments.exclude(pk__in=before)) == now_shown


def test_a_rebook_the_screening_refuses_still_cancels_and_says_why(desk):
    """The screening refuses the replacement (a booking like any other): the cancel stands and the
    desk is told nothing was rebooked, as before; it is not taken for a replacement gone meanwhile."""
    from tests.scheduling.test_plan_changes_keep_the_rules import _flag_psychosis

    _flag_psychosis(desk.plan, desk.clinic)
    page = desk.rebook(desk.page.context["shown"], follow=True)
    desk.thursday.refresh_from_db()
    assert desk.thursday.status == AppointmentStatus.CANCELLED
    assert "Not rebooked: The patient&#x27;s screening needs a prescriber&#x27;s decision" in page.content.decode()
