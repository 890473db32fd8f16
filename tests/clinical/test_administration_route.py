"""The ketamine is given by the route the session was booked for: its plan's protocol's, or the
one a single session was booked for. An administration recorded (or corrected) by another route
is refused, naming both, and nothing reaches the record or the controlled-substance register:
the weight-based dose check and the chair's equipment follow the session's route. When it really
was given another way on a prescriber's order, a prescriber records (or corrects) it with the
reason, its dose is checked against the route given, and the register's line states the deviation."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from django.urls import reverse
from django.utils.html import escape

from clinic.models import Route
from clinical import services
from clinical.models import Administration, ControlledSubstanceEntry
from scheduling.errors import InvalidInput
from tests.clinical.conftest import SESSION_START
from tests.clinical_helpers import record_pre_vitals
from tests.factories import PlanFactory, ProtocolFactory

pytestmark = pytest.mark.django_db

LATER = SESSION_START + dt.timedelta(hours=1)  # 11:00 in New York
NASAL = {"dose_mg_per_kg": Decimal("0.8"), "weight_kg": Decimal("70"), "total_mg": Decimal("56")}
INFUSION = {"dose_mg_per_kg": Decimal("0.5"), "weight_kg": Decimal("70"), "total_mg": Decimal("35")}


def _under_iv_protocol(ward) -> None:
    """The ward's session, booked under an IV protocol's plan."""
    session = ward.session
    session.plan = PlanFactory(patient=session.patient, protocol=ProtocolFactory(), site=session.site)
    session.sequence = 1
    session.save(update_fields=["plan", "sequence"])


def _booked_for_nasal_spray(ward) -> None:
    """The ward's session, a single session booked for esketamine nasal spray (its chair is equipped)."""
    ward.session.route = Route.INTRANASAL
    ward.session.save(update_fields=["route"])


def _record(ward, route: str, amounts: dict):
    record_pre_vitals(ward.session, ward.nurse.user)
    return services.administration_record(
        appointment=ward.session,
        route=route,
        started_at=SESSION_START + dt.timedelta(minutes=10),
        ended_at=SESSION_START + dt.timedelta(minutes=50),
        lot_number="KX-77",
        given_by=ward.nurse,
        actor=ward.nurse.user,
        now=LATER,
        **amounts,
    )


def _nothing_written() -> None:
    assert not Administration.objects.exists()
    assert not ControlledSubstanceEntry.objects.exists()


# --- Recording ------------------------------------------------------------------------------


def test_an_iv_protocols_session_recorded_as_nasal_spray_is_refused_and_nothing_is_written(ward):
    _under_iv_protocol(ward)
    with pytest.raises(InvalidInput) as caught:
        _record(ward, Route.INTRANASAL, NASAL)
    message = caught.value.message
    assert message.startswith(
        "This session is booked for Intravenous infusion (its protocol's route); the administration must be by "
        "that route, not Esketamine nasal spray."
    ), message
    # When it really was given that way: who records it, and with what.
    assert message.endswith(
        "If it was given by Esketamine nasal spray on a prescriber's order, the prescriber records the "
        "administration with the reason for the change of route."
    ), message
    assert caught.value.details == {"field": "route"}
    _nothing_written()


def test_a_single_session_booked_for_nasal_spray_recorded_as_an_infusion_is_refused(ward):
    _booked_for_nasal_spray(ward)
    with pytest.raises(InvalidInput, match=r"booked for Esketamine nasal spray \(the route it was booked for\)"):
        _record(ward, Route.IV, INFUSION)
    _nothing_written()


def test_a_route_mismatch_is_named_before_the_dose_that_follows_from_it(ward):
    """IM is weight-based like IV: a wrong total under the wrong route is reported as the route."""
    _under_iv_protocol(ward)
    with pytest.raises(InvalidInput) as caught:
        _record(ward, Route.IM, {**INFUSION, "total_mg": Decimal("90")})
    assert caught.value.details == {"field": "route"}
    _nothing_written()


@pytest.mark.parametrize(
    ("booking", "route", "amounts"),
    [(_under_iv_protocol, Route.IV, INFUSION), (_booked_for_nasal_spray, Route.INTRANASAL, NASAL)],
    ids=["protocol", "single-session"],
)
def test_an_administration_by_the_sessions_route_is_recorded_in_the_register(ward, booking, route, amounts):
    booking(ward)
    administration = _record(ward, route, amounts)
    assert administration.route == route
    assert list(ControlledSubstanceEntry.objects.values_list("route", flat=True)) == [route]


def test_a_session_booked_before_sessions_kept_their_route_is_not_refused_on_route(ward):
    """No plan and no route of its own: `session_route` only guesses from the chair, so the
    recorded route stands (the ward's chair is equipped for infusions and nasal spray)."""
    assert ward.session.plan_id is None and ward.session.route == ""
    administration = _record(ward, Route.INTRANASAL, NASAL)
    assert administration.log_entries.get().route == Route.INTRANASAL


# --- Correcting -----------------------------------------------------------------------------


def _correct(entry, ward, **changes):
    """A nurse's correction: another route than the session's is a prescriber's (see below)."""
    return services.controlled_substance_correct(
        entry=entry, reason="Checked against the chart", actor=ward.nurse.user, now=LATER, **changes
    )


def test_a_correction_to_another_route_than_the_sessions_is_refused_and_nothing_is_written(ward):
    _under_iv_protocol(ward)
    entry = _record(ward, Route.IV, INFUSION).log_entries.get()
    with pytest.raises(InvalidInput) as caught:
        _correct(entry, ward, route=Route.INTRANASAL, total_mg=Decimal("56"), dose_mg_per_kg=Decimal("0.8"))
    assert caught.value.message.startswith(
        "This session is booked for Intravenous infusion (its protocol's route); the register must state that "
        "route, not Esketamine nasal spray. If it was given by Esketamine nasal spray on a prescriber's order, "
        "a prescriber corrects the route, with the reason."
    ), caught.value.message
    assert caught.value.details == {"field": "route"}
    assert list(ControlledSubstanceEntry.objects.values_list("pk", flat=True)) == [entry.pk]
    assert Administration.objects.get().route == Route.IV
    # What may be corrected still is: the lot, the route left as booked.
    correction = _correct(entry, ward, lot_number="KX-78")
    assert (correction.route, correction.lot_number) == (Route.IV, "KX-78")


def test_an_entry_recorded_by_another_route_before_the_check_is_corrected_to_the_sessions(ward):
    """An administration by another route, recorded before the route was checked (here, before the
    session was put under its plan): its lot is still corrected by a nurse, its route only by a
    prescriber."""
    entry = _record(ward, Route.INTRANASAL, NASAL).log_entries.get()
    _under_iv_protocol(ward)
    correction = _correct(entry, ward, lot_number="KX-78")
    with pytest.raises(InvalidInput, match="Only a prescriber corrects its route"):
        _correct(correction, ward, route=Route.IM, total_mg=Decimal("35"), dose_mg_per_kg=Decimal("0.5"))
    with pytest.raises(InvalidInput, match="Only a prescriber corrects its route"):
        _correct(correction, ward, route=Route.IV, total_mg=Decimal("35"), dose_mg_per_kg=Decimal("0.5"))
    fixed = services.controlled_substance_correct(
        entry=correction,
        reason="Checked against the chart",
        actor=ward.prescriber.user,
        now=LATER,
        route=Route.IV,
        total_mg=Decimal("35"),
        dose_mg_per_kg=Decimal("0.5"),
    )
    assert [line.route for line in ControlledSubstanceEntry.objects.order_by("pk")] == [
        Route.INTRANASAL,
        Route.INTRANASAL,
        Route.IV,
    ]
    assert fixed.corrects == correction


# --- The API and the session page ------------------------------------------------------------


def test_the_api_refuses_another_route_with_400_naming_the_route_field(ward):
    _under_iv_protocol(ward)
    record_pre_vitals(ward.session, ward.nurse.user)
    body = {
        "route": "intranasal",
        "dose_mg_per_kg": "0.8",
        "weight_kg": "70",
        "total_mg": "56",
        "started_at": "2026-03-02T15:10:00Z",
        "ended_at": "2026-03-02T15:50:00Z",
        "lot_number": "KX-1",
        "given_by": ward.nurse.pk,
    }
    with time_machine.travel(LATER, tick=False):
        answer = ward.client("nurse").post(
            f"/api/v1/clinical/sessions/{ward.session.pk}/administration/", body, format="json"
        )
    assert answer.status_code == 400, answer.content
    error = answer.json()["error"]
    assert error["details"] == {"field": "route"}
    assert "booked for Intravenous infusion" in error["fields"]["route"][0]
    _nothing_written()


def test_the_session_page_offers_the_sessions_route_and_refuses_another_beside_it(client, ward):
    _booked_for_nasal_spray(ward)
    record_pre_vitals(ward.session, ward.nurse.user)
    client.force_login(ward.nurse.user)
    url = reverse("clinical:session", args=[ward.session.pk])
    with time_machine.travel(LATER, tick=False):
        page = client.get(url).content.decode()
        assert '<option value="intranasal" selected>' in page
        refused = client.post(
            url,
            {
                "form": "administration",
                "route": "iv",
                "dose_mg_per_kg": "0.5",
                "weight_kg": "70",
                "total_mg": "35",
                "started_at": "2026-03-02T10:10",
                "ended_at": "2026-03-02T10:50",
                "lot_number": "KX-1",
                "given_by": ward.nurse.pk,
            },
        )
    assert refused.status_code == 400
    assert (
        refused.context["forms"]["administration"]
        .errors["route"][0]
        .startswith("This session is booked for Esketamine nasal spray (the route it was booked for)")
    )
    _nothing_written()


# --- Another route on a prescriber's order -----------------------------------------------------
# An IV line could not be placed and the prescriber ordered the dose IM: the register states the
# truth, the prescriber records it with the reason, and the line says it deviated from the session.

LINE_FAILED = "IV access failed after three attempts; ordered IM"
DEVIATION = f"Given by Intramuscular injection instead of the session's Intravenous infusion: {LINE_FAILED}"


def _record_by(ward, staff, route: str, amounts: dict, *, route_change_reason: str = ""):
    record_pre_vitals(ward.session, ward.nurse.user)
    return services.administration_record(
        appointment=ward.session,
        route=route,
        started_at=SESSION_START + dt.timedelta(minutes=10),
        ended_at=SESSION_START + dt.timedelta(minutes=50),
        lot_number="KX-77",
        given_by=ward.nurse,
        actor=staff.user,
        now=LATER,
        route_change_reason=route_change_reason,
        **amounts,
    )


def test_a_prescriber_records_another_route_with_the_reason_and_the_register_states_the_deviation(ward):
    _under_iv_protocol(ward)
    administration = _record_by(ward, ward.prescriber, Route.IM, INFUSION, route_change_reason=f"  {LINE_FAILED} ")
    assert (administration.route, administration.recorded_by) == (Route.IM, ward.prescriber.user)
    entry = administration.log_entries.get()
    assert (entry.route, entry.reason, entry.corrects) == (Route.IM, DEVIATION, None)
    assert entry.recorded_by == ward.prescriber.user and entry.given_by == ward.nurse
    assert administration.history.get().history_change_reason == DEVIATION


def test_a_prescribers_other_route_has_its_dose_checked_against_that_route(ward):
    """IM is weight-based: a total that is not dose × weight is refused on the total."""
    _under_iv_protocol(ward)
    with pytest.raises(InvalidInput) as caught:
        _record_by(ward, ward.prescriber, Route.IM, {**INFUSION, "total_mg": Decimal("90")}, route_change_reason="x")
    assert caught.value.details["field"] == "total_mg"
    _nothing_written()


def test_a_nurse_giving_the_reason_for_another_route_is_refused_and_told_who_records_it(ward):
    _under_iv_protocol(ward)
    with pytest.raises(InvalidInput) as caught:
        _record_by(ward, ward.nurse, Route.IM, INFUSION, route_change_reason=LINE_FAILED)
    assert caught.value.message == (
        "This session is booked for Intravenous infusion (its protocol's route); the administration must be by "
        "that route, not Intramuscular injection. If it was given by Intramuscular injection on a prescriber's "
        "order, the prescriber records the administration with the reason for the change of route."
    )
    assert caught.value.details == {"field": "route"}
    _nothing_written()


def test_a_prescriber_recording_another_route_without_a_reason_is_refused(ward):
    _under_iv_protocol(ward)
    with pytest.raises(InvalidInput) as caught:
        _record_by(ward, ward.prescriber, Route.IM, INFUSION, route_change_reason="   ")
    assert "give the reason for the change of route" in caught.value.message, caught.value.message
    assert caught.value.details == {"field": "route_change_reason"}
    _nothing_written()


def test_a_prescriber_corrects_the_route_to_another_than_the_sessions_and_a_nurse_may_not(ward):
    _under_iv_protocol(ward)
    entry = _record(ward, Route.IV, INFUSION).log_entries.get()
    im = {"route": Route.IM, "total_mg": Decimal("35"), "dose_mg_per_kg": Decimal("0.5")}
    with pytest.raises(InvalidInput) as caught:
        services.controlled_substance_correct(entry=entry, reason=LINE_FAILED, actor=ward.nurse.user, now=LATER, **im)
    assert "a prescriber corrects the route, with the reason" in caught.value.message, caught.value.message
    assert caught.value.details == {"field": "route"}
    assert list(ControlledSubstanceEntry.objects.values_list("pk", flat=True)) == [entry.pk]
    correction = services.controlled_substance_correct(
        entry=entry, reason=LINE_FAILED, actor=ward.prescriber.user, now=LATER, **im
    )
    assert (correction.route, correction.reason, correction.corrects) == (Route.IM, DEVIATION, entry)
    administration = Administration.objects.get()
    assert administration.route == Route.IM
    assert administration.history.first().history_change_reason == f"Corrected: {DEVIATION}"
    # Back to the session's route: not a nurse's to undo (nothing written), a prescriber's, and the
    # line says only why.
    with pytest.raises(InvalidInput, match="a prescriber's change of route\\. Only a prescriber corrects its route"):
        services.controlled_substance_correct(
            entry=correction, reason="Entered in error", actor=ward.nurse.user, now=LATER, route=Route.IV
        )
    assert ControlledSubstanceEntry.objects.count() == 2
    back = services.controlled_substance_correct(
        entry=correction, reason="Entered in error", actor=ward.prescriber.user, now=LATER, route=Route.IV
    )
    assert (back.route, back.reason) == (Route.IV, "Entered in error")
    # Its lot is still any clinician's to correct; by the session's route again, no change of route is stated.
    lot = services.controlled_substance_correct(
        entry=back, reason="Lot misread", actor=ward.nurse.user, now=LATER, lot_number="KX-99"
    )
    assert lot.reason == "Lot misread"


def test_a_correction_that_leaves_another_route_as_it_was_carries_the_prescribers_statement(ward):
    """The register reads the current line: a nurse's correction of the lot of a line given IM on a
    prescriber's order states the change of route and its reason again, after the correction's own
    reason, and so does the next correction (once)."""
    _under_iv_protocol(ward)
    administration = _record_by(ward, ward.prescriber, Route.IM, INFUSION, route_change_reason=LINE_FAILED)
    lot = services.controlled_substance_correct(
        entry=administration.log_entries.get(),
        reason="Lot misread",
        actor=ward.nurse.user,
        now=LATER,
        lot_number="KX-78",
    )
    assert (lot.route, lot.reason) == (Route.IM, f"Lot misread; {DEVIATION}")
    assert Administration.objects.get().history.first().history_change_reason == f"Corrected: Lot misread; {DEVIATION}"
    again = services.controlled_substance_correct(
        entry=lot, reason="Lot misread again", actor=ward.nurse.user, now=LATER, lot_number="KX-79"
    )
    assert again.reason == f"Lot misread again; {DEVIATION}"


def test_a_correction_of_the_start_after_the_prescribers_change_of_route_keeps_its_statement(ward):
    """The route corrected to IM by a prescriber (the line is the statement), then its start by a nurse."""
    _under_iv_protocol(ward)
    entry = _record(ward, Route.IV, INFUSION).log_entries.get()
    im = {"route": Route.IM, "total_mg": Decimal("35"), "dose_mg_per_kg": Decimal("0.5")}
    route = services.controlled_substance_correct(
        entry=entry, reason=LINE_FAILED, actor=ward.prescriber.user, now=LATER, **im
    )
    start = services.controlled_substance_correct(
        entry=route,
        started_at=SESSION_START + dt.timedelta(minutes=12),
        reason="Start mistyped",
        actor=ward.nurse.user,
        now=LATER,
    )
    assert start.reason == f"Start mistyped; {DEVIATION}"


def test_the_api_passes_the_prescribers_reason_for_another_route(ward):
    _under_iv_protocol(ward)
    record_pre_vitals(ward.session, ward.nurse.user)
    body = {
        "route": "im",
        "dose_mg_per_kg": "0.5",
        "weight_kg": "70",
        "total_mg": "35",
        "started_at": "2026-03-02T15:10:00Z",
        "ended_at": "2026-03-02T15:50:00Z",
        "lot_number": "KX-1",
        "given_by": ward.nurse.pk,
        "route_change_reason": LINE_FAILED,
    }
    url = f"/api/v1/clinical/sessions/{ward.session.pk}/administration/"
    with time_machine.travel(LATER, tick=False):
        refused = ward.client("nurse").post(url, body, format="json")
        answer = ward.client("prescriber").post(url, body, format="json")
    assert refused.status_code == 400, refused.content
    assert answer.status_code == 201, answer.content
    assert answer.json()["route"] == "im"
    assert ControlledSubstanceEntry.objects.get().reason == DEVIATION


def test_the_session_page_takes_the_prescribers_reason_for_another_route(client, ward):
    _under_iv_protocol(ward)
    record_pre_vitals(ward.session, ward.nurse.user)
    client.force_login(ward.prescriber.user)
    url = reverse("clinical:session", args=[ward.session.pk])
    with time_machine.travel(LATER, tick=False):
        page = client.get(url).content.decode()
        assert 'name="route_change_reason"' in page
        assert "a prescriber gives the reason" in page
        recorded = client.post(
            url,
            {
                "form": "administration",
                "route": "im",
                "route_change_reason": LINE_FAILED,
                "dose_mg_per_kg": "0.5",
                "weight_kg": "70",
                "total_mg": "35",
                "started_at": "2026-03-02T10:10",
                "ended_at": "2026-03-02T10:50",
                "lot_number": "KX-1",
                "given_by": ward.nurse.pk,
            },
        )
        assert recorded.status_code == 302, recorded.content.decode()
        shown = client.get(url).content.decode()
        register = client.get(reverse("clinical:cs-log")).content.decode()
    assert ControlledSubstanceEntry.objects.get().reason == DEVIATION
    assert escape(DEVIATION) in shown  # the session page shows the line's reason
    assert escape(DEVIATION) in register  # and so does the controlled-substance log


def test_after_a_change_to_yet_another_route_its_own_statement_is_carried_not_the_first(ward):
    _under_iv_protocol(ward)
    administration = _record_by(ward, ward.prescriber, Route.IM, INFUSION, route_change_reason=LINE_FAILED)
    spray = services.controlled_substance_correct(
        entry=administration.log_entries.get(),
        route=Route.INTRANASAL,
        reason="Spray ordered; the IM dose was not given",
        actor=ward.prescriber.user,
        now=LATER,
        **NASAL,
    )
    lot = services.controlled_substance_correct(
        entry=spray, reason="Lot misread", actor=ward.nurse.user, now=LATER, lot_number="KX-78"
    )
    assert lot.reason == (
        "Lot misread; Given by Esketamine nasal spray instead of the session's Intravenous infusion: Spray ordered; "
        "the IM dose was not given"
    )
