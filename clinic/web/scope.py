"""Which sites a staff member works at. The pages of the waitlist, single-session
booking and moves filter through here, so centralised site scoping
(clinic/permissions.py) can replace this one function."""

from __future__ import annotations

from django.db.models import QuerySet

from clinic.models import Site, StaffMember


def staff_sites(staff: StaffMember) -> QuerySet[Site]:
    """The sites `staff` is assigned to; none means none (no silent fallback to every site)."""
    return staff.sites.order_by("name", "pk")
