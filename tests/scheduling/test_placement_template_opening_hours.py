"""The day template is solved for the site's typical opening hours; on a day open other hours its
starts are not preferred (the day is placed as without a template). A site open Monday-Friday
08:00-18:00 and Saturday 09:00-13:00, one chair, one nurse, 120-minute sessions: the template's
starts are 08:00, 10:00, 12:00, 14:00, 16:00; a Saturday holds two sessions (09:00 and 11:00), and
the template's 10:00 would leave it room for one."""

from __future__ import annotations

import datetime as dt

import pytest

from scheduling.services.day_template import day_template_regenerate
from scheduling.services.slot_finder import find_free_slots, suggested
from tests.factories import PatientFactory
from tests.scheduling.conftest import make_clinic

pytestmark = pytest.mark.django_db
LATER = dt.datetime(2026, 3, 25, 18, tzinfo=dt.UTC)
SATURDAY = dt.date(2026, 4, 4)
MONDAY = dt.date(2026, 4, 6)
HOURS = {**{d: (dt.time(8), dt.time(18)) for d in range(5)}, 5: (dt.time(9), dt.time(13))}


def _suggestion(clinic, day):
    days = find_free_slots(
        site=clinic.site,
        patient=PatientFactory(home_site=clinic.site),
        first_day=day,
        last_day=day,
        duration=dt.timedelta(minutes=120),
        route=clinic.protocol.route,
        now=LATER,
    )
    return suggested(days)


@pytest.fixture
def clinic():
    clinic = make_clinic(chairs=1, nurses=1, placement_policy="level", hours=HOURS)
    template = day_template_regenerate(site=clinic.site, actor=clinic.prescriber.user, now=LATER)
    assert template.inputs["opening"] == ["08:00", "18:00"]
    assert "10:00" in {entry["start"] for entry in template.starts}
    return clinic


def test_on_a_shorter_saturday_the_suggestion_keeps_room_for_a_second_session(clinic):
    choice = _suggestion(clinic, SATURDAY)

    assert choice is not None
    start = choice.slot.start.astimezone(clinic.site.zone).time()
    # 09:00 or 11:00 leave the other free; 10:00 (the template's start) leaves 09:00-10:00 and
    # 12:00-13:00, neither long enough for a session: the Saturday then holds one, not two.
    assert start in (dt.time(9), dt.time(11)), start
    assert "no day template: it is for other opening hours" in choice.why


def test_on_a_day_open_the_templates_hours_its_starts_are_still_preferred(clinic):
    choice = _suggestion(clinic, MONDAY)

    assert choice is not None
    assert choice.slot.start.astimezone(clinic.site.zone).time() == dt.time(8)
    assert "a start of the day template" in choice.why
