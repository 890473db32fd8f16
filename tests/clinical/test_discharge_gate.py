"""The discharge follows recovery vitals taken after the infusion, within the site's limits (or a
prescriber's documented decision over them); the completion gate holds the same line whatever
order things were recorded in. The recovery form shows its errors beside their fields, and the
session page flags self-harm thoughts reported on the patient's latest PHQ-9."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.http import HttpRequest
from django.urls import reverse

from clinical import services
from clinical.errors import SessionRecordIncomplete
from clinical.models import Recovery, SideEffect
from measures.models import Source
from measures.services import questionnaire_submit
from scheduling import services as scheduling
from scheduling.errors import InvalidInput, InvalidState
from scheduling.models import AppointmentStatus
from tests.clinical.conftest import SESSION_START
from tests.clinical_helpers import record_administration, record_recovery_vitals
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db
# The administration runs 15:05–15:45 UTC; the monitoring period ends at 16:15.
ENDED = SESSION_START + dt.timedelta(minutes=45)
RECOVERY_AT = SESSION_START + dt.timedelta(minutes=75)
DISCHARGE_AT = SESSION_START + dt.timedelta(minutes=80)
NOW = SESSION_START + dt.timedelta(minutes=85)
NORMAL = {"systolic": 126, "diastolic": 80, "heart_rate": 74, "spo2": 98}
ABNORMAL = {"systolic": 188, "diastolic": 114, "heart_rate": 126, "spo2": 90}


def _recovery_vitals(ward, when=RECOVERY_AT, **readings):
    return record_recovery_vitals(ward.session, ward.nurse.user, now=when, **(readings or NORMAL))


def _discharge(ward, actor=None, *, discharged_at=DISCHARGE_AT, now=NOW, **extra):
    return services.recovery_record(
        appointment=ward.session,
        side_effects=[],
        discharged_at=discharged_at,
        driver_name="Sam Diaz",
        actor=actor or ward.nurse.user,
        now=now,
        **extra,
    )


def _complete(ward, now=NOW):
    return scheduling.appointment_complete(appointment=ward.session, actor=ward.nurse.user, now=now)


@pytest.fixture
def given(ward):
    """The session in the chair with its administration recorded (15:05–15:45)."""
    record_administration(ward.session, ward.nurse.user, start=SESSION_START)
    scheduling.appointment_start(appointment=ward.session, actor=ward.nurse.user, now=SESSION_START)
    return ward


# --- Finding 1: no discharge before recovery vitals --------------------------------------------


def test_a_discharge_without_recovery_vitals_is_refused(given):
    with pytest.raises(InvalidState, match=r"Record recovery \(post-infusion\) vitals first"):
        _discharge(given)
    assert not Recovery.objects.exists()


def test_recovery_vitals_after_the_infusion_then_the_discharge_is_recorded(given):
    _recovery_vitals(given)
    assert _discharge(given).driver_name == "Sam Diaz"
    assert _complete(given).status == AppointmentStatus.COMPLETED


def test_a_discharge_timed_before_the_latest_recovery_vitals_is_refused(given):
    _recovery_vitals(given, when=DISCHARGE_AT + dt.timedelta(minutes=3))
    with pytest.raises(InvalidInput, match=r"after the latest recovery vitals \(taken at 11:23\)") as caught:
        _discharge(given)
    assert caught.value.details["field"] == "discharged_at"


# --- Finding 2: abnormal recovery vitals -------------------------------------------------------


def test_abnormal_recovery_vitals_refuse_the_discharge_naming_them(given):
    _recovery_vitals(given, **ABNORMAL)
    with pytest.raises(InvalidState) as caught:
        _discharge(given)
    message = caught.value.message
    for words in ("Blood pressure 188/114", "Heart rate 126", "SpO2 90%", "Re-measure"):
        assert words in message
    assert not Recovery.objects.exists()
    with pytest.raises(SessionRecordIncomplete):
        _complete(given)


def test_a_normal_reading_taken_again_lets_the_discharge_through(given):
    _recovery_vitals(given, when=RECOVERY_AT - dt.timedelta(minutes=10), **ABNORMAL)
    _recovery_vitals(given)
    _discharge(given)
    assert _complete(given).status == AppointmentStatus.COMPLETED


def test_a_prescriber_discharges_over_abnormal_vitals_with_a_reason_kept_in_the_history(given):
    _recovery_vitals(given, **ABNORMAL)
    with pytest.raises(InvalidInput, match="Only a prescriber"):
        _discharge(given, override_reason="Looks fine to me")
    with pytest.raises(InvalidState, match="may record the discharge over these readings with a reason"):
        _discharge(given, actor=given.prescriber.user, override_reason="  ")
    recovery = _discharge(given, actor=given.prescriber.user, override_reason="Known hypertensive; reviewed")
    reason = recovery.history.latest().history_change_reason
    assert "Known hypertensive; reviewed" in reason and "188/114" in reason
    assert _complete(given).status == AppointmentStatus.COMPLETED


def test_vitals_recorded_after_the_discharge_do_not_complete_the_record(given):
    """A discharge recorded (before this rule, or over a normal reading) and then an out-of-range
    reading: the discharge must be recorded again over the new reading."""
    _recovery_vitals(given)
    _discharge(given)
    _recovery_vitals(given, when=NOW + dt.timedelta(minutes=1), **ABNORMAL)
    with pytest.raises(SessionRecordIncomplete) as caught:
        _complete(given, now=NOW + dt.timedelta(minutes=2))
    assert any("after the discharge" in reason for reason in caught.value.reasons)


def test_a_discharge_without_vitals_then_a_reading_does_not_complete_the_record(given):
    """A discharge stored before the rule (no reading before it); a reading recorded afterwards
    does not make the record whole."""
    Recovery.objects.create(
        appointment=given.session,
        discharged_at=DISCHARGE_AT,
        driver_name="Sam Diaz",
        recorded_by=given.nurse.user,
        recorded_at=DISCHARGE_AT,
    )
    _recovery_vitals(given, when=NOW)
    with pytest.raises(SessionRecordIncomplete) as caught:
        _complete(given, now=NOW + dt.timedelta(minutes=1))
    assert any("after the discharge" in reason for reason in caught.value.reasons)


def test_a_discharge_stored_over_abnormal_vitals_without_a_decision_does_not_complete(given):
    _recovery_vitals(given, **ABNORMAL)
    Recovery.objects.create(
        appointment=given.session,
        discharged_at=DISCHARGE_AT,
        driver_name="Sam Diaz",
        recorded_by=given.nurse.user,
        recorded_at=DISCHARGE_AT,
    )
    with pytest.raises(SessionRecordIncomplete) as caught:
        _complete(given)
    assert any("outside the clinic's limits" in reason for reason in caught.value.reasons)


# --- Finding 19: a future discharge is an error of its field ------------------------------------


def test_a_discharge_in_the_future_names_its_field(given):
    _recovery_vitals(given)
    with pytest.raises(InvalidInput, match="cannot be in the future") as caught:
        _discharge(given, discharged_at=NOW + dt.timedelta(minutes=5))
    assert caught.value.details == {"field": "discharged_at"}


# --- The page --------------------------------------------------------------------------------


def _login(client, staff) -> None:
    assert client.login(request=HttpRequest(), username=staff.user.username, password=PASSWORD)


def _post_discharge(client, ward, **fields):
    data = {"form": "recovery", "driver_name": "Sam Diaz", "discharged_at": "2026-03-02T11:20", **fields}
    return client.post(reverse("clinical:session", args=[ward.session.pk]), data, follow=True)


@pytest.fixture
def page_now():
    with time_machine.travel(NOW, tick=False):
        yield NOW


def test_on_the_page_a_discharge_without_recovery_vitals_says_what_to_record_first(client, given, page_now):
    _login(client, given.nurse)
    page = _post_discharge(client, given)
    body = page.content.decode()
    assert page.status_code == 409
    assert "Recovery and discharge recorded." not in body
    assert "Record recovery (post-infusion) vitals first" in body
    assert not Recovery.objects.exists()


def test_on_the_page_a_prescriber_discharges_over_abnormal_vitals_with_a_reason(client, given, page_now):
    _recovery_vitals(given, **ABNORMAL)
    _login(client, given.nurse)
    refused = _post_discharge(client, given)
    assert refused.status_code == 409 and "Blood pressure 188/114" in refused.content.decode()
    assert 'name="override_reason"' not in refused.content.decode(), "the nurse cannot take the decision"
    client.logout()
    _login(client, given.prescriber)
    page = client.get(reverse("clinical:session", args=[given.session.pk]))
    assert 'name="override_reason"' in page.content.decode()
    done = _post_discharge(client, given, override_reason="Known hypertensive; reviewed at the chair")
    assert "Recovery and discharge recorded." in done.content.decode()
    assert "reviewed at the chair" in Recovery.objects.get().history.latest().history_change_reason


def test_on_the_page_a_future_discharge_shows_beside_its_field(client, given, page_now):
    _recovery_vitals(given)
    _login(client, given.nurse)
    page = _post_discharge(client, given, discharged_at="2026-03-02T11:40")
    body = page.content.decode()
    assert page.status_code == 400
    assert 'id="id_discharged_at-error">The discharge time cannot be in the future.' in body


def test_a_retired_side_effect_posted_to_the_form_is_named_beside_the_field(client, given, page_now):
    retired = SideEffect.objects.create(code="nausea-old", label="Nausea (old)", active=False)
    _recovery_vitals(given)
    _login(client, given.nurse)
    page = _post_discharge(client, given, side_effects=[str(retired.pk)])
    body = page.content.decode()
    assert page.status_code == 400
    assert 'data-testid="side-effects-error"' in body
    assert "Nausea (old) is no longer on the list; choose again." in body
    gone = _post_discharge(client, given, side_effects=["999999"]).content.decode()
    assert "A side effect you ticked is no longer on the list; choose again." in gone
    assert not Recovery.objects.exists()


# --- Finding 22: self-harm flag at the chair --------------------------------------------------


def _phq9(ward, item9: int, when: dt.datetime):
    return questionnaire_submit(
        patient=ward.session.patient,
        instrument="phq9",
        answers=[2, 2, 2, 2, 1, 1, 1, 1, item9],
        entered_by=ward.nurse.user,
        source=Source.STAFF,
        now=when,
        completed_at=when,
    )


def test_the_session_page_flags_self_harm_thoughts_on_the_latest_phq9(client, ward, at_chair):
    _login(client, ward.nurse)
    url = reverse("clinical:session", args=[ward.session.pk])
    assert "Self-harm thoughts reported" not in client.get(url).content.decode()
    _phq9(ward, item9=1, when=SESSION_START - dt.timedelta(days=1))
    body = client.get(url).content.decode()
    assert 'data-testid="measure-flag"' in body and "⚑ Self-harm thoughts reported" in body
    # The same rule as the chart's: the latest PHQ-9 decides.
    _phq9(ward, item9=0, when=SESSION_START - dt.timedelta(hours=2))
    assert "Self-harm thoughts reported" not in client.get(url).content.decode()


def test_the_api_takes_the_prescribers_reason_to_discharge_over_abnormal_vitals(given):
    _recovery_vitals(given, **ABNORMAL)
    url = f"/api/v1/clinical/sessions/{given.session.pk}/recovery/"
    body = {"discharged_at": DISCHARGE_AT.isoformat(), "driver_name": "Sam Diaz"}
    with time_machine.travel(NOW, tick=False):
        refused = given.client("prescriber").post(url, body, format="json")
        assert refused.status_code == 409, refused.content
        assert "188/114" in refused.json()["error"]["message"] or refused.json()["error"]["details"]["problems"]
        answer = given.client("prescriber").post(
            url, {**body, "override_reason": "Known hypertensive; reviewed"}, format="json"
        )
    assert answer.status_code == 200, answer.content
    reason = Recovery.objects.get(appointment=given.session).history.latest().history_change_reason
    assert "Known hypertensive; reviewed" in reason
