"""List endpoints: paging is stable whatever `?ordering=` the client picks, and a query string
the list cannot honour (an unknown ordering, a filter value that is not a value, a malformed
page size, a filter name that does not exist, a naive or out-of-range datetime) is a 400 naming
it, never a 200 that silently answers a different question (clinic.api_filters).

Rules: the brief's "filters with invalid values answer 400 with a clear message instead of
silently ignoring"; docs/architecture.md, clinic/api_fields.py: "what every API input must
satisfy: dates in the clinical range, datetimes with an offset"; and common sense for a list a
desk or an EHR integration pages through: every row once, none skipped."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.factories import AppointmentFactory, PatientFactory

V1 = "/api/v1"


def _page_through(client, url: str, limit: int) -> tuple[list[int], int]:
    seen: list[int] = []
    offset = 0
    while True:
        body = client.get(f"{url}&limit={limit}&offset={offset}").json()
        seen += [row["id"] for row in body["results"]]
        if not body["next"]:
            return seen, body["count"]
        offset += limit


def _assert_400_naming(response, name: str) -> None:
    assert response.status_code == 400, (response.status_code, response.content[:300])
    assert name in response.json()["error"]["fields"], response.json()


@pytest.mark.parametrize("ordering", ["last_name", "-last_name", "date_of_birth"])
def test_paging_patients_ordered_by_a_shared_value_lists_each_patient_exactly_once(world, ordering):
    # Sixty patients of one family: the desk pages through them sorted by surname.
    for number in range(60):
        PatientFactory(home_site=world.site, last_name="Same", first_name=f"Pat{number:02d}")
    seen, count = _page_through(world.client("front_desk"), f"{V1}/patients/?ordering={ordering}", 7)
    assert len(seen) == count
    assert len(set(seen)) == count, f"{len(seen) - len(set(seen))} patients shown twice, as many never shown"


@pytest.mark.parametrize("ordering", ["status", "-status", "-starts_at"])
def test_paging_appointments_ordered_by_a_shared_value_lists_each_appointment_exactly_once(world, ordering):
    first = dt.datetime(2026, 6, 1, 13, tzinfo=dt.UTC)
    for day in range(30):
        # Two sessions start together every day (two chairs), as on any real board.
        for chair in world.clinic.chairs[:2]:
            AppointmentFactory(
                patient=PatientFactory(home_site=world.site), chair=chair, starts_at=first + dt.timedelta(days=day)
            )
    seen, count = _page_through(world.client("front_desk"), f"{V1}/appointments/?ordering={ordering}", 3)
    assert len(seen) == count
    assert len(set(seen)) == count, f"{len(seen) - len(set(seen))} sessions shown twice, as many never shown"


@pytest.mark.parametrize(
    "path, ordering",
    [
        ("appointments", "start_at"),  # a typo of starts_at
        ("appointments", "notes"),  # a clinicians-only field, asked by the front desk
        ("plans", "needs_attention"),  # a clinicians-only field, asked by the front desk
        ("patients", "birth_date"),
    ],
)
def test_an_ordering_the_list_cannot_honour_is_a_400_not_the_default_order(world, path, ordering):
    response = world.client("front_desk").get(f"{V1}/{path}/", {"ordering": ordering})
    _assert_400_naming(response, "ordering")


@pytest.mark.parametrize(
    "path, query, name",
    [
        ("patients", {"reminder_consent": "maybe"}, "reminder_consent"),
        ("patients", {"reminder_consent": "no"}, "reminder_consent"),
        ("chairs", {"active": "yes"}, "active"),
        ("protocols", {"active": "off"}, "active"),
    ],
)
def test_a_boolean_filter_with_a_value_that_is_not_a_boolean_is_a_400(world, path, query, name):
    # Today the filter is dropped: "?reminder_consent=no" lists the patients who consented too.
    response = world.client("front_desk").get(f"{V1}/{path}/", query)
    _assert_400_naming(response, name)


@pytest.mark.parametrize(
    "query, name", [({"limit": "abc"}, "limit"), ({"limit": "0"}, "limit"), ({"offset": "-5"}, "offset")]
)
def test_a_malformed_page_size_or_offset_is_a_400(world, query, name):
    response = world.client("front_desk").get(f"{V1}/appointments/", query)
    _assert_400_naming(response, name)


def test_an_unknown_filter_name_is_a_400_not_every_row(world):
    # `patient_id` for `patient`: today the answer is every patient's sessions at the site.
    response = world.client("front_desk").get(f"{V1}/appointments/", {"patient_id": world.appointment_a.patient_id})
    _assert_400_naming(response, "patient_id")


@pytest.mark.parametrize("name", ["starts_before", "ends_after"])
def test_a_naive_datetime_in_the_shift_filter_is_refused_like_every_other_datetime_filter(world, name):
    # /closures/ and /appointments/ refuse it (api_fields.IsoDateTimeFilter); /shifts/ reads it in the server's zone.
    response = world.client("front_desk").get(f"{V1}/shifts/", {name: "2026-03-01T00:00:00"})
    _assert_400_naming(response, name)


def test_a_datetime_outside_the_clinical_range_in_the_shift_filter_is_refused(world):
    response = world.client("front_desk").get(f"{V1}/shifts/", {"ends_after": "0001-01-01T00:00:00Z"})
    _assert_400_naming(response, "ends_after")
