"""built_once_per_module (tests/conftest.py) shares no build in a module with a test that commits or
flushes: `reset_sequences=True` makes a TransactionTestCase, as `transaction=True` does, and its
flush cannot run inside the module's open transaction. The world is then built for each test."""

from __future__ import annotations

import pytest

from scheduling.models import TreatmentPlan
from tests.api.conftest import frozen, world  # noqa: F401  (the fixtures)


@pytest.mark.django_db
def test_a_test_of_the_world_gets_its_own_build(world, api_world_built):  # noqa: F811
    assert api_world_built is None
    assert TreatmentPlan.objects.filter(pk=world.plan_b.pk).exists()


@pytest.mark.django_db(reset_sequences=True)
def test_a_test_that_resets_the_sequences_gets_its_own_build_too(world, api_world_built):  # noqa: F811
    assert api_world_built is None
    assert TreatmentPlan.objects.filter(pk=world.plan_b.pk).exists()
