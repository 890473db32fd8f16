"""built_once_per_module (tests/conftest.py): the API tests' world is built once for a module whose
database tests all use it, and each test still starts from the world as built, in the database and
in memory, whatever the tests before it wrote. Each turn below checks that first, then writes: in
any order, on any xdist worker, a turn after another on the same worker would see its writes."""

from __future__ import annotations

import pytest

from patients.models import Patient
from scheduling.models import AppointmentStatus, TreatmentPlan
from tests.api.conftest import frozen, world  # noqa: F401  (the fixtures)
from tests.factories import PatientFactory

pytestmark = pytest.mark.django_db

WRITTEN = "Written-by-a-test"


@pytest.mark.parametrize("turn", range(3))
def test_each_test_starts_from_the_world_as_built_whatever_the_others_wrote(world, api_world_built, turn):  # noqa: F811
    assert api_world_built is not None, "every database test of this module uses the world: one build"
    assert world is not api_world_built and world.plan_b is not api_world_built.plan_b
    # As built: in the database,
    assert not Patient.objects.filter(first_name=WRITTEN).exists()
    stored = TreatmentPlan.objects.get(pk=world.plan_b.pk)
    built = api_world_built.plan_b
    assert (stored.maintenance_interval_days, stored.version) == (built.maintenance_interval_days, built.version)
    assert built.maintenance_interval_days != 99
    # and in memory.
    assert (world.plan_b.maintenance_interval_days, world.plan_b.version) == (
        stored.maintenance_interval_days,
        stored.version,
    )
    assert world.appointment_b.status == api_world_built.appointment_b.status != AppointmentStatus.CANCELLED
    assert "written" not in world.users

    PatientFactory(first_name=WRITTEN, home_site=world.site)
    world.plan_b.maintenance_interval_days = 99
    world.plan_b.version += 1
    world.plan_b.save(update_fields=["maintenance_interval_days", "version"])
    world.appointment_b.status = AppointmentStatus.CANCELLED
    world.users["written"] = None
    assert Patient.objects.filter(first_name=WRITTEN).count() == 1
