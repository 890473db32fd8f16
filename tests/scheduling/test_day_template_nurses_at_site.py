"""The day template counts the nurses booking counts: a nurse taken off a site keeps the shifts
typed in there, but they no longer count (she is not booked there), as an inactive nurse's do not."""

from __future__ import annotations

import datetime as dt

import pytest

from scheduling.selectors import day_template_inputs
from scheduling.services.day_template import day_template_regenerate
from tests.scheduling.conftest import make_clinic

pytestmark = pytest.mark.django_db
LATER = dt.datetime(2026, 3, 25, 18, tzinfo=dt.UTC)


def test_a_nurse_taken_off_the_site_is_not_in_the_typical_days_nurse_shifts():
    clinic = make_clinic(chairs=3, nurses=2)
    gone = clinic.nurses[1]
    gone.sites.remove(clinic.site)  # her shifts there stay, but no longer count

    inputs = day_template_inputs(site=clinic.site, now=LATER)

    assert len(inputs.nurse_shifts) == 1


def test_a_nurse_of_every_site_still_counts_without_the_site_in_her_list():
    clinic = make_clinic(chairs=3, nurses=2)
    roaming = clinic.nurses[1]
    roaming.sites.remove(clinic.site)
    roaming.all_sites = True
    roaming.save(update_fields=["all_sites"])

    inputs = day_template_inputs(site=clinic.site, now=LATER)

    assert len(inputs.nurse_shifts) == 2


def test_the_template_holds_no_more_sessions_than_the_nurses_who_work_there_can_take():
    clinic = make_clinic(chairs=3, nurses=2)
    both = day_template_regenerate(site=clinic.site, actor=clinic.prescriber.user, now=LATER)
    gone = clinic.nurses[1]
    # With the second nurse inactive the template is the one nurse's day.
    gone.active = False
    gone.save(update_fields=["active"])
    one_nurse = day_template_regenerate(
        site=clinic.site, actor=clinic.prescriber.user, now=LATER + dt.timedelta(minutes=1)
    )
    # Active again, but taken off the site: she cannot be booked there either.
    gone.active = True
    gone.save(update_fields=["active"])
    gone.sites.remove(clinic.site)

    again = day_template_regenerate(site=clinic.site, actor=clinic.prescriber.user, now=LATER + dt.timedelta(minutes=2))

    assert both.sessions_per_day > one_nurse.sessions_per_day  # two nurses really hold more
    assert again.inputs["nurse_shifts"] == one_nurse.inputs["nurse_shifts"]
    assert again.sessions_per_day == one_nurse.sessions_per_day
