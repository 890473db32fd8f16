"""`clinic.permissions.sites_of`, the site list of the desk's and the capacity page's site picker,
agrees with every other site check: an inactive staff member works at no site."""

import pytest

from clinic.models import Role
from clinic.permissions import site_ids, sites_of
from tests.factories import SiteFactory, StaffFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("clinic_wide", [True, False])
def test_an_inactive_staff_member_works_at_no_site(clinic_wide):
    first = SiteFactory(name="Alpha")
    SiteFactory(name="Beta")
    member = StaffFactory(role=Role.FRONT_DESK, all_sites=clinic_wide, sites=[] if clinic_wide else [first])
    assert [site.name for site in sites_of(member)] == (["Alpha", "Beta"] if clinic_wide else ["Alpha"])
    member.active = False
    member.save()
    member.refresh_from_db()
    assert sites_of(member) == []
    assert site_ids(member) == frozenset()
