"""The clinic's side-effect list and the recoveries that name its entries."""

from __future__ import annotations

import datetime as dt

import pytest
from django.http import HttpRequest

from clinic.models import Role
from clinical import services
from clinical.models import Recovery, SideEffect
from tests.clinical.conftest import SESSION_START
from tests.clinical_helpers import record_administration, record_recovery_vitals
from tests.factories import PASSWORD, StaffFactory, UserFactory

pytestmark = pytest.mark.django_db
VITALS_AT = SESSION_START + dt.timedelta(minutes=5)


def _recovery_with(ward, effect: SideEffect) -> Recovery:
    record_administration(ward.session, ward.nurse.user, start=VITALS_AT)
    record_recovery_vitals(ward.session, ward.nurse.user, now=VITALS_AT + dt.timedelta(minutes=80))
    return services.recovery_record(
        appointment=ward.session,
        side_effects=[effect],
        discharged_at=VITALS_AT + dt.timedelta(minutes=90),
        driver_name="Sam Diaz",
        actor=ward.nurse.user,
        now=VITALS_AT + dt.timedelta(minutes=95),
    )


def test_deleting_a_side_effect_from_the_list_does_not_erase_it_from_recorded_recoveries(client, ward):
    """An entry of the clinic's side-effect list that a discharge names cannot be deleted in the
    admin (the link table would take it out of every recovery already recorded, with no history);
    it is retired with `active` instead."""
    nausea = SideEffect.objects.create(code="nausea-review", label="Nausea (review)")
    recovery = _recovery_with(ward, nausea)
    user = UserFactory(username="wide-admin", is_staff=True, is_superuser=True)
    StaffFactory(user=user, role=Role.CLINIC_ADMIN, all_sites=True)
    assert client.login(request=HttpRequest(), username=user.username, password=PASSWORD)
    client.post(f"/admin/clinical/sideeffect/{nausea.pk}/delete/", {"post": "yes"})
    recovery = Recovery.objects.get(pk=recovery.pk)
    assert list(recovery.side_effects.values_list("label", flat=True)) == ["Nausea (review)"], (
        "the discharge no longer records the side effect the nurse ticked"
    )
