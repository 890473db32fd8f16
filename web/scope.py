"""Which sites a staff member works at, for the pages of the waitlist, single-session
booking, moves and registration: the one rule in clinic/permissions.py (clinic-wide
staff see every site)."""

from __future__ import annotations

from django.db.models import QuerySet

from clinic.models import Site, StaffMember
from clinic.permissions import scope_to_staff


def staff_sites(staff: StaffMember) -> QuerySet[Site]:
    """The sites `staff` works at; none means none (no silent fallback to every site)."""
    return scope_to_staff(Site.objects.order_by("name", "pk"), staff)
