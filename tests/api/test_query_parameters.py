"""A query parameter an endpoint does not read is a 400 naming it, on the endpoints that read their
query through a serializer as on the filtered lists (clinic/api_filters.py): ignored, a typo
answers as if no filter were given: `?sit=` gives every site's controlled-substance entries, the
board's `?day=` gives today's board, not the day asked for."""

from __future__ import annotations

import pytest

V1 = "/api/v1"


def _cases(world):
    site, patient = world.site.pk, world.appointment_b.patient_id
    return {
        "controlled-substance log": ("clinic_admin", f"{V1}/clinical/controlled-substance-log/?sit={site}"),
        "controlled-substance export": (
            "clinic_admin",
            f"{V1}/clinical/controlled-substance-log/export/?date_form=2026-01-01",
        ),
        "day board": ("front_desk", f"{V1}/sites/{site}/day-board/?day=2026-03-09"),
        "free slots": (
            "front_desk",
            f"{V1}/sites/{site}/free-slots/?duration_minutes=120&start_date=2026-03-09&end_date=2026-03-09&chiar=1",
        ),
        "outcomes": ("prescriber", f"{V1}/patients/{patient}/outcomes/?plan=1"),
    }


@pytest.mark.parametrize(
    "case", ["controlled-substance log", "controlled-substance export", "day board", "free slots", "outcomes"]
)
def test_a_parameter_the_endpoint_does_not_read_is_refused_by_name(world, case):
    role, url = _cases(world)[case]
    response = world.client(role).get(url)
    assert response.status_code == 400, (response.status_code, response.content[:200])
    fields = response.json()["error"]["fields"]
    assert set(fields) == {url.rsplit("&", 1)[-1].rsplit("?", 1)[-1].split("=")[0]}


def test_paging_and_format_still_pass_on_the_log(world):
    response = world.client("clinic_admin").get(f"{V1}/clinical/controlled-substance-log/?limit=1&offset=0&format=json")
    assert response.status_code == 200, response.content[:200]
    assert len(response.json()["results"]) <= 1


def test_the_parameters_an_endpoint_reads_still_work(world):
    response = world.client("front_desk").get(f"{V1}/sites/{world.site.pk}/day-board/?date=2026-03-09")
    assert response.status_code == 200
    assert response.json()["date"] == "2026-03-09"
