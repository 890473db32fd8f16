"""built_once_per_module (tests/conftest.py) shares no build in a module where a database test does
not use the fixture: that test would see the built rows. The world is then built for each test."""

from __future__ import annotations

import pytest

from patients.models import Patient
from tests.api.conftest import frozen, world  # noqa: F401  (the fixtures)

pytestmark = pytest.mark.django_db


def test_a_test_of_the_world_gets_its_own_build(world, api_world_built):  # noqa: F811
    assert api_world_built is None
    assert Patient.objects.filter(pk=world.plan_b.patient_id).exists()


def test_a_database_test_without_the_world_sees_none_of_it():
    assert not Patient.objects.exists()
