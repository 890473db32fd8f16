"""Cursor pages (`?paging=cursor`, clinic.api.ClinicCursorPagination): a client walking a list while
the desk books holds its place, where offset pages shift (a row added before the page just read
pushes one row from that page onto the next, and the client sees it twice; a row removed makes it
skip one). The offset pages stay the default, with their count."""

from __future__ import annotations

import datetime as dt

import pytest

from scheduling.models import Appointment
from tests.factories import AppointmentFactory

V1 = "/api/v1"


def _walk(client, url: str, before_second_page=None) -> list[int]:
    seen: list[int] = []
    page = client.get(url).json()
    seen += [row["id"] for row in page["results"]]
    if before_second_page is not None:
        before_second_page()
    while page.get("next"):
        page = client.get(page["next"]).json()
        seen += [row["id"] for row in page["results"]]
    return seen


def _book_before_everything(world) -> None:
    first = Appointment.objects.order_by("starts_at", "id").first()
    AppointmentFactory(
        patient=world.appointment_a.patient,
        chair=world.clinic.chairs[1],
        nurse=world.clinic.nurses[0],
        starts_at=first.starts_at - dt.timedelta(days=3),
    )


def test_offset_pages_show_a_row_twice_when_one_is_added_before_them(world):
    """What cursor pages are for: the default offset pages shift."""
    seen = _walk(world.client("front_desk"), f"{V1}/appointments/?limit=3", lambda: _book_before_everything(world))
    assert len(seen) != len(set(seen))


def test_cursor_pages_hold_their_place_when_a_row_is_added_before_them(world):
    desk = world.client("front_desk")
    before = _walk(desk, f"{V1}/appointments/?paging=cursor&limit=3")
    seen = _walk(desk, f"{V1}/appointments/?paging=cursor&limit=3", lambda: _book_before_everything(world))
    assert len(seen) == len(set(seen)), "no row twice"
    assert seen == before, "the rows after the first page are those that were there, in order"


def test_cursor_pages_follow_the_asked_order_and_carry_no_count(world):
    desk = world.client("front_desk")
    first = desk.get(f"{V1}/appointments/?paging=cursor&limit=2&ordering=-starts_at").json()
    assert "count" not in first and first["next"]
    seen = _walk(desk, f"{V1}/appointments/?paging=cursor&limit=2&ordering=-starts_at")
    offset = _walk(desk, f"{V1}/appointments/?limit=200&ordering=-starts_at")
    assert seen == offset


@pytest.mark.parametrize(
    ("query", "field"),
    [("paging=pages", "paging"), ("paging=cursor&offset=3", "offset"), ("paging=cursor&limit=zero", "limit")],
)
def test_paging_that_cannot_be_honoured_is_a_400_naming_it(world, query, field):
    response = world.client("front_desk").get(f"{V1}/appointments/?{query}")
    assert response.status_code == 400, response.content[:200]
    assert field in response.json()["error"]["fields"]


def test_a_patient_walks_only_their_own_sessions_by_cursor(world):
    patient = world.client("patient_b")
    seen = _walk(patient, f"{V1}/appointments/?paging=cursor&limit=2")
    owner = world.appointment_b.patient_id
    assert seen and set(Appointment.objects.filter(pk__in=seen).values_list("patient_id", flat=True)) == {owner}
