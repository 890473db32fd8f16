"""The start and completion gates, and the rules of each record."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from clinical import services
from clinical.errors import SessionRecordIncomplete, StartHeld
from clinical.models import Administration, ControlledSubstanceEntry, SideEffect, VitalSigns, VitalsPhase
from scheduling import services as scheduling
from scheduling.errors import InvalidInput, InvalidState
from scheduling.models import AppointmentStatus
from tests.clinical.conftest import AT_CHAIR, SESSION_START
from tests.clinical_helpers import record_pre_vitals, record_session_for_completion

pytestmark = pytest.mark.django_db


def _start(ward):
    return scheduling.appointment_start(appointment=ward.session, actor=ward.nurse.user, now=AT_CHAIR)


def _administer(ward, **overrides):
    values = {
        "appointment": ward.session,
        "route": "iv",
        "dose_mg_per_kg": Decimal("0.5"),
        "weight_kg": Decimal("80"),
        "total_mg": Decimal("40"),
        "started_at": SESSION_START + dt.timedelta(minutes=10),
        "ended_at": SESSION_START + dt.timedelta(minutes=50),
        "lot_number": "KX-2231",
        "given_by": ward.nurse,
        "actor": ward.nurse.user,
        "now": SESSION_START + dt.timedelta(minutes=50),
    }
    return services.administration_record(**{**values, **overrides})


# --- Start gate -----------------------------------------------------------------------


def test_start_without_pre_infusion_vitals_is_held(ward):
    with pytest.raises(StartHeld, match="Record pre-infusion vitals first") as caught:
        _start(ward)
    assert caught.value.details == {"reasons": ["Record pre-infusion vitals first"]}
    ward.session.refresh_from_db()
    assert ward.session.status == AppointmentStatus.CHECKED_IN


def test_high_blood_pressure_holds_the_start_naming_the_reading_and_the_limit(ward):
    record_pre_vitals(ward.session, ward.nurse.user, systolic=172, diastolic=96)
    with pytest.raises(StartHeld) as caught:
        _start(ward)
    assert caught.value.reasons == ["Blood pressure 172/96 is above the clinic's limit of 160 systolic"]
    assert caught.value.code == "start_held" and caught.value.http_status == 409


def test_every_reading_outside_the_limits_is_listed(ward):
    record_pre_vitals(ward.session, ward.nurse.user, systolic=150, diastolic=104, heart_rate=118, spo2=90)
    with pytest.raises(StartHeld) as caught:
        _start(ward)
    assert caught.value.reasons == [
        "Blood pressure 150/104 is above the clinic's limit of 100 diastolic",
        "Heart rate 118 is above the clinic's limit of 110",
        "SpO2 90% is below the clinic's limit of 92%",
    ]


def test_normal_pre_infusion_vitals_let_the_session_start(ward):
    record_pre_vitals(ward.session, ward.nurse.user)
    assert _start(ward).status == AppointmentStatus.IN_CHAIR


def test_a_repeat_reading_back_within_limits_lets_the_session_start(ward):
    record_pre_vitals(ward.session, ward.nurse.user, systolic=172, diastolic=96, now=SESSION_START)
    record_pre_vitals(
        ward.session, ward.nurse.user, systolic=150, diastolic=90, now=SESSION_START + dt.timedelta(minutes=3)
    )
    assert _start(ward).status == AppointmentStatus.IN_CHAIR


def test_limits_are_the_clinics_data(ward):
    thresholds = services.thresholds_for(site=ward.clinic.site)
    assert (thresholds.systolic_max, thresholds.diastolic_max, thresholds.heart_rate_max, thresholds.spo2_min) == (
        160,
        100,
        110,
        92,
    )
    thresholds.systolic_max = 180
    thresholds.save()
    record_pre_vitals(ward.session, ward.nurse.user, systolic=172, diastolic=96)
    assert _start(ward).status == AppointmentStatus.IN_CHAIR


def test_a_prescribers_clearance_lets_a_held_session_start(ward):
    record_pre_vitals(ward.session, ward.nurse.user, systolic=172, diastolic=96, now=SESSION_START)
    clearance = services.start_clear(
        appointment=ward.session,
        prescriber=ward.prescriber,
        reason="Usual white-coat reading; 158 at home",
        now=SESSION_START + dt.timedelta(minutes=2),
    )
    assert "172/96" in clearance.held_for
    assert _start(ward).status == AppointmentStatus.IN_CHAIR


def test_a_new_out_of_range_reading_after_the_clearance_holds_the_start_again(ward):
    record_pre_vitals(ward.session, ward.nurse.user, systolic=172, diastolic=96, now=SESSION_START)
    services.start_clear(
        appointment=ward.session,
        prescriber=ward.prescriber,
        reason="Anxious on arrival",
        now=SESSION_START + dt.timedelta(minutes=1),
    )
    record_pre_vitals(
        ward.session, ward.nurse.user, systolic=190, diastolic=110, now=SESSION_START + dt.timedelta(minutes=4)
    )
    with pytest.raises(StartHeld, match="190/110"):
        _start(ward)


def test_only_a_prescriber_clears_and_always_with_a_reason(ward):
    record_pre_vitals(ward.session, ward.nurse.user, systolic=172, diastolic=96)
    with pytest.raises(InvalidInput, match="prescriber"):
        services.start_clear(appointment=ward.session, prescriber=ward.nurse, reason="Looks fine", now=AT_CHAIR)
    with pytest.raises(InvalidInput, match="reason"):
        services.start_clear(appointment=ward.session, prescriber=ward.prescriber, reason="  ", now=AT_CHAIR)
    assert not ward.session.start_clearances.exists()


def test_a_clearance_cannot_stand_in_for_missing_vitals_or_clear_nothing(ward):
    with pytest.raises(InvalidState, match="Record pre-infusion vitals first"):
        services.start_clear(appointment=ward.session, prescriber=ward.prescriber, reason="Trust me", now=AT_CHAIR)
    record_pre_vitals(ward.session, ward.nurse.user)
    with pytest.raises(InvalidState, match="not held"):
        services.start_clear(appointment=ward.session, prescriber=ward.prescriber, reason="Fine", now=AT_CHAIR)


def test_implausible_readings_are_refused_by_the_service_and_the_database(ward):
    with pytest.raises(InvalidInput, match="Systolic pressure 400"):
        record_pre_vitals(ward.session, ward.nurse.user, systolic=400)
    with pytest.raises(InvalidInput, match="below systolic"):
        record_pre_vitals(ward.session, ward.nurse.user, systolic=90, diastolic=95)
    with pytest.raises(IntegrityError), transaction.atomic():
        VitalSigns.objects.create(
            appointment=ward.session,
            phase=VitalsPhase.PRE,
            systolic=120,
            diastolic=80,
            heart_rate=72,
            spo2=30,
            recorded_by=ward.nurse.user,
            recorded_at=AT_CHAIR,
        )


def test_pre_infusion_vitals_are_taken_after_check_in(ward):
    ward.session.status = AppointmentStatus.BOOKED
    ward.session.save(update_fields=["status"])
    with pytest.raises(InvalidState, match="booked"):
        record_pre_vitals(ward.session, ward.nurse.user)


# --- Completion gate ---------------------------------------------------------------------


def test_completion_is_refused_until_administration_recovery_vitals_and_discharge_are_recorded(ward):
    record_pre_vitals(ward.session, ward.nurse.user)
    _start(ward)
    end = SESSION_START + dt.timedelta(minutes=100)

    def missing():
        with pytest.raises(SessionRecordIncomplete) as caught:
            scheduling.appointment_complete(appointment=ward.session, actor=ward.nurse.user, now=end)
        return caught.value.reasons

    assert missing() == [
        "record the administration (dose, lot number, who gave it)",
        "record recovery vitals",
        "record the discharge time and who drives the patient home",
    ]
    _administer(ward)
    assert missing() == ["record recovery vitals", "record the discharge time and who drives the patient home"]
    services.vitals_record(
        appointment=ward.session,
        phase=VitalsPhase.RECOVERY,
        systolic=130,
        diastolic=82,
        heart_rate=76,
        spo2=97,
        actor=ward.nurse.user,
        now=end - dt.timedelta(minutes=15),
    )
    assert missing() == ["record the discharge time and who drives the patient home"]
    services.recovery_record(
        appointment=ward.session,
        side_effects=[SideEffect.objects.get_or_create(code="dissociation", defaults={"label": "Dissociation"})[0]],
        other_side_effects="Mild headache",
        discharged_at=end - dt.timedelta(minutes=5),
        driver_name="Sam Diaz (husband)",
        actor=ward.nurse.user,
        now=end,
    )
    done = scheduling.appointment_complete(appointment=ward.session, actor=ward.nurse.user, now=end)
    assert done.status == AppointmentStatus.COMPLETED
    assert [e.code for e in ward.session.recovery.side_effects.all()] == ["dissociation"]


def test_the_shared_helper_records_a_completable_session(ward):
    record_session_for_completion(ward.session, ward.nurse.user)
    done = scheduling.appointment_complete(appointment=ward.session, actor=ward.nurse.user, now=ward.session.ends_at)
    assert done.status == AppointmentStatus.COMPLETED


def test_nothing_is_given_while_the_start_is_held(ward):
    record_pre_vitals(ward.session, ward.nurse.user, systolic=172, diastolic=96)
    with pytest.raises(StartHeld):
        _administer(ward)
    assert not Administration.objects.exists() and not ControlledSubstanceEntry.objects.exists()


def test_a_total_that_does_not_match_dose_times_weight_is_refused(ward):
    record_pre_vitals(ward.session, ward.nurse.user)
    with pytest.raises(InvalidInput, match=r"0.5 mg/kg × 80.0 kg = 40.0 mg"):
        _administer(ward, weight_kg=Decimal("80.0"), total_mg=Decimal("80"))


def test_the_administration_is_recorded_once(ward):
    record_pre_vitals(ward.session, ward.nurse.user)
    _administer(ward)
    with pytest.raises(InvalidState, match="already recorded"):
        _administer(ward)


def test_a_discharge_names_a_driver(ward):
    record_pre_vitals(ward.session, ward.nurse.user)
    with pytest.raises(InvalidInput, match="drives the patient home"):
        services.recovery_record(
            appointment=ward.session,
            side_effects=[],
            discharged_at=AT_CHAIR,
            driver_name=" ",
            actor=ward.nurse.user,
            now=AT_CHAIR,
        )
