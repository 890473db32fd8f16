"""The session record keeps clinical order: the infusion starts after the pre-infusion vitals
(and after the prescriber's clearance when they held the start), ends after it starts, and the
discharge follows the end of the infusion by at least the monitoring period. The log page shows
site-local times."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.http import HttpRequest
from django.urls import reverse

from clinical import services
from clinical.models import Administration, ControlledSubstanceEntry
from scheduling.errors import InvalidInput
from tests.clinical.conftest import SESSION_START
from tests.clinical_helpers import record_pre_vitals, record_recovery_vitals
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db
VITALS_AT = SESSION_START + dt.timedelta(minutes=5)


def _administer(ward, **overrides):
    values = {
        "appointment": ward.session,
        "route": "iv",
        "dose_mg_per_kg": Decimal("0.5"),
        "weight_kg": Decimal("80"),
        "total_mg": Decimal("40"),
        "started_at": VITALS_AT + dt.timedelta(minutes=5),
        "ended_at": VITALS_AT + dt.timedelta(minutes=45),
        "lot_number": "KX-2231",
        "given_by": ward.nurse,
        "actor": ward.nurse.user,
        "now": VITALS_AT + dt.timedelta(minutes=50),
    }
    return services.administration_record(**{**values, **overrides})


def _recovery_vitals(ward, now):
    return record_recovery_vitals(ward.session, ward.nurse.user, now=now)


def _discharge(ward, discharged_at):
    return services.recovery_record(
        appointment=ward.session,
        side_effects=[],
        discharged_at=discharged_at,
        driver_name="Sam Diaz",
        actor=ward.nurse.user,
        now=SESSION_START + dt.timedelta(hours=3),
    )


def test_an_administration_starting_before_the_pre_infusion_vitals_is_refused(ward):
    record_pre_vitals(ward.session, ward.nurse.user, now=VITALS_AT)
    with pytest.raises(InvalidInput, match="must start after the pre-infusion vitals") as caught:
        _administer(ward, started_at=VITALS_AT - dt.timedelta(minutes=30))
    assert caught.value.details["field"] == "started_at"
    assert not Administration.objects.exists() and not ControlledSubstanceEntry.objects.exists()


def test_a_held_start_needs_the_administration_to_start_after_the_clearance(ward):
    record_pre_vitals(ward.session, ward.nurse.user, now=VITALS_AT, systolic=172, diastolic=96)
    cleared_at = VITALS_AT + dt.timedelta(minutes=20)
    services.start_clear(
        appointment=ward.session, prescriber=ward.prescriber, reason="Anxious; rechecked manually", now=cleared_at
    )
    with pytest.raises(InvalidInput, match="after the prescriber's clearance"):
        _administer(ward, started_at=VITALS_AT + dt.timedelta(minutes=10))
    given = _administer(
        ward,
        started_at=cleared_at + dt.timedelta(minutes=1),
        ended_at=cleared_at + dt.timedelta(minutes=41),
        now=cleared_at + dt.timedelta(minutes=41),
    )
    assert given.started_at > cleared_at


def test_an_administration_must_end_after_it_starts(ward):
    record_pre_vitals(ward.session, ward.nurse.user, now=VITALS_AT)
    with pytest.raises(InvalidInput, match="end after it starts"):
        _administer(ward, ended_at=VITALS_AT + dt.timedelta(minutes=5))


def test_discharge_in_the_minute_the_infusion_ends_is_refused_until_the_monitoring_period_is_over(ward):
    record_pre_vitals(ward.session, ward.nurse.user, now=VITALS_AT)
    given = _administer(ward)
    for too_soon in (
        given.ended_at,
        given.ended_at + dt.timedelta(seconds=59),
        given.ended_at + dt.timedelta(minutes=29),
    ):
        with pytest.raises(InvalidInput, match="at least 30 minutes of monitoring") as caught:
            _discharge(ward, too_soon)
        assert caught.value.details["field"] == "discharged_at"
    _recovery_vitals(ward, given.ended_at + dt.timedelta(minutes=20))
    recovery = _discharge(ward, given.ended_at + dt.timedelta(minutes=30))
    assert recovery.discharged_at == given.ended_at + dt.timedelta(minutes=30)


def test_the_monitoring_period_is_a_setting(ward, settings):
    settings.DISCHARGE_MIN_MONITORING_MINUTES = 60
    record_pre_vitals(ward.session, ward.nurse.user, now=VITALS_AT)
    given = _administer(ward)
    with pytest.raises(InvalidInput, match="at least 60 minutes"):
        _discharge(ward, given.ended_at + dt.timedelta(minutes=45))


def test_the_session_page_shows_the_order_problem_next_to_the_field_with_a_400(client, ward, time_machine):
    time_machine.move_to(VITALS_AT + dt.timedelta(minutes=60), tick=False)
    record_pre_vitals(ward.session, ward.nurse.user, now=VITALS_AT)
    assert client.login(request=HttpRequest(), username=ward.nurse.user.username, password=PASSWORD)
    zone = ward.clinic.site.zone
    early = (VITALS_AT - dt.timedelta(minutes=20)).astimezone(zone)
    late = (VITALS_AT + dt.timedelta(minutes=20)).astimezone(zone)
    response = client.post(
        reverse("clinical:session", args=[ward.session.pk]),
        {
            "form": "administration",
            "route": "iv",
            "dose_mg_per_kg": "0.5",
            "weight_kg": "80",
            "total_mg": "40",
            "started_at": early.strftime("%Y-%m-%dT%H:%M"),
            "ended_at": late.strftime("%Y-%m-%dT%H:%M"),
            "lot_number": "KX-1",
            "given_by": ward.nurse.pk,
        },
    )
    assert response.status_code == 400
    assert "must start after the pre-infusion vitals" in str(
        response.context["forms"]["administration"].errors["started_at"]
    )
    assert not Administration.objects.exists()


def test_the_controlled_substance_log_page_shows_site_local_times(client, ward, time_machine):
    time_machine.move_to(VITALS_AT + dt.timedelta(minutes=60), tick=False)
    record_pre_vitals(ward.session, ward.nurse.user, now=VITALS_AT)
    entry = _administer(ward).log_entries.get()
    assert client.login(request=HttpRequest(), username=ward.admin.user.username, password=PASSWORD)
    response = client.get(reverse("clinical:cs-log"))
    local = entry.recorded_at.astimezone(ward.clinic.site.zone)
    assert f"{local.day} {local:%b %Y, %H:%M} EST".encode() in response.content
    assert f"{entry.recorded_at:%H:%M}".encode() not in response.content


def test_recovery_and_discharge_are_refused_until_the_administration_is_recorded(ward):
    from clinic.errors import InvalidState
    from clinical.models import Recovery, VitalSigns

    record_pre_vitals(ward.session, ward.nurse.user, now=VITALS_AT)
    with pytest.raises(InvalidState, match="Record the administration first"):
        _discharge(ward, VITALS_AT + dt.timedelta(minutes=90))
    with pytest.raises(InvalidState, match="Record the administration first"):
        _recovery_vitals(ward, VITALS_AT + dt.timedelta(minutes=60))
    assert not Recovery.objects.exists()
    assert not VitalSigns.objects.filter(phase="recovery").exists()
    given = _administer(ward)
    _recovery_vitals(ward, given.ended_at + dt.timedelta(minutes=30))
    assert _discharge(ward, given.ended_at + dt.timedelta(minutes=45)).pk


def test_the_session_page_shows_a_discharge_before_the_administration_on_the_discharge_form(client, ward, time_machine):
    time_machine.move_to(VITALS_AT + dt.timedelta(minutes=90), tick=False)
    record_pre_vitals(ward.session, ward.nurse.user, now=VITALS_AT)
    assert client.login(request=HttpRequest(), username=ward.nurse.user.username, password=PASSWORD)
    discharged = (VITALS_AT + dt.timedelta(minutes=80)).astimezone(ward.clinic.site.zone)
    response = client.post(
        reverse("clinical:session", args=[ward.session.pk]),
        {"form": "recovery", "driver_name": "Sam Diaz", "discharged_at": discharged.strftime("%Y-%m-%dT%H:%M")},
    )
    assert response.status_code == 409
    errors = response.context["forms"]["recovery"].non_field_errors()
    assert any("Record the administration first" in e for e in errors)
    assert response.context.get("problem") is None
    assert "Recovery and discharge recorded" not in response.content.decode()


def test_an_administration_starting_in_the_vitals_own_minute_is_accepted(ward):
    """The form shows minutes: vitals at 10:05:40 and a start entered as 10:05 are in order."""
    record_pre_vitals(ward.session, ward.nurse.user, now=VITALS_AT + dt.timedelta(seconds=40))
    given = _administer(ward, started_at=VITALS_AT)
    assert given.started_at == VITALS_AT


def test_the_administration_form_defaults_to_no_earlier_than_the_last_vitals(client, ward, time_machine):
    """15:04 for a 15:45 session whose vitals were at 15:44 was refused when sent back unchanged."""
    record_pre_vitals(ward.session, ward.nurse.user, now=VITALS_AT + dt.timedelta(seconds=40))
    time_machine.move_to(VITALS_AT + dt.timedelta(minutes=1, seconds=20), tick=False)
    assert client.login(request=HttpRequest(), username=ward.nurse.user.username, password=PASSWORD)
    page = client.get(reverse("clinical:session", args=[ward.session.pk]))
    zone = ward.clinic.site.zone
    initial = page.context["forms"]["administration"].initial
    vitals_minute = VITALS_AT.astimezone(zone).replace(tzinfo=None)
    assert initial["started_at"] == vitals_minute
    assert initial["ended_at"] == (VITALS_AT + dt.timedelta(minutes=1)).astimezone(zone).replace(tzinfo=None)
    assert initial["started_at"] >= ward.session.starts_at.astimezone(zone).replace(tzinfo=None)


def test_the_controlled_substance_log_filters_by_the_sites_local_days(client, ward, time_machine):
    time_machine.move_to(VITALS_AT + dt.timedelta(minutes=60), tick=False)
    record_pre_vitals(ward.session, ward.nurse.user, now=VITALS_AT)
    # Recorded at 21:30 in New York on Monday 2 March: already Tuesday in UTC.
    evening = dt.datetime(2026, 3, 3, 2, 30, tzinfo=dt.UTC)
    entry = _administer(ward, now=evening).log_entries.get()
    assert entry.recorded_at == evening
    assert client.login(request=HttpRequest(), username=ward.admin.user.username, password=PASSWORD)
    monday = client.get(reverse("clinical:cs-log"), {"date_from": "2026-03-02", "date_to": "2026-03-02"})
    tuesday = client.get(reverse("clinical:cs-log"), {"date_from": "2026-03-03", "date_to": "2026-03-03"})
    assert monday.context["entries"] == [ControlledSubstanceEntry.objects.get(pk=entry.pk)]
    assert tuesday.context["entries"] == []
    assert b"Days are UTC" not in monday.content
