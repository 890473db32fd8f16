"""Search pages hold their place: a Bundle's next and previous links carry a signed `_page` cursor
(the sort key of the page's last or first row), so a row added to or removed from the search while
an EHR walks it neither repeats a row nor skips one, as `_offset` paging did. A cursor is good only
for the search (resource type, parameters, user) it was written for, its length says nothing of the
key it seals, and a page that comes up empty still links to the rows on either side."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest

from clinic.models import Role
from patients.models import Patient
from scheduling.models import Appointment, AppointmentStatus
from tests.factories import ChairFactory, PatientFactory, StaffFactory, UserFactory
from tests.interop.fhir_support import BASE, parse
from tests.scheduling.conftest import NOW

pytestmark = pytest.mark.django_db


def _link(bundle, relation: str) -> str | None:
    url = next((link.url for link in bundle.link or [] if link.relation == relation), None)
    return url.replace("http://testserver", "") if url else None


def _ids(bundle) -> list[str]:
    return [entry.resource.id for entry in bundle.entry or []]


def _walk(client, first: str, between=lambda page: None) -> list[str]:
    """Every id a walk along the next links shows, calling `between` after each page."""
    shown: list[str] = []
    url: str | None = first
    page = 0
    while url:
        bundle = parse(client.get(url))
        shown += _ids(bundle)
        between(page)
        page += 1
        url = _link(bundle, "next")
        assert page < 50, "the next links go round"
    return shown


def _patients(world, *last_names: str) -> list[Patient]:
    return [
        PatientFactory(home_site=world.clinic.site, first_name="Pat", last_name=name, mrn=f"MRN-{name}")
        for name in last_names
    ]


def test_a_patient_registered_before_the_walks_place_repeats_nobody(world):
    # Adams, Brown (the world's) and Carter, Diaz, Evans: pages of two, by name.
    _patients(world, "Carter", "Diaz", "Evans")
    desk = world.client("front_desk")
    expected = [str(p.pk) for p in Patient.objects.order_by("last_name", "first_name", "pk")]

    def register_an_early_name(page: int) -> None:
        if page == 0:  # sorts first: an offset walk would show Brown again on page two
            _patients(world, "Aaron")

    shown = _walk(desk, BASE + "Patient?_count=2", register_an_early_name)
    assert shown == expected


def _sessions(world, count: int) -> list[Appointment]:
    """`count` sessions of patient A, a day apart, alternating chairs."""
    start = dt.datetime(2026, 3, 2, 15, tzinfo=dt.UTC)
    return [
        Appointment.objects.create(
            patient=world.patient_a,
            site=world.clinic.site,
            chair=world.clinic.chairs[day % 2],
            nurse=world.clinic.nurses[0],
            starts_at=start + dt.timedelta(days=day),
            ends_at=start + dt.timedelta(days=day, hours=2),
        )
        for day in range(count)
    ]


def test_a_session_gone_from_the_search_skips_nobody(world):
    sessions = _sessions(world, 5)
    desk = world.client("front_desk")

    def cancel_one_already_shown(page: int) -> None:
        if page == 0:  # the first leaves status=booked: an offset walk would skip the third
            Appointment.objects.filter(pk=sessions[0].pk).update(status=AppointmentStatus.CANCELLED, cancelled_at=NOW)

    shown = _walk(desk, BASE + "Appointment?status=booked&_count=2", cancel_one_already_shown)
    assert shown == [str(a.pk) for a in sessions]


def test_sessions_starting_together_are_each_shown_once(world):
    start = dt.datetime(2026, 3, 2, 15, tzinfo=dt.UTC)
    a, b = world.patient_a, world.patient_b
    first, second = world.clinic.chairs
    # Two sessions at each start, in two chairs: the id breaks the tie.
    for day, chair, patient in [(0, first, a), (0, second, b), (1, first, b), (1, second, a)]:
        Appointment.objects.create(
            patient=patient,
            site=world.clinic.site,
            chair=chair,
            nurse=world.clinic.nurses[0],
            starts_at=start + dt.timedelta(days=day),
            ends_at=start + dt.timedelta(days=day, hours=2),
        )
    expected = [str(a.pk) for a in Appointment.objects.order_by("starts_at", "pk")]
    assert len(expected) == 4
    assert _walk(world.client("front_desk"), BASE + "Appointment?_count=1") == expected


def test_a_previous_link_leads_back_to_the_page_before(world):
    _patients(world, "Carter", "Diaz", "Evans")
    desk = world.client("front_desk")
    first = parse(desk.get(BASE + "Patient?_count=2"))
    assert _link(first, "previous") is None
    second = parse(desk.get(_link(first, "next")))
    third = parse(desk.get(_link(second, "next")))
    assert _link(third, "next") is None
    back = parse(desk.get(_link(third, "previous")))
    assert _ids(back) == _ids(second)
    assert _ids(parse(desk.get(_link(back, "previous")))) == _ids(first)
    assert first.total == second.total == third.total == 5


def test_an_offset_is_still_read_and_its_links_hold_their_place(world):
    _patients(world, "Carter", "Diaz", "Evans")
    desk = world.client("front_desk")
    everyone = _ids(parse(desk.get(BASE + "Patient?_count=10")))
    from_offset = parse(desk.get(BASE + "Patient?_count=2&_offset=2"))
    assert _ids(from_offset) == everyone[2:4]
    assert _ids(parse(desk.get(_link(from_offset, "next")))) == everyone[4:]
    assert _ids(parse(desk.get(_link(from_offset, "previous")))) == everyone[:2]


def _query_with(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    query.update(changes)
    return f"{parts.path}?{urlencode(query)}"


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"_page": "not-a-cursor"}, "not a page link"),
        ({"name": "Brown"}, "another search"),  # a cursor carried to another query
        ({"_offset": "1"}, "not both"),
    ],
)
def test_a_cursor_that_is_not_this_searchs_is_a_400(world, change, words):
    _patients(world, "Carter")
    desk = world.client("front_desk")
    next_url = _link(parse(desk.get(BASE + "Patient?_count=1")), "next")
    response = desk.get(_query_with(next_url, **change))
    assert response.status_code == 400
    issue = response.json()["issue"][0]
    assert issue["code"] == "invalid" and words in issue["diagnostics"], issue


def test_a_tampered_cursor_is_a_400(world):
    _patients(world, "Carter")
    desk = world.client("front_desk")
    next_url = _link(parse(desk.get(BASE + "Patient?_count=1")), "next")
    cursor = dict(parse_qsl(urlsplit(next_url).query))["_page"]
    flipped = cursor[:-1] + ("A" if cursor[-1] != "A" else "B")
    response = desk.get(_query_with(next_url, _page=flipped))
    assert response.status_code == 400


def _slot(resource) -> tuple[dt.datetime, int]:
    """A Slot's place in the search: its start, then its chair (Schedule) id."""
    return resource.start, int(resource.schedule.reference.rpartition("/")[2])


def test_a_slot_walk_skips_no_free_time_when_a_shown_one_is_booked(world):
    """Slots are computed anew on every page: one booked from page one would shift an offset walk
    and hide free times at the top of page two."""
    desk = world.client("front_desk")
    query = BASE + f"Slot?service-type={world.protocol.pk}&start=ge2026-03-03&start=lt2026-03-04"
    assert parse(desk.get(query + "&_count=0")).total > 6
    first = parse(desk.get(query + "&_count=3"))
    booked = first.entry[0].resource
    Appointment.objects.create(
        patient=world.patient_a,
        site=world.clinic.site,
        chair_id=_slot(booked)[1],
        nurse=world.clinic.nurses[0],
        starts_at=booked.start,
        ends_at=booked.end,
    )
    now_free = [_slot(entry.resource) for entry in parse(desk.get(query + "&_count=500")).entry]
    last_shown = _slot(first.entry[-1].resource)
    assert now_free[3:6] != [s for s in now_free if s > last_shown][:3]  # an offset would shift here
    second = parse(desk.get(_link(first, "next")))
    shown = [_slot(entry.resource) for entry in second.entry]
    assert shown == [s for s in now_free if s > last_shown][:3]


def test_a_cursor_shows_no_patients_name(world):
    """Page links end up in access logs: the sort key they carry (the last patient's name) is sealed."""
    _patients(world, "Carter")
    desk = world.client("front_desk")
    first = parse(desk.get(BASE + "Patient?_count=1"))
    assert first.entry[0].resource.name[0].family == "Adams"
    cursor = dict(parse_qsl(urlsplit(_link(first, "next")).query))["_page"]
    for padding in ("", "=", "=="):
        try:
            opened = base64.urlsafe_b64decode(cursor + padding)
        except binascii.Error:
            continue
        assert b"Adams" not in opened and b"Alice" not in opened
    assert "Adams" not in cursor and "Alice" not in cursor


def test_another_users_cursor_is_a_400(world):
    _patients(world, "Carter")
    next_url = _link(parse(world.client("front_desk").get(BASE + "Patient?_count=1")), "next")
    response = world.client("prescriber").get(next_url)
    assert response.status_code == 400
    assert "another search" in response.json()["issue"][0]["diagnostics"]


# --- A cursor is its own search's, and an empty page still links on (a review's findings) -------


def _cursor(url: str) -> str:
    return dict(parse_qsl(urlsplit(url).query))["_page"]


def test_a_cursor_of_one_resource_type_is_refused_by_another_with_the_same_key_width(world):
    """PractitionerRole and Schedule both sort by id alone: a cursor carried from one to the other
    was taken, and the Schedules "after" a PractitionerRole's id were shown."""
    for number in range(3):
        ChairFactory(site=world.clinic.site, name=f"Extra {number}")
    admin = world.client("clinic_admin")
    foreign = _cursor(_link(parse(admin.get(BASE + "PractitionerRole?_count=1")), "next"))
    response = admin.get(BASE + "Schedule", {"_count": "50", "_page": foreign})
    assert response.status_code == 400
    assert "another search" in response.json()["issue"][0]["diagnostics"]


def test_a_cursor_refused_by_another_search_does_not_name_its_key(world):
    """A Practitioner cursor (a surname) on an Appointment search failed on the surname as a date,
    and the error named it: the digest is checked before the key is used."""
    for name in ("Quimby", "Rutherford"):
        StaffFactory(role=Role.NURSE, sites=[world.clinic.site], user=UserFactory(last_name=name))
    desk = world.client("front_desk")
    first = parse(desk.get(BASE + "Practitioner?_count=1"))
    response = desk.get(BASE + "Appointment", {"_page": _cursor(_link(first, "next"))})
    assert response.status_code == 400
    diagnostics = response.json()["issue"][0]["diagnostics"]
    assert first.entry[0].resource.name[0].family not in diagnostics and "another search" in diagnostics


def test_a_cursors_length_tells_nothing_of_the_name_it_holds(world):
    site = world.clinic.site
    short = PatientFactory(home_site=site, first_name="Al", last_name="Ab", mrn="X1")
    long = PatientFactory(home_site=site, first_name="Bartholomew", last_name="Abernathy-Smithsön", mrn="X2")
    desk = world.client("front_desk")
    first = parse(desk.get(BASE + "Patient?_count=1"))
    second = parse(desk.get(_link(first, "next")))
    assert _ids(first) == [str(short.pk)] and _ids(second) == [str(long.pk)]
    assert len(_cursor(_link(first, "next"))) == len(_cursor(_link(second, "next")))


def test_an_empty_previous_page_links_on_to_the_rows_still_after_it(world):
    _patients(world, "Carter", "Diaz")
    desk = world.client("front_desk")
    first = parse(desk.get(BASE + "Patient?_count=2"))
    second = parse(desk.get(_link(first, "next")))
    moved = [int(i) for i in _ids(first)]
    Patient.objects.filter(pk__in=moved).update(last_name="Zz")  # page one's rows now sort last
    back = parse(desk.get(_link(second, "previous")))
    assert _ids(back) == []
    onward = parse(desk.get(_link(back, "next")))
    assert _ids(onward) == _ids(second)  # Carter and Diaz, reached again


def test_an_empty_next_page_links_back(world):
    carter, diaz = _patients(world, "Carter", "Diaz")
    desk = world.client("front_desk")
    first = parse(desk.get(BASE + "Patient?_count=2"))
    Patient.objects.filter(pk__in=[carter.pk, diaz.pk]).update(last_name="Aa")  # now before Adams
    onward = parse(desk.get(_link(first, "next")))
    assert _ids(onward) == []
    back = parse(desk.get(_link(onward, "previous")))
    assert _ids(back) == _ids(first)


def test_an_offset_past_the_end_links_back_to_the_last_rows(world):
    _patients(world, "Carter", "Diaz", "Evans")
    desk = world.client("front_desk")
    everyone = _ids(parse(desk.get(BASE + "Patient?_count=10")))
    past = parse(desk.get(BASE + "Patient?_count=2&_offset=40"))
    assert _ids(past) == [] and _link(past, "next") is None
    assert _ids(parse(desk.get(_link(past, "previous")))) == everyone[-2:]
