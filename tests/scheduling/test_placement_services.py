"""The site's placement policy in the services, the API and the pages: course proposals,
single bookings, the free-slot finder and the free-slots API follow it and say why."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse

from scheduling import services
from scheduling.engine.placement import Habits
from scheduling.models import Appointment, AppointmentStatus, DayTemplate, DayTemplateState
from scheduling.selectors import patient_habits, site_placement
from scheduling.services.slot_finder import find_free_slots, suggested
from tests.factories import PatientFactory
from tests.scheduling.conftest import NOW, START, make_clinic
from tests.scheduling.placement_reads import check, level_site_read_both_ways
from tests.web.conftest import login

TUESDAY_0800 = dt.datetime(2026, 3, 3, 13, tzinfo=dt.UTC)  # 08:00 in New York


@pytest.fixture
def level_clinic(db):
    return make_clinic(chairs=3, nurses=2, placement_policy="level")


def test_a_level_site_proposes_a_course_whose_every_session_says_why(level_clinic):
    proposal = services.course_propose(plan=level_clinic.plan(), start_date=START, now=NOW)
    assert len(proposal.sessions) == 6
    assert all(session.why for session in proposal.sessions)
    first = proposal.sessions[0]
    assert first.why.startswith(f"{first.starts_at.astimezone(level_clinic.site.zone):%a %-d %b %Y %H:%M}, Chair ")
    assert "keeps setups apart" in first.why


def test_an_earliest_site_says_its_times_are_the_earliest(db):
    clinic = make_clinic()
    proposal = services.course_propose(plan=clinic.plan(), start_date=START, now=NOW)
    assert all(session.why.endswith(": the earliest free time") for session in proposal.sessions)


def test_a_single_booking_at_a_level_site_takes_the_least_used_chair(level_clinic):
    other = PatientFactory(home_site=level_clinic.site)
    services.appointment_book(
        patient=other,
        site=level_clinic.site,
        starts_at=TUESDAY_0800 + dt.timedelta(hours=6),
        chair=level_clinic.chairs[0],
        actor=None,
        now=NOW,
    )
    booked = services.appointment_book(
        patient=PatientFactory(home_site=level_clinic.site),
        site=level_clinic.site,
        starts_at=TUESDAY_0800,
        actor=None,
        now=NOW,
    )
    assert booked.chair_id != level_clinic.chairs[0].pk


def test_a_single_booking_at_an_earliest_site_takes_the_first_free_chair(db):
    clinic = make_clinic(chairs=2, nurses=2)
    services.appointment_book(
        patient=PatientFactory(home_site=clinic.site),
        site=clinic.site,
        starts_at=TUESDAY_0800 + dt.timedelta(hours=6),
        chair=clinic.chairs[0],
        actor=None,
        now=NOW,
    )
    booked = services.appointment_book(
        patient=PatientFactory(home_site=clinic.site), site=clinic.site, starts_at=TUESDAY_0800, actor=None, now=NOW
    )
    assert booked.chair_id == clinic.chairs[0].pk


def test_the_free_slot_finder_marks_the_one_time_the_policy_suggests(level_clinic):
    patient = PatientFactory(home_site=level_clinic.site)
    days = find_free_slots(
        site=level_clinic.site,
        patient=patient,
        first_day=START,
        last_day=START + dt.timedelta(days=2),
        duration=dt.timedelta(minutes=120),
        route="iv",
        now=NOW,
    )
    marked = [choice for day in days for choice in day.choices if choice.why]
    assert len(marked) == 1 and marked[0] is suggested(days)
    assert "keeps setups apart" in marked[0].why


def test_a_level_course_moved_past_a_late_earliest_start_names_its_own_first_day(db):
    # Monday is closed, so the earliest course starts Tuesday; Tuesday afternoon is busy in both
    # chairs and Wednesday empty, so level starts on Wednesday. The note kept Tuesday.
    from clinic.models import Closure

    clinic = make_clinic(chairs=2, nurses=2, placement_policy="level")
    zone = clinic.site.zone
    monday, tuesday = START, START + dt.timedelta(days=1)
    Closure.objects.create(
        site=clinic.site,
        reason="Staff training",
        starts_at=dt.datetime.combine(monday, dt.time(0), tzinfo=zone),
        ends_at=dt.datetime.combine(tuesday, dt.time(0), tzinfo=zone),
    )
    for chair in clinic.chairs:
        services.appointment_book(
            patient=PatientFactory(home_site=clinic.site),
            site=clinic.site,
            starts_at=dt.datetime.combine(tuesday, dt.time(13), tzinfo=zone),
            chair=chair,
            actor=None,
            now=NOW,
        )
    proposal = services.course_propose(plan=clinic.plan(), start_date=monday, now=NOW)
    assert proposal.sessions[0].starts_at.astimezone(zone).date() == START + dt.timedelta(days=2)
    starts_notes = [note for note in proposal.notes if note.startswith("Starts ")]
    assert len(starts_notes) == 1, proposal.notes
    assert starts_notes[0].startswith("Starts Wed 4 Mar; Mon 2 Mar: the site is closed"), starts_notes
    assert "the quietest allowed day" in starts_notes[0], starts_notes


def test_the_patients_habits_come_from_the_sessions_they_attended(level_clinic):
    plan = level_clinic.plan()
    booked = services.course_book(plan=plan, actor=None, now=NOW, start_date=START)
    # A course just booked is no habit yet: its times are the planner's (or, for a session being
    # moved or a layout planned again, the very times being changed).
    assert patient_habits(plan.patient, site=level_clinic.site) == Habits(), "booked sessions count as habits"
    assert site_placement(level_clinic.site, patient=plan.patient).habits == Habits()
    attended = booked[:2]
    Appointment.objects.filter(pk__in=[a.pk for a in attended]).update(status=AppointmentStatus.COMPLETED)
    habits = patient_habits(plan.patient, site=level_clinic.site)
    assert habits.chair_id in {a.chair_id for a in attended}
    assert habits.weekday in {a.starts_at.astimezone(level_clinic.site.zone).weekday() for a in attended}
    assert site_placement(level_clinic.site, patient=plan.patient).habits == habits
    assert patient_habits(PatientFactory(home_site=level_clinic.site), site=level_clinic.site).weekday is None


def test_the_course_booking_page_shows_why_each_time_was_chosen(client, level_clinic, time_machine):
    time_machine.move_to(NOW, tick=False)
    plan = level_clinic.plan()
    login(client, level_clinic.front_desk.user)
    response = client.post(reverse("web:book-course", args=[plan.pk]), {"start_date": START.isoformat()})
    assert response.status_code == 200
    assert b"Why this time" in response.content
    assert b"keeps setups apart" in response.content


def test_the_cancel_and_rebook_page_says_why_each_replacement_time_was_chosen(client, level_clinic, time_machine):
    time_machine.move_to(NOW, tick=False)
    plan = level_clinic.plan()
    booked = services.course_book(plan=plan, actor=None, now=NOW, start_date=START)
    login(client, level_clinic.front_desk.user)
    response = client.post(
        reverse("web:appointment-action", args=[booked[2].pk, "cancel"]),
        {"reason": "Patient has the flu", "mode": "propose-rebook"},
    )
    assert response.status_code == 200, response.content[:500]
    rows = response.context["replacement_rows"]
    assert rows and all(row["why"] for row in rows)
    assert b'data-testid="replacement-why"' in response.content


def test_a_refused_course_offers_alternatives_placed_under_the_sites_policy(level_clinic):
    # Closed for the second and third week: six sessions cannot fit in 21 days from 2 March, so
    # the desk gets alternatives. At a level site they take the day template's starts, as a
    # proposal would; the earliest times would leave the template behind on the days they fill.
    from clinic.models import Closure
    from scheduling.errors import CourseDoesNotFit

    zone = level_clinic.site.zone
    Closure.objects.create(
        site=level_clinic.site,
        reason="Renovation",
        starts_at=dt.datetime(2026, 3, 9, tzinfo=zone),
        ends_at=dt.datetime(2026, 3, 21, tzinfo=zone),
    )
    template = {chair.pk: frozenset({dt.time(9, 30)}) for chair in level_clinic.chairs}
    with pytest.raises(CourseDoesNotFit) as caught:
        services.course_propose(plan=level_clinic.plan(), start_date=START, now=NOW, preferred_starts=template)
    alternatives = [a for a in caught.value.details["alternatives"] if a["site"] == level_clinic.site.pk]
    assert alternatives
    for alternative in alternatives:
        starts = [dt.datetime.fromisoformat(s["starts_at"].replace("Z", "+00:00")) for s in alternative["sessions"]]
        assert len(starts) == 6
        assert {start.astimezone(zone).time() for start in starts} == {dt.time(9, 30)}


def test_an_alternative_at_another_level_site_takes_that_sites_own_template_starts(level_clinic):
    # The course cannot fit at its own site (closed for two weeks); another site, level-loaded too,
    # has a day template of its own (Chair 2 at 10:30): the alternative there follows that site's
    # template, as a proposal made there would.
    from clinic.models import Closure
    from scheduling.errors import CourseDoesNotFit
    from scheduling.models import DayTemplate, DayTemplateState

    Closure.objects.create(
        site=level_clinic.site,
        reason="Renovation",
        starts_at=dt.datetime(2026, 3, 9, tzinfo=level_clinic.site.zone),
        ends_at=dt.datetime(2026, 3, 21, tzinfo=level_clinic.site.zone),
    )
    from clinic.models import Role
    from tests.factories import ChairFactory, SiteFactory, StaffFactory
    from tests.scheduling.conftest import add_shifts

    other = SiteFactory(name="Uptown", placement_policy="level")
    chair = [ChairFactory(site=other, name=f"Chair {i + 1}") for i in range(3)][1]
    add_shifts(StaffFactory(role=Role.NURSE, sites=[other]), other, START - dt.timedelta(days=7), 60)
    DayTemplate.objects.create(
        site=other,
        state=DayTemplateState.DONE,
        starts=[{"chair_id": chair.pk, "start": "10:30", "protocol_id": level_clinic.protocol.pk}],
        sessions_per_day=1,
        requested_at=NOW,
        computed_at=NOW,
    )
    with pytest.raises(CourseDoesNotFit) as caught:
        services.course_propose(plan=level_clinic.plan(), start_date=START, now=NOW)
    [there] = [a for a in caught.value.details["alternatives"] if a["site"] == other.pk]
    assert len(there["sessions"]) == 6
    for session in there["sessions"]:
        starts_at = dt.datetime.fromisoformat(session["starts_at"].replace("Z", "+00:00"))
        assert starts_at.astimezone(other.zone).time() == dt.time(10, 30)
        assert session["chair"] == chair.pk


def test_a_level_site_reads_what_placement_weighs_in_one_query(level_clinic, django_assert_num_queries):
    # The same read on SQLite: tests/test_embedded_booking.py.
    check(level_site_read_both_ways())
    site = level_clinic.site
    patient = PatientFactory(home_site=site)
    site_placement(site, patient=patient)  # prepares the statement on this connection
    with django_assert_num_queries(1):
        site_placement(site, patient=patient)


def test_the_free_slot_finder_suggests_the_chair_the_policy_takes_not_the_first_free_one(level_clinic):
    # The day template prefers 10:00 on the second chair only. The finder lists each time with
    # its first free chair; its suggestion weighs every chair, so it is 10:00 on the second chair,
    # as a level booking at that time would be.
    second = level_clinic.chairs[1]
    DayTemplate.objects.create(
        site=level_clinic.site,
        state=DayTemplateState.DONE,
        starts=[{"chair_id": second.pk, "start": "10:00", "protocol_id": None, "lane": 0}],
        sessions_per_day=1,
        requested_at=NOW,
        computed_at=NOW,
    )
    days = find_free_slots(
        site=level_clinic.site,
        patient=PatientFactory(home_site=level_clinic.site),
        first_day=START,
        last_day=START,
        duration=dt.timedelta(minutes=120),
        route="iv",
        now=NOW,
    )

    best = suggested(days)
    assert best is not None
    assert best.slot.start.astimezone(level_clinic.site.zone).time() == dt.time(10)
    assert best.slot.chair_id == second.pk
    assert "a start of the day template" in best.why
    # Every other time is still listed with its first free chair.
    assert all(c.slot.chair_id == level_clinic.chairs[0].pk for day in days for c in day.choices if c is not best)
