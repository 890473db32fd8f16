"""A cursor this server did not write is a client error, never a 500: a position in non-ASCII
digits ("²", which str.isdigit() takes and int() refuses) included, and a page size in them
(clinic.api._whole_number)."""

from __future__ import annotations

import base64

import pytest

V1 = "/api/v1"


def _cursor(query: str) -> str:
    return base64.b64encode(query.encode()).decode()


@pytest.mark.parametrize(
    "place",
    [
        "p=%C2%B2",  # "²": str.isdigit() is True, int() refuses it
        "p=%E2%91%A0",  # "①": likewise
        "p=99999999999999999999999999",  # beyond a bigint
        "p=%D9%A1%D9%A2",  # Arabic-Indic digits: int() takes them
    ],
)
def test_a_tampered_cursor_position_is_a_client_error_not_a_500(world, place):
    response = world.client("front_desk").get(f"{V1}/appointments/?paging=cursor&cursor={_cursor(place)}")
    assert 400 <= response.status_code < 500 or response.status_code == 200, (
        response.status_code,
        response.content[:200],
    )


@pytest.mark.parametrize("query", ["limit=%C2%B2", "paging=cursor&limit=%C2%B2", "limit=%E2%91%A0"])
def test_a_page_size_in_non_ascii_digits_is_a_400_not_a_500(world, query):
    """clinic.api._checked_limit: "²".isdigit() is True, int("²") raises ValueError."""
    response = world.client("front_desk").get(f"{V1}/appointments/?{query}")
    assert response.status_code == 400, (response.status_code, response.content[:200])
