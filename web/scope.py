"""Which sites a staff member works at, for the pages of the waitlist, single-session
booking, moves and registration: the one rule in clinic/permissions.py (clinic-wide
staff see every site). And what a member of staff may book on a patient's open plan
(`booking_reach`), the one test of the booking page and of the chart that links to it; and whose
make-up of a course it is to book (`make_up_elsewhere`), the one test of the make-up page and of
the "Book a make-up" links of the chart, the board and the sessions-to-move list."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import F, QuerySet

from clinic.models import Site, StaffMember
from clinic.permissions import scope_to_staff, site_ids, works_at
from scheduling.models import Appointment, Phase, TreatmentPlan
from scheduling.services.courses import induction_site, induction_sites


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


def course_elsewhere(site: Site) -> str:
    """Why a desk is offered no make-up time: the course is at `site`, where they do not work."""
    return f"This course is at {site.name}, where you do not work: a desk there books its make-up."


def make_up_elsewhere(staff: StaffMember, plan: TreatmentPlan) -> Site | None:
    """The site of `plan`'s induction course when `staff` does not work there: its make-up is
    booked there, by a desk of that site (the make-up page offers `staff` none of its times and
    says `course_elsewhere`). None when the make-up is theirs to book, or the plan is not in its
    induction. No query for staff of every site; one (courses.induction_site) otherwise."""
    if plan.phase != Phase.INDUCTION or site_ids(staff) is None:
        return None
    course_site = induction_site(plan)
    return None if works_at(staff, course_site) else course_site


def mark_make_up_elsewhere(appointments: Iterable[Appointment], staff: StaffMember) -> None:
    """Set `make_up_elsewhere` on each session marked "Course short" (web.common.mark_plan_attention)
    to the words that replace its "Book a make-up" link for `staff` who do not work at the course's
    site ("" when the link serves them). No query for staff of every site; else at most three for
    any number of short courses listed (their staff's sites, their sessions away from those, and
    courses.induction_sites for the courses that have one), and a fourth for the sites of plans whose
    round has no session left when they were not loaded with them."""
    rows = list(appointments)
    for appointment in rows:
        appointment.make_up_elsewhere = ""  # type: ignore[attr-defined]
    ids = site_ids(staff)
    plans = {a.plan_id: a.plan for a in rows if getattr(a, "course_short", 0) and a.plan_id is not None}
    if ids is None or not plans:
        return
    # Only a course with a session (or, with none, a plan) at a site `staff` does not work at can
    # be at such a site (courses.induction_site: the site of one of its sessions, else the plan's).
    maybe_elsewhere = {pk for pk, plan in plans.items() if plan.site_id not in ids} | set(
        Appointment.objects.filter(plan_id__in=plans, phase=Phase.INDUCTION, induction_round=F("plan__induction_round"))
        .exclude(site_id__in=ids)
        .values_list("plan_id", flat=True)
        .distinct()
    )
    courses = induction_sites(plans[pk] for pk in maybe_elsewhere if plans[pk].phase == Phase.INDUCTION)
    said = {pk: course_elsewhere(site) for pk, site in courses.items() if site.pk not in ids}
    for appointment in rows:
        appointment.make_up_elsewhere = said.get(appointment.plan_id, "")  # type: ignore[attr-defined]
