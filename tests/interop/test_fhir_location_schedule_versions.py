"""A Location's or Schedule's version (meta.versionId, the read's ETag) follows its content: the
content changes with time and data (a chair out of use is `suspended`, a Schedule names the closures
of the next 31 days), so a version fixed at "1" would let a client that caches by version keep stale
content. The version is a digest of what the resource says: it changes when that changes (a period
starts or ends, a closure is added within the horizon) and stays when it does not (two reads at
different instants of the same state, a closure past the horizon). A read with If-None-Match of the
current ETag answers 304 Not Modified; with an older one, 200 and the resource as it is now. These
resources keep no time of change (a closure's start passes, a row is deleted), so they carry no
meta.lastUpdated rather than a wrong one; old versions are not kept, so a vread answers only the
current version (tests/interop/test_fhir_vread.py).

The clock is fixed at NOW (Friday 27 February 2026, 15:00 UTC, 10:00 at the clinic in New York)."""

from __future__ import annotations

import datetime as dt

import time_machine

from clinic.models import Closure
from tests.interop.fhir_support import BASE, parse
from tests.interop.test_fhir_location_out_of_use import TODAY, at_clinic, close, days_after
from tests.scheduling.conftest import NOW


def read(world, path: str, role: str = "front_desk", **headers):
    return world.client(role).get(BASE + path, **headers)


def etag_of(world, path: str, role: str = "front_desk") -> str:
    """The read's ETag, checked against the body's meta.versionId."""
    response = read(world, path, role)
    assert response.status_code == 200, response.content
    resource = parse(response)
    assert resource.meta is not None and resource.meta.versionId
    assert response["ETag"] == f'W/"{resource.meta.versionId}"'
    return response["ETag"]


def chair_path(chair) -> str:
    return f"Location/chair-{chair.pk}"


# --- The chair's and the site's Location --------------------------------------------------


def test_a_chairs_location_version_differs_before_and_during_its_out_of_use_period(world):
    first, second = world.clinic.chairs
    close(site=first.site, chair=first, starts_at=at_clinic(TODAY, 14), ends_at=at_clinic(TODAY, 16))

    before = etag_of(world, chair_path(first))
    with time_machine.travel(at_clinic(TODAY, 11), tick=False):  # still open: the same state
        assert etag_of(world, chair_path(first)) == before
    with time_machine.travel(at_clinic(TODAY, 14), tick=False):
        during = etag_of(world, chair_path(first))
        assert parse(read(world, chair_path(first))).status == "suspended"
    with time_machine.travel(at_clinic(TODAY, 15, 30), tick=False):  # later inside the same period
        assert etag_of(world, chair_path(first)) == during
    with time_machine.travel(at_clinic(TODAY, 16), tick=False):  # open again: the content it had
        assert etag_of(world, chair_path(first)) == before

    assert during != before
    # The other chair's content never changed, nor did its version.
    with time_machine.travel(at_clinic(TODAY, 14), tick=False):
        unchanged = etag_of(world, chair_path(second))
    assert unchanged == etag_of(world, chair_path(second))


def test_a_site_locations_version_changes_while_the_whole_site_is_closed_and_not_for_one_chair(world):
    site_path = f"Location/site-{world.clinic.site.pk}"
    first, _ = world.clinic.chairs
    open_site = etag_of(world, site_path)

    close(site=first.site, chair=first, starts_at=at_clinic(TODAY, 8), ends_at=at_clinic(TODAY, 20))
    assert etag_of(world, site_path) == open_site  # one chair out of use leaves the site open

    close(site=first.site, starts_at=at_clinic(TODAY, 8), ends_at=at_clinic(TODAY, 20), reason="Flood")
    closed_site = etag_of(world, site_path)
    assert closed_site != open_site
    with time_machine.travel(at_clinic(TODAY, 19, 59), tick=False):
        assert etag_of(world, site_path) == closed_site


def test_a_chairs_location_version_changes_when_the_chair_is_renamed(world):
    first, _ = world.clinic.chairs
    before = etag_of(world, chair_path(first))
    first.name = "Recliner by the window"
    first.save(update_fields=["name"])
    assert etag_of(world, chair_path(first)) != before


# --- The chair's Schedule ----------------------------------------------------------------


def test_a_schedules_version_changes_when_a_closure_is_added_within_the_next_31_days(world):
    first, second = world.clinic.chairs
    path = f"Schedule/{first.pk}"
    plain = etag_of(world, path)

    # Past the horizon: the comment does not name it, the version stays.
    close(site=first.site, chair=first, starts_at=at_clinic(days_after(40), 9), ends_at=at_clinic(days_after(40), 17))
    assert etag_of(world, path) == plain

    close(site=first.site, chair=first, starts_at=at_clinic(days_after(3), 9), ends_at=at_clinic(days_after(3), 17))
    named = etag_of(world, path)
    assert named != plain
    with time_machine.travel(NOW + dt.timedelta(hours=2), tick=False):  # another instant, the same content
        assert etag_of(world, path) == named
    # A closure of the other chair changes only that chair's Schedule.
    second_before = etag_of(world, f"Schedule/{second.pk}")
    close(site=second.site, chair=second, starts_at=at_clinic(days_after(5), 9), ends_at=at_clinic(days_after(5), 17))
    assert etag_of(world, path) == named
    assert etag_of(world, f"Schedule/{second.pk}") != second_before


def test_a_schedules_version_changes_when_a_named_period_starts_and_when_a_closure_is_removed(world):
    first, _ = world.clinic.chairs
    path = f"Schedule/{first.pk}"
    closure = close(site=first.site, chair=first, starts_at=at_clinic(TODAY, 14), ends_at=at_clinic(TODAY, 16))
    ahead = etag_of(world, path)
    with time_machine.travel(at_clinic(TODAY, 14), tick=False):  # '(now)' after the period under way
        assert etag_of(world, path) != ahead
    Closure.objects.filter(pk=closure.pk).delete()
    assert etag_of(world, path) != ahead


def test_a_search_page_carries_the_same_versions_as_the_reads_and_no_last_updated(world):
    first, second = world.clinic.chairs
    close(site=first.site, chair=first, starts_at=at_clinic(TODAY, 8), ends_at=at_clinic(TODAY, 16))
    bundle = parse(read(world, "Schedule"))
    for entry in bundle.entry:
        assert f'W/"{entry.resource.meta.versionId}"' == etag_of(world, f"Schedule/{entry.resource.id}")
        assert entry.resource.meta.lastUpdated is None
    sites = parse(read(world, "Location"))
    for entry in sites.entry:
        assert f'W/"{entry.resource.meta.versionId}"' == etag_of(world, f"Location/{entry.resource.id}")
        assert entry.resource.meta.lastUpdated is None
    for chair in (first, second):
        assert parse(read(world, chair_path(chair))).meta.lastUpdated is None


# --- Conditional reads -------------------------------------------------------------------


def test_if_none_match_answers_304_while_the_chair_is_unchanged_and_200_once_it_is_out_of_use(world):
    first, _ = world.clinic.chairs
    close(site=first.site, chair=first, starts_at=at_clinic(TODAY, 14), ends_at=at_clinic(TODAY, 16))
    etag = etag_of(world, chair_path(first))

    with time_machine.travel(at_clinic(TODAY, 13, 59), tick=False):
        unchanged = read(world, chair_path(first), HTTP_IF_NONE_MATCH=etag)
    assert unchanged.status_code == 304
    assert unchanged.content == b""
    assert unchanged["ETag"] == etag

    with time_machine.travel(at_clinic(TODAY, 14), tick=False):
        changed = read(world, chair_path(first), HTTP_IF_NONE_MATCH=etag)
    assert changed.status_code == 200
    assert changed["ETag"] != etag
    assert parse(changed).status == "suspended"


def test_if_none_match_answers_200_with_the_new_schedule_once_a_closure_is_added(world):
    first, _ = world.clinic.chairs
    path = f"Schedule/{first.pk}"
    etag = etag_of(world, path)
    assert read(world, path, HTTP_IF_NONE_MATCH=etag).status_code == 304
    # A list of tags, one of them current; and the strong form of the same tag.
    assert read(world, path, HTTP_IF_NONE_MATCH=f'W/"other", {etag}').status_code == 304
    assert read(world, path, HTTP_IF_NONE_MATCH=etag.removeprefix("W/")).status_code == 304

    close(site=first.site, chair=first, starts_at=at_clinic(days_after(2), 9), ends_at=at_clinic(days_after(2), 17))
    changed = read(world, path, HTTP_IF_NONE_MATCH=etag)
    assert changed.status_code == 200
    assert "Out of use in the next 31 days" in parse(changed).comment
    assert read(world, path, HTTP_IF_NONE_MATCH=changed["ETag"]).status_code == 304


def test_if_none_match_answers_304_for_an_unchanged_patient_and_200_after_an_update(world):
    path = f"Patient/{world.patient_a.pk}"
    etag = etag_of(world, path)
    assert read(world, path, HTTP_IF_NONE_MATCH=etag).status_code == 304
    world.patient_a.first_name = "Alicia"
    with time_machine.travel(NOW + dt.timedelta(minutes=1), tick=False):  # a Patient's version is its updated_at
        world.patient_a.save()
    changed = read(world, path, HTTP_IF_NONE_MATCH=etag)
    assert changed.status_code == 200
    assert parse(changed).name[0].given == ["Alicia"]


def test_a_conditional_read_still_checks_who_is_asking(world):
    path = f"Patient/{world.patient_a.pk}"
    etag = etag_of(world, path)
    # Patient B cannot learn from a 304 that patient A's record is unchanged.
    assert read(world, path, "patient_b", HTTP_IF_NONE_MATCH=etag).status_code == 404
    assert read(world, path, None, HTTP_IF_NONE_MATCH=etag).status_code == 401


def test_practitioner_and_service_versions_follow_their_content(world):
    nurse = world.clinic.nurses[0]
    practitioner = etag_of(world, f"Practitioner/{nurse.pk}")
    nurse.user.last_name = "Renamed"
    nurse.user.save(update_fields=["last_name"])
    assert etag_of(world, f"Practitioner/{nurse.pk}") != practitioner

    protocol = world.protocol
    service = etag_of(world, f"HealthcareService/{protocol.pk}")
    assert etag_of(world, f"HealthcareService/{protocol.pk}") == service
    protocol.preparation_notes = "Fast for two hours before."
    protocol.save(update_fields=["preparation_notes"])
    assert etag_of(world, f"HealthcareService/{protocol.pk}") != service


# --- What the CapabilityStatement says ----------------------------------------------------


def test_the_capability_statement_says_reads_are_versioned_conditional_and_without_history(world):
    # vread is offered for the current version only: readHistory (past versions) stays false.
    statement = parse(world.client(None).get(BASE + "metadata"))
    resources = {r.type: r for r in statement.rest[0].resource}
    for name in ("Location", "Schedule", "Practitioner", "PractitionerRole", "HealthcareService", "Appointment"):
        entry = resources[name]
        assert entry.versioning == "versioned", name
        assert entry.conditionalRead == "not-match", name
        assert entry.readHistory is False, name
        assert "vread" in {i.code for i in entry.interaction}, name
    assert resources["Patient"].versioning == "versioned-update"
    assert resources["Patient"].conditionalRead == "not-match"
    assert "digest" in resources["Location"].documentation
    assert "lastUpdated" in resources["Schedule"].documentation


def test_an_old_version_cannot_be_read_by_history(world):
    first, _ = world.clinic.chairs
    etag = etag_of(world, chair_path(first))
    version = etag.removeprefix('W/"').removesuffix('"')
    assert read(world, f"{chair_path(first)}/_history/{version}")["ETag"] == etag  # the current one reads
    first.name = "Recliner by the window"
    first.save(update_fields=["name"])
    response = read(world, f"{chair_path(first)}/_history/{version}")
    assert response.status_code == 404
    outcome = parse(response)
    assert outcome.issue[0].code == "not-found"
    assert "only the current version" in outcome.issue[0].diagnostics
