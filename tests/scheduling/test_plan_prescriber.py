"""A plan's prescriber is a prescriber who can answer for it: active, and working at the plan's
site (a nurse who writes the plan up names them, through the API or the page)."""

from __future__ import annotations

import pytest

from clinic.models import Role
from scheduling.errors import InvalidInput
from scheduling.models import TreatmentPlan
from tests.factories import PatientFactory, SiteFactory, StaffFactory


def test_a_prescriber_of_another_site_cannot_be_named(clinic):
    elsewhere = StaffFactory(role=Role.PRESCRIBER, sites=[SiteFactory(name="Lakeside")])
    patient = PatientFactory(home_site=clinic.site)
    with pytest.raises(InvalidInput, match="active prescriber at the plan's site"):
        clinic.plan(patient=patient, prescriber=elsewhere)
    assert not TreatmentPlan.objects.filter(patient=patient).exists()


def test_an_inactive_prescriber_cannot_be_named(clinic):
    gone = StaffFactory(role=Role.PRESCRIBER, sites=[clinic.site], active=False)
    with pytest.raises(InvalidInput, match="active prescriber"):
        clinic.plan(prescriber=gone)


def test_a_prescriber_of_every_site_can_be_named(clinic):
    everywhere = StaffFactory(role=Role.PRESCRIBER, all_sites=True)
    assert clinic.plan(prescriber=everywhere).prescriber == everywhere
