"""A chair out of use (a closure naming it), or its site closed, as the EHR reads it in Location and
Schedule: the chair's Location is `suspended` with operationalStatus v2-0116 C (Closed) while a
closure covers the moment of the request (the chair's own, its site's, or one for every site), an
inactive chair stays `inactive`; the site's Location is suspended and Closed only while the whole
site is closed; the chair's Schedule names the out-of-use periods of the next 31 days, in the site's
time zone, with their reasons. A page of Schedules or site Locations reads the closures in one query,
and nobody sees the chairs or closures of a site they do not work at.

The clock is fixed at NOW (Friday 27 February 2026, 15:00 UTC, 10:00 at the clinic in New York)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from knox.models import AuthToken

from clinic.models import Chair, Closure, Role
from tests.factories import ChairFactory, SiteFactory, StaffFactory, UserFactory
from tests.interop.fhir_support import BASE, parse
from tests.scheduling.conftest import NOW

NEW_YORK = ZoneInfo("America/New_York")
V2_0116 = "http://terminology.hl7.org/CodeSystem/v2-0116"
TODAY = NOW.astimezone(NEW_YORK).date()  # 2026-02-27


def at_clinic(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=NEW_YORK)


def days_after(days: int) -> dt.date:
    return TODAY + dt.timedelta(days=days)


def close(*, site, chair=None, starts_at, ends_at, reason="IV pump broken") -> Closure:
    return Closure.objects.create(site=site, chair=chair, starts_at=starts_at, ends_at=ends_at, reason=reason)


def out_of_use_now(chair: Chair, reason: str = "IV pump broken") -> Closure:
    """The chair out of use from 08:00 today (before NOW) to midnight."""
    return close(
        site=chair.site, chair=chair, starts_at=at_clinic(TODAY, 8), ends_at=at_clinic(days_after(1), 0), reason=reason
    )


def chair_location(world, chair, role="front_desk"):
    response = world.client(role).get(BASE + f"Location/chair-{chair.pk}")
    assert response.status_code == 200, response.content
    return parse(response)


def site_location(world, role="front_desk"):
    response = world.client(role).get(BASE + f"Location/site-{world.clinic.site.pk}")
    assert response.status_code == 200, response.content
    return parse(response)


def schedule(world, chair, role="front_desk"):
    response = world.client(role).get(BASE + f"Schedule/{chair.pk}")
    assert response.status_code == 200, response.content
    return parse(response)


def schedules(client, query: str = ""):
    bundle = parse(client.get(BASE + "Schedule" + query))
    return {int(entry.resource.id): entry.resource for entry in bundle.entry or []}


def is_closed(location) -> bool:
    """What the Location says: suspended and v2-0116 C, or active with no operational status."""
    if location.status == "suspended":
        status = location.operationalStatus
        assert status is not None and (status.system, status.code, status.display) == (V2_0116, "C", "Closed")
        return True
    assert location.status in ("active", "inactive") and location.operationalStatus is None, location
    return False


# --- The chair's Location ----------------------------------------------------------------


def test_a_chair_out_of_use_now_is_suspended_and_closed_and_the_other_chair_is_not(world):
    first, second = world.clinic.chairs
    assert chair_location(world, first).status == "active"
    assert not is_closed(chair_location(world, first))

    out_of_use_now(first)

    assert is_closed(chair_location(world, first))
    assert not is_closed(chair_location(world, second))
    assert chair_location(world, second).status == "active"
    # The chair's site is open: one chair out of use does not close it.
    assert not is_closed(site_location(world))


def test_a_chair_taken_out_of_use_later_today_is_active_now_and_closed_once_the_period_starts(world):
    first, _ = world.clinic.chairs
    close(site=first.site, chair=first, starts_at=at_clinic(TODAY, 14), ends_at=at_clinic(TODAY, 16))

    assert not is_closed(chair_location(world, first))
    assert schedule(world, first).comment.endswith(": 2026-02-27 14:00 to 2026-02-27 16:00, IV pump broken.")

    with time_machine.travel(at_clinic(TODAY, 14), tick=False):
        assert is_closed(chair_location(world, first))
        assert schedule(world, first).comment.endswith(", IV pump broken (now).")
    with time_machine.travel(at_clinic(TODAY, 16), tick=False):  # the period's end is not in it
        assert not is_closed(chair_location(world, first))
        assert "Out of use" not in schedule(world, first).comment


def test_a_period_that_ended_before_now_leaves_the_chair_active(world):
    first, _ = world.clinic.chairs
    close(site=first.site, chair=first, starts_at=at_clinic(TODAY, 6), ends_at=at_clinic(TODAY, 9, 59))
    assert not is_closed(chair_location(world, first))
    assert "Out of use" not in schedule(world, first).comment


def test_the_whole_site_closed_now_closes_every_chair_and_the_site(world):
    close(site=world.clinic.site, starts_at=at_clinic(TODAY, 0), ends_at=at_clinic(days_after(1), 0), reason="Storm")
    assert all(is_closed(chair_location(world, chair)) for chair in world.clinic.chairs)
    assert is_closed(site_location(world))


def test_a_closure_of_every_site_closes_this_sites_chairs_and_the_site(world):
    close(site=None, starts_at=at_clinic(TODAY, 0), ends_at=at_clinic(days_after(1), 0), reason="Staff training")
    assert all(is_closed(chair_location(world, chair)) for chair in world.clinic.chairs)
    assert is_closed(site_location(world))


def test_closures_at_another_site_close_nothing_here(world):
    elsewhere = SiteFactory()
    their_chair = ChairFactory(site=elsewhere)
    close(site=elsewhere, starts_at=at_clinic(TODAY, 0), ends_at=at_clinic(days_after(1), 0), reason="Flood")
    out_of_use_now(their_chair, reason="Their pump")

    assert not any(is_closed(chair_location(world, chair)) for chair in world.clinic.chairs)
    assert not is_closed(site_location(world))
    comments = " ".join(s.comment for s in schedules(world.client("front_desk")).values())
    assert "Flood" not in comments and "Their pump" not in comments and "Out of use" not in comments


def test_an_inactive_chair_stays_inactive_and_says_closed_only_while_a_closure_covers_now(world):
    first, _ = world.clinic.chairs
    Chair.objects.filter(pk=first.pk).update(active=False)

    inactive = chair_location(world, first)
    assert inactive.status == "inactive" and inactive.operationalStatus is None

    out_of_use_now(first)
    closed = chair_location(world, first)
    assert closed.status == "inactive"  # no longer used outranks temporarily closed
    assert (closed.operationalStatus.system, closed.operationalStatus.code) == (V2_0116, "C")


def test_a_patient_reads_the_chairs_closed_state_too(world):
    first, second = world.clinic.chairs
    out_of_use_now(first)
    assert is_closed(chair_location(world, first, role="patient_a"))
    assert not is_closed(chair_location(world, second, role="patient_a"))


# --- The site's Location search ------------------------------------------------------------


def test_the_location_search_shows_a_site_closed_now_and_not_one_closed_later(world):
    site = world.clinic.site
    desk = world.client("front_desk")

    def found():
        bundle = parse(desk.get(BASE + f"Location?name={site.name}"))
        assert bundle.total == 1
        return bundle.entry[0].resource

    out_of_use_now(world.clinic.chairs[0])  # a chair out of use leaves the site open
    close(site=site, starts_at=at_clinic(TODAY, 14), ends_at=at_clinic(days_after(1), 0), reason="Storm")
    assert not is_closed(found())

    close(site=site, starts_at=at_clinic(TODAY, 9), ends_at=at_clinic(TODAY, 13), reason="Fire drill")
    assert is_closed(found())


# --- The chair's Schedule ----------------------------------------------------------------


def test_the_schedule_names_the_chairs_periods_in_the_sites_time_zone_with_their_reasons(world):
    first, second = world.clinic.chairs
    site = world.clinic.site
    out_of_use_now(first)
    # 14:00 to 16:30 at the clinic on Monday 2 March: 19:00 to 21:30 UTC.
    close(site=site, chair=first, starts_at=at_clinic(days_after(3), 14), ends_at=at_clinic(days_after(3), 16, 30))
    close(site=site, starts_at=at_clinic(days_after(5), 0), ends_at=at_clinic(days_after(6), 0), reason="Storm")
    close(site=None, starts_at=at_clinic(days_after(7), 0), ends_at=at_clinic(days_after(8), 0), reason="Training")
    # Beyond the next 31 days, and the other chair's own period: not this chair's Schedule's.
    close(site=site, chair=first, starts_at=at_clinic(days_after(40), 9), ends_at=at_clinic(days_after(41), 9))
    out_of_use_now(second, reason="Recliner torn")

    comment = schedule(world, first).comment

    assert comment == (
        f"{first.name}: free times are computed on request (Slot search), never stored. "
        "Out of use in the next 31 days (times in America/New_York): "
        "2026-02-27 08:00 to 2026-02-28 00:00, IV pump broken (now); "
        "2026-03-02 14:00 to 2026-03-02 16:30, IV pump broken; "
        "2026-03-04 00:00 to 2026-03-05 00:00, site closed: Storm; "
        "2026-03-06 00:00 to 2026-03-07 00:00, every site closed: Training."
    )
    assert "Recliner torn" in schedule(world, second).comment
    assert "IV pump broken" not in schedule(world, second).comment


def test_a_chair_without_periods_keeps_its_plain_comment_and_the_schedule_stays_active(world):
    first, _ = world.clinic.chairs
    plain = schedule(world, first)
    assert plain.comment == f"{first.name}: free times are computed on request (Slot search), never stored."
    out_of_use_now(first)
    # A chair out of use for a period keeps its Schedule in use: its Slots there are busy.
    assert schedule(world, first).active is True
    assert parse(world.client("front_desk").get(BASE + "Schedule?active=true")).total == 2


def test_the_schedule_search_shows_each_chairs_own_periods(world):
    first, second = world.clinic.chairs
    out_of_use_now(first)
    close(
        site=world.clinic.site,
        chair=second,
        starts_at=at_clinic(days_after(1), 9),
        ends_at=at_clinic(days_after(1), 12),
        reason="Recliner torn",
    )

    found = schedules(world.client("front_desk"))

    assert set(found) == {first.pk, second.pk}
    assert "IV pump broken (now)" in found[first.pk].comment and "Recliner torn" not in found[first.pk].comment
    assert "2026-02-28 09:00 to 2026-02-28 12:00, Recliner torn." in found[second.pk].comment
    assert "IV pump broken" not in found[second.pk].comment


def test_staff_of_another_site_see_none_of_this_sites_chair_closures(world):
    first, _ = world.clinic.chairs
    out_of_use_now(first)
    elsewhere = SiteFactory()
    their_chair = ChairFactory(site=elsewhere)
    desk = StaffFactory(role=Role.FRONT_DESK, sites=[elsewhere], user=UserFactory(username="desk2"))
    world.tokens["elsewhere"] = AuthToken.objects.create(user=desk.user)[1]
    other = world.client("elsewhere")

    assert other.get(BASE + f"Location/chair-{first.pk}").status_code == 404
    assert other.get(BASE + f"Schedule/{first.pk}").status_code == 404
    found = schedules(other)
    assert set(found) == {their_chair.pk}
    assert "IV pump broken" not in found[their_chair.pk].comment
    assert not is_closed(parse(other.get(BASE + f"Location/chair-{their_chair.pk}")))


# --- One read of the closures per page ----------------------------------------------------


def _queries(client, path: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(BASE + path)
    assert response.status_code == 200, response.content
    return len(captured)


def test_a_page_of_schedules_reads_the_closures_in_one_query(world, django_assert_max_num_queries):
    desk = world.client("front_desk")
    site = world.clinic.site
    out_of_use_now(world.clinic.chairs[0])
    with_two_chairs = _queries(desk, "Schedule")

    for number in range(6):
        chair = ChairFactory(site=site, name=f"Extra {number}")
        out_of_use_now(chair, reason=f"Pump {number}")
        close(site=site, chair=chair, starts_at=at_clinic(days_after(2), 9), ends_at=at_clinic(days_after(2), 10))
    close(site=site, starts_at=at_clinic(days_after(4), 0), ends_at=at_clinic(days_after(5), 0), reason="Storm")

    with django_assert_max_num_queries(with_two_chairs):
        found = schedules(desk, "?_count=50")
    assert len(found) == 8
    assert all("Storm" in s.comment for s in found.values())
    assert sum("(now)" in s.comment for s in found.values()) == 7
    with CaptureQueriesContext(connection) as captured:
        desk.get(BASE + "Schedule?_count=50")
    assert sum('"clinic_closure"' in query["sql"] for query in captured.captured_queries) == 1


def test_a_page_of_site_locations_reads_the_closures_in_one_query(world, django_assert_max_num_queries):
    desk = world.client("front_desk")
    staff = world.clinic.front_desk
    with_one_site = _queries(desk, "Location")

    for number in range(4):
        site = SiteFactory(name=f"Annex {number}")
        staff.sites.add(site)
        close(site=site, starts_at=at_clinic(TODAY, 0), ends_at=at_clinic(days_after(1), 0), reason="Storm")

    with django_assert_max_num_queries(with_one_site):
        bundle = parse(desk.get(BASE + "Location?_count=50"))
    statuses = {entry.resource.name: is_closed(entry.resource) for entry in bundle.entry}
    assert statuses == {world.clinic.site.name: False, **{f"Annex {n}": True for n in range(4)}}


# --- What the server says it does ---------------------------------------------------------


def test_the_capability_statement_says_how_location_and_schedule_show_a_chair_out_of_use(world):
    statement = parse(world.client(None).get(BASE + "metadata"))
    by_type = {r.type: r for r in statement.rest[0].resource}
    location = by_type["Location"].documentation
    assert "operationalStatus" in location and V2_0116 in location and "suspended" in location
    assert "inactive" in location
    assert "31 days" in by_type["Schedule"].documentation
