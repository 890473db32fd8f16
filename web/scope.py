"""Which sites a staff member works at, for the pages of the waitlist, single-session
booking, moves and registration: the one rule in clinic/permissions.py (clinic-wide
staff see every site). And what a member of staff may book on a patient's open plan
(`booking_reach`), the one test of the booking page and of the chart that links to it."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import QuerySet

from clinic.models import Site, StaffMember
from clinic.permissions import scope_to_staff, works_at
from scheduling.models import Phase, TreatmentPlan
from scheduling.services.courses import induction_site


def staff_sites(staff: StaffMember) -> QuerySet[Site]:
    """The sites `staff` works at; none means none (no silent fallback to every site)."""
    return scope_to_staff(Site.objects.order_by("name", "pk"), staff)


@dataclass(frozen=True)
class BookingReach:
    """The open `plan` a member of staff may book on, and how far. `make_up_only_at` is set for
    staff who do not work at the plan's site but at the site its induction course was booked at
    (the nearest course at another site, "Book"): they book that course's make-up there, and
    nothing else of the plan (maintenance goes to the plan's site)."""

    plan: TreatmentPlan
    make_up_only_at: Site | None = None


def booking_reach(staff: StaffMember, plan: TreatmentPlan | None) -> BookingReach | None:
    """What `staff` may book on the patient's open `plan` (a draft or active one, read wherever it
    is); None when nothing: staff of neither the plan's site nor its course's see no plan."""
    if plan is None:
        return None
    if works_at(staff, plan.site_id):
        return BookingReach(plan=plan)
    # A course booked at another site than the plan's is made up for there, at the missed
    # session's site (courses.induction_site): a desk who works there books its make-up.
    course_site = induction_site(plan) if plan.phase == Phase.INDUCTION else None
    if course_site is None or not works_at(staff, course_site):
        return None
    return BookingReach(plan=plan, make_up_only_at=course_site)
