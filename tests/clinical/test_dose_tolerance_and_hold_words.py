"""What the session page and the service tell the clinician: the total's tolerance against dose ×
weight (in the refusal and in the field's help), and how a held start is lifted."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse

from clinical import services
from clinical.forms import AdministrationForm
from scheduling.errors import InvalidInput
from tests.clinical.conftest import SESSION_START
from tests.clinical.test_api_and_pages import HIGH, _login
from tests.clinical_helpers import record_pre_vitals

pytestmark = pytest.mark.django_db


def test_a_total_off_dose_times_weight_is_refused_stating_the_tolerance(ward):
    record_pre_vitals(ward.session, ward.nurse.user)
    with pytest.raises(InvalidInput) as caught:
        services.administration_record(
            appointment=ward.session,
            route="iv",
            dose_mg_per_kg=Decimal("0.5"),
            weight_kg=Decimal("70"),
            total_mg=Decimal("40"),
            started_at=SESSION_START + dt.timedelta(minutes=5),
            ended_at=SESSION_START + dt.timedelta(minutes=45),
            lot_number="KX-1",
            given_by=ward.nurse,
            actor=ward.nurse.user,
            now=SESSION_START + dt.timedelta(hours=1),
        )
    message = caught.value.message
    assert "35.0 mg" in message and "5 %" in message, message
    assert "33.25" in message and "36.75" in message, message  # the range it accepts


def test_a_total_within_the_tolerance_is_accepted(ward):
    record_pre_vitals(ward.session, ward.nurse.user)
    services.administration_record(
        appointment=ward.session,
        route="iv",
        dose_mg_per_kg=Decimal("0.5"),
        weight_kg=Decimal("70"),
        total_mg=Decimal("36.75"),
        started_at=SESSION_START + dt.timedelta(minutes=5),
        ended_at=SESSION_START + dt.timedelta(minutes=45),
        lot_number="KX-1",
        given_by=ward.nurse,
        actor=ward.nurse.user,
        now=SESSION_START + dt.timedelta(hours=1),
    )


def test_the_total_fields_help_states_the_tolerance(ward):
    help_text = str(AdministrationForm(site=ward.session.site).fields["total_mg"].help_text)
    assert "5 %" in help_text and "dose × weight" in help_text, help_text


def test_a_held_start_says_a_normal_re_measure_lifts_it_without_a_prescriber(client, ward, at_chair):
    url = reverse("clinical:session", args=[ward.session.pk])
    _login(client, ward.nurse)
    page = client.post(url, {"form": "vitals", **HIGH}, follow=True).content.decode()
    assert 'data-testid="start-held-lifts"' in page
    assert "A normal re-measure" in page and "without a prescriber" in page, page
    assert "prescriber's clearance" in page


def test_no_vitals_yet_is_not_explained_as_a_hold_a_re_measure_lifts(client, ward, at_chair):
    _login(client, ward.nurse)
    page = client.get(reverse("clinical:session", args=[ward.session.pk])).content.decode()
    assert "Record pre-infusion vitals first" in page
    assert 'data-testid="start-held-lifts"' not in page
