"""A nurse an administrator takes off a site (her `sites`) keeps the shifts typed in there, but
they count for nothing: she is not booked there any more, and the sessions she had there are
listed to move, as when her shifts are removed or she is no longer active. A caller who names a
nurse with no shift at the site then is told so."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from clinic.models import Role, Shift
from scheduling.errors import BookingConflict, SchedulingError
from scheduling.selectors import TO_MOVE_HORIZON, sessions_to_move
from scheduling.services import appointment_book
from tests.factories import PatientFactory, SiteFactory, StaffFactory
from tests.scheduling.conftest import NOW, at_new_york, make_clinic, start_plus

pytestmark = pytest.mark.django_db
TUESDAY = start_plus(1)  # Tuesday 3 March 2026
WEDNESDAY = start_plus(2)


def _take_off_the_site(clinic, nurse) -> None:
    admin = StaffFactory(role=Role.CLINIC_ADMIN, sites=[clinic.site])
    client = APIClient()
    client.force_authenticate(admin.user)
    changed = client.patch(f"/api/v1/staff/{nurse.pk}/", {"sites": []}, format="json")
    assert changed.status_code == 200, changed.content
    nurse.sites.add(SiteFactory())  # she works elsewhere now
    assert Shift.objects.filter(staff=nurse, site=clinic.site, starts_at__date=WEDNESDAY).exists()


def test_her_booked_sessions_at_the_site_are_listed_to_move():
    clinic = make_clinic()
    nurse = clinic.nurses[0]
    (session,) = clinic.book(clinic.plan(), [at_new_york(TUESDAY, 10)])
    assert session.nurse_id == nurse.pk
    assert sessions_to_move(site=clinic.site, now=NOW, until=NOW + TO_MOVE_HORIZON) == []
    _take_off_the_site(clinic, nurse)
    (entry,) = sessions_to_move(site=clinic.site, now=NOW, until=NOW + TO_MOVE_HORIZON)
    assert entry.appointment.pk == session.pk
    assert entry.problem == "the nurse is not on shift then"


def test_she_is_not_booked_there_any_more_and_another_nurse_is():
    clinic = make_clinic(nurses=2)
    gone, staying = clinic.nurses
    _take_off_the_site(clinic, gone)
    for hour in (9, 10, 11, 12):
        booked = appointment_book(
            patient=PatientFactory(home_site=clinic.site),
            site=clinic.site,
            starts_at=at_new_york(WEDNESDAY, hour),
            actor=clinic.front_desk.user,
            now=NOW,
        )
        assert booked.nurse_id == staying.pk


def test_with_no_other_nurse_the_booking_is_refused_for_want_of_one():
    clinic = make_clinic()
    _take_off_the_site(clinic, clinic.nurses[0])
    with pytest.raises(SchedulingError, match="nurse"):
        appointment_book(
            patient=PatientFactory(home_site=clinic.site),
            site=clinic.site,
            starts_at=at_new_york(WEDNESDAY, 10),
            actor=clinic.front_desk.user,
            now=NOW,
        )


def test_a_named_nurse_with_no_shift_at_the_site_then_is_refused_in_words_whatever_the_chair():
    """The caller names the nurse and leaves the chair to the service: a nurse of another site,
    or of this one off shift then, is a conflict saying so, not a crash."""
    clinic = make_clinic()
    elsewhere = StaffFactory(role=Role.NURSE, sites=[SiteFactory()])
    for site_name in ("earliest", "level"):
        clinic.site.placement_policy = site_name
        clinic.site.save()
        with pytest.raises(BookingConflict) as refused:
            appointment_book(
                patient=PatientFactory(home_site=clinic.site),
                site=clinic.site,
                starts_at=at_new_york(WEDNESDAY, 10),
                nurse=elsewhere,
                actor=clinic.front_desk.user,
                now=NOW,
            )
        assert refused.value.details["reason"] == "nurse_off_shift"
