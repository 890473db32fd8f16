"""Correcting a controlled-substance log line on a page (`/controlled-substances/<id>/correct/`):
the same service and the same rule of who may as the API's `correct` action. Clinicians of the
line's site correct its latest line; clinic administrators read the log but do not correct it;
the front desk and patients get 403; a clinician of another site gets 404 (an id guess learns
nothing). The form shows the line's current values on the site's wall clock, and the service is
given only what was changed.

Personas: the ward of tests/clinical/conftest.py (nurse, prescriber, front desk, clinic
administrator, patient), plus `elsewhere`: a nurse of another site only."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import escape

from clinic.models import AccessLog, Role, Route
from clinical import services as clinical
from clinical.models import Administration, ControlledSubstanceEntry
from scheduling.models import AppointmentStatus
from tests.clinical.conftest import SESSION_START, ward  # noqa: F401  (the fixture)
from tests.clinical_helpers import record_administration
from tests.factories import PASSWORD, AppointmentFactory, PatientFactory, SiteFactory, StaffFactory, UserFactory
from tests.night_clinic import input_value, make_night

pytestmark = pytest.mark.django_db

# 10:05:30 in New York; given from 10:10:30 to 10:50:30, seconds the form's minutes do not show.
VITALS_AT = SESSION_START + dt.timedelta(minutes=5, seconds=30)
LATER = SESSION_START + dt.timedelta(hours=2)  # the correction is made at 12:00 in New York
REASON = "Weight re-read from the scale's printout"


@pytest.fixture
def later():
    with time_machine.travel(LATER, tick=False):
        yield LATER


@pytest.fixture
def entry(ward, later):  # noqa: F811
    return record_administration(ward.session, ward.nurse.user, start=VITALS_AT).log_entries.get()


@pytest.fixture
def elsewhere(db):
    """A nurse of another site only: the ward's lines are not theirs to see."""
    site = SiteFactory(name="Hillside", time_zone="America/Chicago")
    return StaffFactory(role=Role.NURSE, sites=[site], user=UserFactory(username="nurse_elsewhere"))


def _log_in(client, user) -> None:
    assert client.login(request=HttpRequest(), username=user.username, password=PASSWORD)


def _url(entry: ControlledSubstanceEntry) -> str:
    return reverse("clinical:cs-correct", args=[entry.pk])


def _unchanged(**changes) -> dict[str, str]:
    """What the page posts back when only `changes` were edited (the prefilled values otherwise)."""
    ward_values = {
        "total_mg": "35.00",
        "dose_mg_per_kg": "0.500",
        "weight_kg": "70.0",
        "lot_number": "LOT-TEST-1",
        "route": "iv",
        "started_at": "2026-03-02T10:10",
        "reason": REASON,
    }
    return {**ward_values, **changes}


def _post(client, entry, ward, **changes):  # noqa: F811
    data = _unchanged(**changes)
    data.setdefault("given_by", str(ward.nurse.pk))
    return client.post(_url(entry), {k: v for k, v in data.items() if v is not None})


def _nothing_written(entry) -> None:
    assert list(ControlledSubstanceEntry.objects.values_list("pk", flat=True)) == [entry.pk]
    assert Administration.objects.get().history.count() == 1


# --- What the page shows --------------------------------------------------------------------


def test_the_correction_page_shows_the_line_with_its_current_values_on_the_sites_clock(client, ward, entry):  # noqa: F811
    _log_in(client, ward.nurse.user)
    response = client.get(_url(entry))
    assert response.status_code == 200
    form = response.context["form"]
    assert {name: form[name].value() for name in ("total_mg", "dose_mg_per_kg", "weight_kg")} == {
        "total_mg": Decimal("35"),
        "dose_mg_per_kg": Decimal("0.5"),
        "weight_kg": Decimal("70"),
    }
    assert (form["lot_number"].value(), form["route"].value(), form["given_by"].value()) == (
        "LOT-TEST-1",
        Route.IV,
        ward.nurse.pk,
    )
    page = response.content.decode()
    # 15:10 UTC is 10:10 on the New York site's clock.
    assert 'value="2026-03-02T10:10"' in page
    assert f"#{entry.pk}" in page and "Cara Diaz" in page
    assert set(form.fields["given_by"].queryset) == {ward.nurse, ward.prescriber}, "the site's clinicians only"
    assert form.fields["reason"].required


def test_the_log_offers_correct_on_the_latest_lines_to_clinicians_only(client, ward, entry):  # noqa: F811
    correction = clinical.controlled_substance_correct(
        entry=entry, lot_number="LOT-TEST-2", reason="Lot misread", actor=ward.nurse.user, now=LATER
    )
    _log_in(client, ward.nurse.user)
    page = client.get(reverse("clinical:cs-log"), {"date_from": "2026-03-02"}).content.decode()
    assert escape(_url(correction)) in page, "the latest line has its Correct link"
    assert escape(_url(entry)) not in page, "a superseded line is not offered"
    _log_in(client, ward.admin.user)
    page = client.get(reverse("clinical:cs-log")).content.decode()
    assert "/correct/" not in page, "administrators read the log; they do not correct it"


def test_the_correction_page_names_the_patient_in_the_access_log(client, ward, entry):  # noqa: F811
    _log_in(client, ward.nurse.user)
    before = AccessLog.objects.count()
    assert client.get(_url(entry)).status_code == 200
    row = AccessLog.objects.order_by("pk")[before:].get()
    assert (row.path, row.patient_ids) == (_url(entry), [entry.patient_id])


# --- A correction -----------------------------------------------------------------------------


def test_a_correction_writes_a_new_line_and_the_old_one_shows_corrected_by_it(client, ward, entry):  # noqa: F811
    _log_in(client, ward.nurse.user)
    back = reverse("clinical:cs-log") + "?date_from=2026-03-02&date_to=2026-03-02"
    response = client.post(
        _url(entry) + "?next=" + back.replace("&", "%26").replace("?", "%3F"),
        _unchanged(weight_kg="72.0", total_mg="36.00", given_by=str(ward.nurse.pk)),
    )
    assert response.status_code == 302, response.content.decode()[:500]
    assert response["Location"] == back, "back to the log, its days kept"
    correction = ControlledSubstanceEntry.objects.get(corrects=entry)
    assert (correction.total_mg, correction.reason, correction.recorded_by) == (
        Decimal("36"),
        REASON,
        ward.nurse.user,
    )
    administration = Administration.objects.get()
    assert (administration.weight_kg, administration.total_mg, administration.dose_mg_per_kg) == (
        Decimal("72"),
        Decimal("36"),
        Decimal("0.5"),
    )
    # Only what was changed was given to the service: the start, shown to the minute, keeps its seconds.
    assert administration.started_at == dt.datetime(2026, 3, 2, 15, 10, 30, tzinfo=dt.UTC)
    page = client.get(back).content.decode()
    assert f"Correction recorded as entry #{correction.pk}" in page
    assert f"corrected by #{correction.pk}" in page


def test_a_corrected_start_is_read_on_the_sites_wall_clock(client, ward, entry):  # noqa: F811
    _log_in(client, ward.prescriber.user)
    response = _post(client, entry, ward, started_at="2026-03-02T10:12", reason="Started at 10:12 by the pump log")
    assert response.status_code == 302, response.content.decode()[:500]
    correction = ControlledSubstanceEntry.objects.get(corrects=entry)
    assert correction.administered_at == dt.datetime(2026, 3, 2, 15, 12, tzinfo=dt.UTC)
    assert correction.recorded_by == ward.prescriber.user


def test_a_lot_is_corrected_after_the_clinician_who_gave_it_left_the_site(client, ward, entry):  # noqa: F811
    """Who gave it is offered as it stands, and sent to the service only when changed: the service
    refuses a clinician who no longer works at the site only when that is the correction."""
    ward.nurse.sites.clear()
    _log_in(client, ward.prescriber.user)
    response = _post(client, entry, ward, lot_number="LOT-TEST-9", reason="Lot misread")
    assert response.status_code == 302, response.content.decode()[:500]
    assert ControlledSubstanceEntry.objects.get(corrects=entry).given_by == ward.nurse


# --- Refusals -----------------------------------------------------------------------------------


def test_a_correction_without_a_reason_is_refused_beside_the_reason(client, ward, entry):  # noqa: F811
    _log_in(client, ward.nurse.user)
    response = _post(client, entry, ward, lot_number="LOT-TEST-2", reason="   ")
    assert response.status_code == 400
    assert response.context["form"].errors["reason"] == ["Give a reason for the correction."]
    _nothing_written(entry)


def test_a_correction_that_changes_nothing_is_refused_at_the_top(client, ward, entry):  # noqa: F811
    _log_in(client, ward.nurse.user)
    response = _post(client, entry, ward)
    assert response.status_code == 400
    assert response.context["form"].non_field_errors() == ["The correction changes nothing."]
    assert "The correction changes nothing." in response.content.decode()
    _nothing_written(entry)


def test_a_total_that_does_not_match_the_dose_is_refused_beside_the_total(client, ward, entry):  # noqa: F811
    _log_in(client, ward.nurse.user)
    response = _post(client, entry, ward, total_mg="50.00")
    assert response.status_code == 400
    (error,) = response.context["form"].errors["total_mg"]
    assert error.startswith("Total 50.00 mg does not match 0.500 mg/kg × 70.0 kg = 35.0 mg"), error
    _nothing_written(entry)


def test_a_nurse_changing_the_route_is_refused_beside_the_route(client, ward, entry):  # noqa: F811
    ward.session.route = Route.IV
    ward.session.save(update_fields=["route"])
    _log_in(client, ward.nurse.user)
    response = _post(client, entry, ward, route="im", reason="Given into the muscle")
    assert response.status_code == 400
    (error,) = response.context["form"].errors["route"]
    assert "a prescriber corrects the route, with the reason" in error, error
    assert escape(error) in response.content.decode()
    _nothing_written(entry)


def test_a_line_already_corrected_is_refused_with_a_link_to_the_latest(client, ward, entry):  # noqa: F811
    """The page was opened before someone else corrected the line: the post is refused (409), says
    which line corrected it and links to that one; opening the old line's page again says the same."""
    _log_in(client, ward.nurse.user)
    assert client.get(_url(entry)).status_code == 200
    latest = clinical.controlled_substance_correct(
        entry=entry, lot_number="LOT-TEST-2", reason="Lot misread", actor=ward.prescriber.user, now=LATER
    )
    for response in (_post(client, entry, ward, total_mg="36.00", weight_kg="72.0"), client.get(_url(entry))):
        assert response.status_code == 409
        page = response.content.decode()
        assert f"Entry #{entry.pk} was already corrected by entry #{latest.pk}" in page
        assert f'href="{_url(latest)}?next=' in page
        assert 'name="reason"' not in page, "no form for a superseded line"
    assert ControlledSubstanceEntry.objects.count() == 2


def test_a_superseded_lines_page_states_what_that_line_said(client, ward, entry):  # noqa: F811
    """The old line's page describes the old line (its lot, amount, time and clinician), not the
    administration as corrected since: a line that never said LOT-TEST-2 is not shown saying it."""
    clinical.controlled_substance_correct(
        entry=entry,
        lot_number="LOT-TEST-2",
        total_mg=Decimal("36"),
        weight_kg=Decimal("72"),
        started_at=dt.datetime(2026, 3, 2, 15, 12, tzinfo=dt.UTC),
        given_by=ward.prescriber,
        reason="Re-read",
        actor=ward.prescriber.user,
        now=LATER,
    )
    _log_in(client, ward.nurse.user)
    response = client.get(_url(entry))
    assert response.status_code == 409
    page = response.content.decode()
    facts = page.split('data-testid="cs-entry-facts"')[1].split("</dl>")[0]
    assert "LOT-TEST-1" in facts and "LOT-TEST-2" not in facts, facts
    assert "35.00 mg" in facts and "36" not in facts, facts
    assert "10:10" in facts and "10:12" not in facts, facts
    assert ward.nurse.display_name in facts and ward.prescriber.display_name not in facts, facts


# --- Who may --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("persona", "status"),
    [("nurse", 200), ("prescriber", 200), ("clinic_admin", 403), ("front_desk", 403), ("patient", 403)],
)
def test_every_role_gets_what_the_api_gives_it(client, ward, entry, persona, status):  # noqa: F811
    user = {
        "nurse": ward.nurse.user,
        "prescriber": ward.prescriber.user,
        "clinic_admin": ward.admin.user,
        "front_desk": ward.front_desk.user,
        "patient": ward.patient_user,
    }[persona]
    _log_in(client, user)
    assert client.get(_url(entry)).status_code == status
    posted = _post(client, entry, ward, lot_number="LOT-TEST-2", reason="Lot misread")
    assert posted.status_code == (302 if status == 200 else status)
    if status != 200:
        _nothing_written(entry)


def test_signed_out_is_sent_to_sign_in(client, entry):
    response = client.get(_url(entry))
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


def test_a_clinician_of_another_site_gets_404_and_nothing_is_written(client, ward, entry, elsewhere):  # noqa: F811
    _log_in(client, elsewhere.user)
    assert client.get(_url(entry)).status_code == 404
    assert _post(client, entry, ward, lot_number="LOT-TEST-2", reason="Lot misread").status_code == 404
    assert client.get(reverse("clinical:cs-correct", args=[entry.pk + 1000])).status_code == 404
    _nothing_written(entry)


def test_other_methods_are_refused(client, ward, entry):  # noqa: F811
    _log_in(client, ward.nurse.user)
    assert client.put(_url(entry)).status_code == 405


# --- The night the clocks go back -------------------------------------------------------------


def test_a_start_in_the_repeated_hour_is_shown_and_kept_as_the_occurrence_it_was(client):
    """Given at 01:10 EDT on 1 November (the first 01:10), corrected at 03:00 EST when the second
    01:10 has also come: the page shows 01:10 with the occurrence it is, and a correction of the lot
    alone leaves the start where it was (read as the latest 01:10 it would have become a change,
    after the end)."""
    night = make_night()
    starts_at = dt.datetime(2026, 11, 1, 4, 30, tzinfo=dt.UTC)  # 00:30 EDT
    session = AppointmentFactory(
        patient=PatientFactory(home_site=night.site, escort_name="Sam"),
        chair=night.chairs[0],
        nurse=night.nurse,
        starts_at=starts_at,
        status=AppointmentStatus.CHECKED_IN,
        checked_in_at=starts_at - dt.timedelta(minutes=5),
    )
    # Vitals at 01:05 EDT; given from 01:10 EDT (05:10 UTC, the first 01:10) to 01:50 EDT.
    entry = record_administration(
        session, night.nurse.user, start=starts_at + dt.timedelta(minutes=35)
    ).log_entries.get()
    administration = Administration.objects.get(appointment=session)
    assert administration.started_at == dt.datetime(2026, 11, 1, 5, 10, tzinfo=dt.UTC)
    _log_in(client, night.nurse.user)
    with time_machine.travel(dt.datetime(2026, 11, 1, 8, 0, tzinfo=dt.UTC), tick=False):  # 03:00 EST
        page = client.get(_url(entry)).content.decode()
        assert input_value(page, "started_at") == "2026-11-01T01:10"
        occurrence = input_value(page, "started_at__occurrence")
        assert occurrence == "2026-11-01T01:10|-04:00"
        response = client.post(
            _url(entry),
            {
                **_unchanged(lot_number="LOT-TEST-2", reason="Lot misread"),
                "started_at": "2026-11-01T01:10",
                "started_at__occurrence": occurrence,
                "given_by": night.nurse.pk,
            },
        )
    assert response.status_code == 302, response.content.decode()[:800]
    correction = ControlledSubstanceEntry.objects.get(corrects=entry)
    assert (correction.lot_number, correction.administered_at) == ("LOT-TEST-2", administration.started_at)
