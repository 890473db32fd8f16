"""Odd paging input on cursor pages (clinic.api.ClinicPagination): a 400 or a 404 naming what is
wrong, never a 500."""

from __future__ import annotations

import pytest

V1 = "/api/v1"


@pytest.mark.parametrize(
    "query",
    [
        "paging=cursor&ordering=%20-id%20",
        "paging=cursor&ordering=",
        "paging=cursor&ordering=id,",
        "paging=cursor&ordering=-id&ordering=id",
        "paging=cursor&cursor=",
        "paging=cursor&cursor=%%%",
        "cursor=cD0x",
        "paging=offset&cursor=cD0x",
        "paging=cursor&limit=%20",
        "paging=cursor&status=booked&ordering=-id&limit=1",
    ],
)
def test_odd_cursor_paging_input_is_never_a_500(world, query):
    for role in ("front_desk", "patient_b"):
        response = world.client(role).get(f"{V1}/appointments/?{query}")
        assert response.status_code < 500, (query, role, response.status_code, response.content[:200])
        print(query, role, response.status_code)


def test_whitespace_around_minus_id_orders_by_minus_id(world):
    desk = world.client("front_desk")
    ids = [r["id"] for r in desk.get(f"{V1}/appointments/?paging=cursor&ordering=%20-id&limit=5").json()["results"]]
    assert ids == sorted(ids, reverse=True)
