""" "Propose this" on a nearest course that fits at another site the desk works at proposes that
course at that site (not at the plan's site again), shows its times in that site's zone and names
the site, and "Book" books it there and goes to that site's board. A site the desk may not use is
a plain 400, telling nothing of it. Set up as in test_alternative_site_zone: the plan's site is in
Denver and closed from Mon 2 Mar 2026 for two months; East Side is in New York."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils.html import escape, strip_tags

from clinic.models import Role
from scheduling.models import Appointment, TreatmentPlan
from tests.factories import ChairFactory, SiteFactory, StaffFactory
from tests.scheduling.conftest import NOW, START, add_shifts
from tests.web.conftest import login
from tests.web.test_alternative_site_zone import two_zones  # noqa: F401  (fixture)

pytestmark = pytest.mark.django_db

DENVER, NEW_YORK = ZoneInfo("America/Denver"), ZoneInfo("America/New_York")


def _east_alternative(client, clinic, east, plan):
    login(client, clinic.front_desk.user)
    refused = client.post(reverse("web:book-course", args=[plan.pk]), {"start_date": START.isoformat()})
    assert refused.status_code == 409
    (alternative,) = [alt for alt in refused.context["alternatives"] if alt["site"] == east]
    return refused, alternative


def _proposal_section(response) -> str:
    return response.content.decode().split('id="proposal-h"')[1].split("</section>")[0]


def test_the_alternatives_form_carries_its_site(client, two_zones):  # noqa: F811
    clinic, east, plan = two_zones
    refused, alternative = _east_alternative(client, clinic, east, plan)
    section = refused.content.decode().split('id="alt-h"')[1].split("</section>")[0]
    form = next(part for part in section.split("<form")[1:] if "East Side" in part)
    assert f'name="site" value="{east.pk}"' in form
    assert f'name="start_date" value="{alternative["first_day"]:%Y-%m-%d}"' in form


def test_propose_this_on_another_sites_alternative_proposes_that_course_there(client, two_zones):  # noqa: F811
    clinic, east, plan = two_zones
    _, alternative = _east_alternative(client, clinic, east, plan)

    response = client.post(
        reverse("web:book-course", args=[plan.pk]),
        {"start_date": alternative["first_day"].isoformat(), "site": str(east.pk)},
    )

    assert response.status_code == 200, response.context.get("problem")
    rows = response.context["proposal"]
    assert [row["starts_at"] for row in rows] == alternative["starts"]
    assert {row["chair"].site_id for row in rows} == {east.pk}
    section = _proposal_section(response)
    assert "East Side" in strip_tags(section)
    first = rows[0]["starts_at"]
    there, here = first.astimezone(NEW_YORK), first.astimezone(DENVER)
    assert f"{there:%H:%M}–" in section
    assert f"{here:%H:%M}–" not in section
    # "Book" keeps the site: a fresh proposal (an expired token) is made there too.
    assert f'name="site" value="{east.pk}"' in section


def test_booking_another_sites_proposal_books_it_there_and_opens_that_sites_board(client, two_zones):  # noqa: F811
    clinic, east, plan = two_zones
    _, alternative = _east_alternative(client, clinic, east, plan)
    url = reverse("web:book-course", args=[plan.pk])
    proposed = client.post(url, {"start_date": alternative["first_day"].isoformat(), "site": str(east.pk)})
    shown = [row["starts_at"] for row in proposed.context["proposal"]]

    booked = client.post(
        url,
        {
            "start_date": alternative["first_day"].isoformat(),
            "site": str(east.pk),
            "proposal": proposed.context["token"],
        },
    )

    sessions = list(Appointment.objects.filter(plan=plan).order_by("starts_at"))
    assert [s.starts_at for s in sessions] == shown
    assert {s.site_id for s in sessions} == {east.pk}
    first_day = shown[0].astimezone(NEW_YORK).date()
    assert booked.status_code == 302
    assert booked["Location"] == f"{reverse('web:board')}?site={east.pk}&day={first_day.isoformat()}"
    # The plan stays at its site: course_book books the sessions' site and leaves the plan's alone.
    assert TreatmentPlan.objects.get(pk=plan.pk).site_id == clinic.site.pk


def test_an_expired_proposal_at_another_site_is_proposed_afresh_there(client, two_zones):  # noqa: F811
    clinic, east, plan = two_zones
    _, alternative = _east_alternative(client, clinic, east, plan)
    url = reverse("web:book-course", args=[plan.pk])
    data = {"start_date": alternative["first_day"].isoformat(), "site": str(east.pk)}
    token = client.post(url, data).context["token"]

    with time_machine.travel(NOW + dt.timedelta(hours=2), tick=False):
        client.logout()
        login(client, clinic.front_desk.user)
        response = client.post(url, {**data, "proposal": token})

    assert "That proposal has expired; here is a fresh one." in [str(m) for m in get_messages(response.wsgi_request)]
    assert response.status_code == 400
    assert {row["chair"].site_id for row in response.context["proposal"]} == {east.pk}
    assert not Appointment.objects.filter(plan=plan).exists()


@pytest.fixture
def west(two_zones):  # noqa: F811
    """A site with chairs and a nurse that the desk does not work at."""
    site = SiteFactory(name="Westward Secret Site", time_zone="America/Los_Angeles")
    ChairFactory(site=site, name="Hidden Chair 9")
    add_shifts(StaffFactory(role=Role.NURSE, sites=[site]), site, START - dt.timedelta(days=7), 90)
    return site


@pytest.mark.parametrize(
    "site_given",
    ["west", "unknown", "abc", "-3", "0", "1.5", "99999999999999999999999", " ", "1\x00"],
)
def test_a_site_the_desk_may_not_use_is_a_plain_400_that_tells_nothing_of_it(client, two_zones, west, site_given):  # noqa: F811
    clinic, _east, plan = two_zones
    login(client, clinic.front_desk.user)
    sent = {"west": str(west.pk), "unknown": str(west.pk + 1000)}.get(site_given, site_given)

    response = client.post(reverse("web:book-course", args=[plan.pk]), {"start_date": START.isoformat(), "site": sent})

    assert response.status_code == 400
    page = response.content.decode()
    assert "not one of the sites you work at" in page
    assert "Westward" not in page and "Hidden Chair" not in page
    assert not response.context.get("proposal")
    assert not response.context.get("alternatives")


def test_a_site_taken_from_the_desk_after_the_proposal_is_not_booked(client, two_zones):  # noqa: F811
    clinic, east, plan = two_zones
    _, alternative = _east_alternative(client, clinic, east, plan)
    url = reverse("web:book-course", args=[plan.pk])
    data = {"start_date": alternative["first_day"].isoformat(), "site": str(east.pk)}
    token = client.post(url, data).context["token"]
    clinic.front_desk.sites.remove(east)

    response = client.post(url, {**data, "proposal": token})

    assert response.status_code in (400, 409)
    assert not Appointment.objects.filter(plan=plan).exists()


def test_each_nearest_course_says_why_its_first_time_was_chosen(client, two_zones):  # noqa: F811
    clinic, east, plan = two_zones
    refused, alternative = _east_alternative(client, clinic, east, plan)
    first = alternative["first"].astimezone(NEW_YORK)
    # The reasons alone: the line already gives the first session's day and time.
    assert alternative["why"] and not alternative["why"].startswith(f"{first:%a %-d %b}"), alternative["why"]
    section = refused.content.decode().split('id="alt-h"')[1].split("</section>")[0]
    item = next(part for part in section.split("<li>")[1:] if "East Side" in part)
    assert f"Why this time: {escape(alternative['why'])}</small>" in item
    said = item.split('data-testid="alternative-why">')[1].split("</small>")[0]
    assert f"{first:%H:%M}" not in said and "Chair" not in said, said
