"""Cursor pages (`?paging=cursor`, clinic.api.ClinicCursorPagination): a client walking a list while
the desk books holds its place, where offset pages shift (a row added before the page just read
pushes one row from that page onto the next, and the client sees it twice; a row removed makes it
skip one). They go by id (or -id) on every list, whatever its default order: DRF's cursor places
a page by the first ordering term alone, which failed on related terms (500s), on runs of more
than 1000 equal values (a walk that never ends) and put patients' names in the link. A cursor
this server did not write is a 404, never a 500. The offset pages stay the default, with a count."""

from __future__ import annotations

import base64
import datetime as dt

import pytest

from scheduling.models import Appointment
from tests.factories import AppointmentFactory
from tests.scheduling.conftest import NOW  # the instant the world is frozen at

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


def test_cursor_pages_hold_their_place_when_a_row_is_added_or_removed(world):
    desk = world.client("front_desk")
    before = _walk(desk, f"{V1}/appointments/?paging=cursor&limit=3")
    seen = _walk(desk, f"{V1}/appointments/?paging=cursor&limit=3", lambda: _book_before_everything(world))
    new = Appointment.objects.order_by("-id").values_list("id", flat=True).first()
    assert seen == [*before, new], "every row once, in order; the new one, a higher id, last"

    # Leaving a filtered list (a session cancelled) while a client walks it.
    booked = _walk(desk, f"{V1}/appointments/?paging=cursor&limit=3&status=booked")
    cancelled = booked[1]  # on the first page, already read when it leaves
    after = _walk(
        desk,
        f"{V1}/appointments/?paging=cursor&limit=3&status=booked",
        lambda: Appointment.objects.filter(pk=cancelled).update(status="cancelled", cancelled_at=NOW),
    )
    assert after == booked, "every row once: none skipped, the one read before it left included"


def test_offset_pages_skip_a_row_when_one_already_read_leaves_the_list(world):
    """And the other way: with an offset, a row already read leaving the list pulls one row of the
    next page onto the page just read, and the client never sees it."""
    desk = world.client("front_desk")
    everything = _walk(desk, f"{V1}/appointments/?limit=200&status=booked")
    first = everything[0]
    seen = _walk(
        desk,
        f"{V1}/appointments/?limit=3&status=booked",
        lambda: Appointment.objects.filter(pk=first).update(status="cancelled", cancelled_at=NOW),
    )
    assert set(everything) - set(seen), "an offset walk misses a row"


def test_cursor_pages_go_by_id_either_way_and_carry_no_count(world):
    desk = world.client("front_desk")
    first = desk.get(f"{V1}/appointments/?paging=cursor&limit=2&ordering=-id").json()
    assert "count" not in first and first["next"]
    for ordering in ("id", "-id"):
        seen = _walk(desk, f"{V1}/appointments/?paging=cursor&limit=2&ordering={ordering}")
        assert seen == _walk(desk, f"{V1}/appointments/?limit=200&ordering={ordering}")


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("paging=pages", "paging"),
        ("paging=cursor&offset=3", "offset"),
        ("paging=cursor&limit=zero", "limit"),
        ("paging=cursor&ordering=-starts_at", "ordering"),
    ],
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


def _walk_checked(client, url: str, most_pages: int = 50) -> list[int]:
    response = client.get(url)
    assert response.status_code == 200, response.content[:300]
    page = response.json()
    seen = [row["id"] for row in page["results"]]
    pages = 1
    while page.get("next"):
        pages += 1
        assert pages <= most_pages, f"the walk never ends: {len(seen)} rows seen, {len(set(seen))} distinct"
        response = client.get(page["next"])
        assert response.status_code == 200, response.content[:300]
        page = response.json()
        seen += [row["id"] for row in page["results"]]
    return seen


def _ids(client, url: str) -> list[int]:
    return sorted(row["id"] for row in client.get(url).json()["results"])


def test_cursor_pages_of_the_staff_list_go_by_id_though_it_lists_by_name(world):
    """The staff list's own order starts on a related field (user__last_name)."""
    desk = world.client("front_desk")
    assert _walk_checked(desk, f"{V1}/staff/?paging=cursor&limit=1") == _ids(desk, f"{V1}/staff/?limit=200")


def test_cursor_pages_of_the_controlled_substance_log(world):
    nurse = world.client("nurse")
    assert _walk_checked(nurse, f"{V1}/clinical/controlled-substance-log/?paging=cursor&limit=1") == [world.cs_entry.pk]


def test_cursor_pages_of_chairs_across_two_sites(module_world):
    """The chairs' own order starts on their site (a related row)."""
    admin = module_world.client("wide_admin")
    assert _walk_checked(admin, f"{V1}/chairs/?paging=cursor&limit=1") == _ids(admin, f"{V1}/chairs/?limit=200")


def _cursor(query: str) -> str:
    return base64.b64encode(query.encode()).decode()


@pytest.mark.parametrize(
    ("url", "place"),
    [("sites/?ordering=id", "p=abc"), ("appointments/?ordering=-id", "p=1.5"), ("appointments/?ordering=id", "p=%00")],
)
def test_a_tampered_cursor_is_a_client_error_not_a_500(world, url, place):
    client = world.client("clinic_admin" if url.startswith("sites") else "front_desk")
    response = client.get(f"{V1}/{url}&paging=cursor&cursor={_cursor(place)}")
    assert 400 <= response.status_code < 500, (response.status_code, response.content[:200])


def test_a_cursor_walk_over_a_long_history_sees_every_row_once(world):
    """1,500 completed sessions: DRF's cursor stepped through equal values by an offset capped at
    1000, so a walk by status repeated the same page forever; by id every row comes once."""
    chair = world.clinic.chairs[1]
    patient = world.appointment_a.patient
    start = dt.datetime(2024, 1, 1, 8, tzinfo=dt.UTC)
    Appointment.objects.bulk_create(
        Appointment(
            patient=patient,
            site=chair.site,
            chair=chair,
            starts_at=start + dt.timedelta(hours=3 * i),
            ends_at=start + dt.timedelta(hours=3 * i + 2),
            status="completed",
        )
        for i in range(1500)
    )
    seen = _walk_checked(world.client("front_desk"), f"{V1}/appointments/?paging=cursor&limit=200", most_pages=30)
    assert len(seen) == len(set(seen)) == Appointment.objects.filter(site=chair.site).count()


def test_previous_links_walk_back_over_the_same_rows(world):
    desk = world.client("front_desk")
    forward = _walk_checked(desk, f"{V1}/appointments/?paging=cursor&limit=2&ordering=-id")
    page = desk.get(f"{V1}/appointments/?paging=cursor&limit=2&ordering=-id").json()
    while page.get("next"):
        page = desk.get(page["next"]).json()
    backward = [row["id"] for row in page["results"]]
    while page.get("previous"):
        page = desk.get(page["previous"]).json()
        backward = [row["id"] for row in page["results"]] + backward
    assert backward == forward


def test_the_browsable_api_shows_a_cursor_page(world):
    response = world.client("front_desk").get(f"{V1}/appointments/?paging=cursor&limit=2&format=api")
    assert response.status_code == 200
    assert b"cursor=" in response.content


def test_the_schema_describes_the_page_a_cursor_request_answers(world):
    """A client generated from /api/schema/ validates a list answer against Paginated...List."""
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    page_schema = schema["components"]["schemas"]["PaginatedAppointmentList"]
    answer = world.client("front_desk").get(f"{V1}/appointments/?paging=cursor&limit=2").json()
    missing = [name for name in page_schema.get("required", []) if name not in answer]
    assert not missing, f"the schema requires {missing}, which a cursor page does not carry"


def test_a_cursor_link_carries_no_patients_name(world):
    """The link lands in the access log's path, proxies' logs and browser history."""
    from urllib.parse import parse_qs, urlsplit

    from patients.models import Patient

    page = world.client("front_desk").get(f"{V1}/patients/?paging=cursor&limit=1").json()
    assert page["next"]
    place = base64.b64decode(parse_qs(urlsplit(page["next"]).query)["cursor"][0]).decode()
    names = set(Patient.objects.values_list("last_name", flat=True))
    assert not any(name and name in place for name in names), place


@pytest.mark.parametrize("ordering", ["patient__full_name", "-given_by__display_name", "patient_name", "patient"])
def test_an_ordering_the_log_cannot_honour_is_a_400_not_a_500(world, ordering):
    response = world.client("nurse").get(f"{V1}/clinical/controlled-substance-log/?ordering={ordering}")
    assert response.status_code == 400, (response.status_code, response.content[:200])
