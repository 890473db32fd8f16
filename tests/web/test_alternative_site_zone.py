"""The nearest courses that fit, offered when a course is refused, may be at another site the desk
works at: each says its times in its own site's zone, and names that zone when it is not the plan
site's, so the desk reads the time the patient will sit in the chair there. The plan's site is in
Denver and closed from Mon 2 Mar 2026 for two months; the other site is in New York (EST, two hours
ahead, the clocks change there on Sun 8 Mar)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from django.utils.html import strip_tags

from clinic.models import Closure, Role
from tests.factories import ChairFactory, SiteFactory, StaffFactory
from tests.scheduling.conftest import START, add_shifts, make_clinic
from tests.web.conftest import login, make_patient

pytestmark = pytest.mark.django_db

DENVER, NEW_YORK = ZoneInfo("America/Denver"), ZoneInfo("America/New_York")


@pytest.fixture
def two_zones(db, frozen):
    clinic = make_clinic(time_zone="America/Denver")
    Closure.objects.create(
        site=clinic.site,
        reason="Refurbishment",
        starts_at=dt.datetime.combine(START, dt.time(0), tzinfo=DENVER),
        ends_at=dt.datetime.combine(START + dt.timedelta(days=60), dt.time(0), tzinfo=DENVER),
    )
    east = SiteFactory(name="East Side", time_zone="America/New_York")
    ChairFactory(site=east, name="Chair 1")
    add_shifts(StaffFactory(role=Role.NURSE, sites=[east]), east, START - dt.timedelta(days=7), 90)
    clinic.front_desk.sites.add(east)
    plan = clinic.plan(patient=make_patient(clinic, "patient_c", "Cleo", "Cole"))
    return clinic, east, plan


def _refused(client, clinic, plan):
    login(client, clinic.front_desk.user)
    response = client.post(reverse("web:book-course", args=[plan.pk]), {"start_date": START.isoformat()})
    assert response.status_code == 409
    return response


def _alternatives_section(response) -> str:
    return response.content.decode().split('id="alt-h"')[1].split("</section>")[0]


def test_an_alternative_at_another_site_shows_its_times_in_that_sites_zone_and_names_it(client, two_zones):
    clinic, east, plan = two_zones
    response = _refused(client, clinic, plan)
    (alternative,) = [alt for alt in response.context["alternatives"] if alt["site"] == east]
    first = alternative["first"]
    there, here = first.astimezone(NEW_YORK), first.astimezone(DENVER)
    assert there.strftime("%H:%M") != here.strftime("%H:%M")
    section = _alternatives_section(response)
    assert f"first session {there:%a %-d %b, %H:%M} EST" in strip_tags(section)
    assert f"{here:%H:%M}" not in section
    assert 'time zone, America/New_York">EST</abbr>' in section
    assert f'name="start_date" value="{there:%Y-%m-%d}"' in section


def test_an_alternative_at_the_plans_own_site_names_no_zone(client, two_zones):
    clinic, _east, plan = two_zones
    Closure.objects.filter(site=clinic.site).delete()
    plan.review_date = dt.date(2026, 3, 16)
    plan.preferred_weekdays = [0, 2]
    plan.save(update_fields=["review_date", "preferred_weekdays"])
    response = _refused(client, clinic, plan)
    mine = [alt for alt in response.context["alternatives"] if alt["site"] == clinic.site]
    assert mine
    section = _alternatives_section(response)
    for alt in mine:
        local = alt["first"].astimezone(DENVER)
        assert f"first session {local:%a %-d %b, %H:%M}</span>" in section
    assert 'data-testid="alternative-zone"' not in section
