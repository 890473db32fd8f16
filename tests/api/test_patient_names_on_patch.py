"""The patients API stores names as every other write does."""

from __future__ import annotations

import unicodedata

V1 = "/api/v1"
COMPOSED = "Núñez"
DECOMPOSED = unicodedata.normalize("NFD", COMPOSED)


def test_a_patch_stores_a_name_in_the_one_composed_form_so_search_finds_it(world):
    """A name changed through PATCH is stored in one Unicode form (NFC), so the patient search finds it."""
    patient = world.appointment_a.patient
    desk = world.client("front_desk")

    changed = desk.patch(f"{V1}/patients/{patient.pk}/", {"last_name": DECOMPOSED}, format="json")
    assert changed.status_code == 200, changed.json()

    patient.refresh_from_db()
    assert unicodedata.is_normalized("NFC", patient.last_name), ascii(patient.last_name)
    found = desk.get(f"{V1}/patients/", {"search": COMPOSED}).json()["results"]
    assert [row["id"] for row in found] == [patient.pk]
