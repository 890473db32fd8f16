"""An IV infusion recorded as lasting under half its protocol's infusion minutes is almost always a
mistyped time: it is refused, on the end time, naming the length recorded and the protocol's
minutes, unless a reason is given (an infusion stopped early for side effects). Any clinician who
records the administration may give it; it is kept in the record's history and on the register's
line (with a change of route's reason when both apply). A correction of the start that shortens
the infusion carries its own reason, which suffices."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from django.urls import reverse

from clinic.models import Route
from clinical import services
from clinical.models import Administration, ControlledSubstanceEntry
from scheduling.errors import InvalidInput
from scheduling.models import AppointmentStatus
from tests.clinical.conftest import SESSION_START
from tests.clinical.test_api_and_pages import _login
from tests.clinical_helpers import record_pre_vitals
from tests.factories import PlanFactory, ProtocolFactory

pytestmark = pytest.mark.django_db

STARTED = SESSION_START + dt.timedelta(minutes=10)  # 10:10 in New York
NOW = SESSION_START + dt.timedelta(hours=1)
STOPPED_EARLY = "stopped early: dissociation"
V1 = "/api/v1/clinical"


def _under_protocol(ward, **protocol) -> None:
    """The ward's session, booked under a plan of a 40-minute IV protocol (unless told otherwise)."""
    session = ward.session
    session.plan = PlanFactory(patient=session.patient, protocol=ProtocolFactory(**protocol), site=session.site)
    session.sequence = 1
    session.save(update_fields=["plan", "sequence"])


def _record(ward, *, minutes: int, staff=None, route: str = Route.IV, **extra):
    staff = staff or ward.nurse
    record_pre_vitals(ward.session, ward.nurse.user)
    return services.administration_record(
        appointment=ward.session,
        route=route,
        dose_mg_per_kg=Decimal("0.5"),
        weight_kg=Decimal("70"),
        total_mg=Decimal("35"),
        started_at=STARTED,
        ended_at=STARTED + dt.timedelta(minutes=minutes),
        lot_number="KX-77",
        given_by=staff,
        actor=staff.user,
        now=NOW,
        **extra,
    )


def test_a_one_minute_infusion_is_refused_on_its_end_naming_its_length_and_the_protocols_minutes(ward):
    _under_protocol(ward)
    with pytest.raises(InvalidInput) as caught:
        _record(ward, minutes=1)
    error = caught.value
    assert error.details["field"] == "ended_at"
    assert "1 minute" in error.message and "40 minutes" in error.message, error.message
    assert "reason" in error.message, error.message  # what to do when it really was that short
    assert not Administration.objects.exists() and not ControlledSubstanceEntry.objects.exists()
    ward.session.refresh_from_db()
    assert ward.session.status == AppointmentStatus.CHECKED_IN


def test_an_infusion_of_half_the_protocols_minutes_needs_no_reason(ward):
    _under_protocol(ward)
    administration = _record(ward, minutes=20)
    assert administration.history.get().history_change_reason == "Administration recorded"
    assert ControlledSubstanceEntry.objects.get().reason == ""


def test_the_protocols_own_minutes_count(ward):
    """A 90-minute pain protocol: 40 minutes is short."""
    _under_protocol(ward, name="IV ketamine for pain, 90 minutes", infusion_minutes=90, session_minutes=180)
    with pytest.raises(InvalidInput) as caught:
        _record(ward, minutes=40)
    assert "40 minutes" in caught.value.message and "90 minutes" in caught.value.message


def test_a_nurse_records_an_infusion_stopped_early_with_the_reason_kept_in_history_and_register(ward):
    _under_protocol(ward)
    administration = _record(ward, minutes=12, short_infusion_reason=f"  {STOPPED_EARLY} ")
    change = administration.history.get().history_change_reason
    line = ControlledSubstanceEntry.objects.get()
    assert STOPPED_EARLY in change and "12 minutes" in change and "40" in change, change
    assert line.reason == change


def test_a_reason_for_another_route_and_one_for_a_short_infusion_are_both_kept(ward):
    """An IM protocol's session given as an IV infusion on a prescriber's order, and stopped early."""
    _under_protocol(ward, name="IM ketamine", route=Route.IM)
    administration = _record(
        ward,
        minutes=5,
        staff=ward.prescriber,
        route_change_reason="IV ordered: poor muscle mass",
        short_infusion_reason=STOPPED_EARLY,
    )
    change = administration.history.get().history_change_reason
    assert "IV ordered: poor muscle mass" in change and STOPPED_EARLY in change, change
    assert ControlledSubstanceEntry.objects.get().reason == change


def test_a_correction_of_the_lot_carries_both_the_change_of_route_and_the_short_infusion(ward):
    _under_protocol(ward, name="IM ketamine", route=Route.IM)
    _record(
        ward,
        minutes=5,
        staff=ward.prescriber,
        route_change_reason="IV ordered: poor muscle mass",
        short_infusion_reason=STOPPED_EARLY,
    )
    first = ControlledSubstanceEntry.objects.get()
    assert first.reason.startswith("Given by Intravenous infusion instead of the session's"), first.reason
    lot = services.controlled_substance_correct(
        entry=first, lot_number="KX-78", reason="Lot mistyped", actor=ward.nurse.user, now=NOW
    )
    assert lot.reason == f"Lot mistyped; {first.reason}"
    again = services.controlled_substance_correct(
        entry=lot, lot_number="KX-79", reason="Lot mistyped again", actor=ward.nurse.user, now=NOW
    )
    assert again.reason == f"Lot mistyped again; {first.reason}"


def test_a_correction_to_another_route_that_leaves_the_infusion_short_gives_its_why_once_to_later_lines(ward):
    """From the review: an IM session's 5-minute injection corrected by a prescriber to an IV infusion
    (now short: the route's correction carries the prescriber's reason), then its lot. The statement of
    the change of route is carried once; the short infusion's reason is the prescriber's, not the statement."""
    _under_protocol(ward, name="IM ketamine", route=Route.IM)
    _record(ward, route=Route.IM, minutes=5)
    iv = services.controlled_substance_correct(
        entry=ControlledSubstanceEntry.objects.get(),
        route=Route.IV,
        total_mg=Decimal("35"),
        reason="IV ordered: poor muscle mass",
        actor=ward.prescriber.user,
        now=NOW,
    )
    lot = services.controlled_substance_correct(
        entry=iv, lot_number="KX-78", reason="Lot mistyped", actor=ward.nurse.user, now=NOW
    )
    assert lot.reason == (
        f"Lot mistyped; {iv.reason}; Infusion of 5 minutes, under half the protocol's 40 minutes: IV ordered: poor "
        "muscle mass"
    ), lot.reason
    assert lot.reason.count("Given by") == 1


def test_a_correction_of_the_start_that_shortens_an_infusion_by_another_route_gives_its_own_words(ward):
    """From the review: given IV on a prescriber's order for 30 minutes, its start corrected by a nurse
    (4 minutes: short), then its lot: the short infusion's reason is the start correction's own words."""
    _under_protocol(ward, name="IM ketamine", route=Route.IM)
    _record(ward, minutes=30, staff=ward.prescriber, route_change_reason="IV ordered: poor muscle mass")
    stated = ControlledSubstanceEntry.objects.get().reason
    start = services.controlled_substance_correct(
        entry=ControlledSubstanceEntry.objects.get(),
        started_at=STARTED + dt.timedelta(minutes=26),
        reason="Start mistyped",
        actor=ward.nurse.user,
        now=NOW,
    )
    assert start.reason == f"Start mistyped; {stated}"
    lot = services.controlled_substance_correct(
        entry=start, lot_number="KX-78", reason="Lot mistyped", actor=ward.nurse.user, now=NOW
    )
    assert lot.reason == (
        f"Lot mistyped; {stated}; Infusion of 4 minutes, under half the protocol's 40 minutes: Start mistyped"
    ), lot.reason


def test_an_injection_is_not_an_infusion(ward):
    """An IM protocol: the injection takes a minute, whatever the protocol's infusion minutes say."""
    _under_protocol(ward, name="IM ketamine", route=Route.IM)
    _record(ward, route=Route.IM, minutes=1)
    assert Administration.objects.get().route == Route.IM


def test_a_session_without_a_protocol_has_no_minutes_to_check_against(ward):
    _record(ward, minutes=1)
    assert Administration.objects.exists()


def test_a_correction_of_the_start_that_shortens_the_infusion_is_kept_with_its_reason(ward):
    _under_protocol(ward)
    _record(ward, minutes=40)
    entry = ControlledSubstanceEntry.objects.get()
    late_start = STARTED + dt.timedelta(minutes=35)
    correction = services.controlled_substance_correct(
        entry=entry,
        started_at=late_start,
        reason="Pump log: started 10:45, stopped for nausea",
        actor=ward.nurse.user,
        now=NOW,
    )
    assert correction.reason == "Pump log: started 10:45, stopped for nausea"
    assert Administration.objects.get().started_at == late_start


def test_over_the_api_a_short_infusion_is_refused_on_ended_at_then_recorded_with_the_reason(ward):
    _under_protocol(ward)
    record_pre_vitals(ward.session, ward.nurse.user)
    nurse = ward.client("nurse")
    body = {
        "route": "iv",
        "dose_mg_per_kg": "0.5",
        "weight_kg": "70",
        "total_mg": "35",
        "started_at": "2026-03-02T15:10:00Z",
        "ended_at": "2026-03-02T15:11:00Z",
        "lot_number": "KX-1",
        "given_by": ward.nurse.pk,
    }
    url = f"{V1}/sessions/{ward.session.pk}/administration/"
    with time_machine.travel(NOW, tick=False):
        refused = nurse.post(url, body, format="json")
        assert refused.status_code == 400, refused.content
        error = refused.json()["error"]
        assert error["details"]["field"] == "ended_at" and "40 minutes" in error["message"], error
        given = nurse.post(url, {**body, "short_infusion_reason": STOPPED_EARLY}, format="json")
    assert given.status_code == 201, given.content
    assert STOPPED_EARLY in ControlledSubstanceEntry.objects.get().reason


def test_on_the_page_the_error_shows_on_the_end_with_the_reason_field_then_the_reason_records_it(client, ward):
    _under_protocol(ward)
    record_pre_vitals(ward.session, ward.nurse.user)
    _login(client, ward.nurse)
    url = reverse("clinical:session", args=[ward.session.pk])
    form = {
        "form": "administration",
        "route": "iv",
        "dose_mg_per_kg": "0.5",
        "weight_kg": "70",
        "total_mg": "35",
        "lot_number": "KX-1",
        "given_by": ward.nurse.pk,
        "started_at": "2026-03-02T10:10",  # New York
        "ended_at": "2026-03-02T10:11",
    }
    with time_machine.travel(NOW, tick=False):
        first = client.get(url).content.decode()
        refused = client.post(url, form)
        again = client.post(url, {**form, "short_infusion_reason": STOPPED_EARLY}, follow=True)
    assert 'name="short_infusion_reason"' not in first  # asked for only when it is needed
    assert refused.status_code == 400
    page = refused.content.decode()
    assert 'id="id_ended_at-error"' in page and "40 minutes" in page, page
    assert 'name="short_infusion_reason"' in page
    assert "Administration recorded in the controlled-substance log." in again.content.decode()
    assert STOPPED_EARLY in ControlledSubstanceEntry.objects.get().reason


def test_a_correction_of_the_lot_keeps_the_reason_the_infusion_was_short_on_the_new_line(ward):
    """The register reads the current line: a correction of anything but the start or the route
    carries the clinician's reason for the short infusion from the line it corrects, and on again."""
    _under_protocol(ward)
    _record(ward, minutes=12, short_infusion_reason=STOPPED_EARLY)
    first = ControlledSubstanceEntry.objects.get()
    correction = services.controlled_substance_correct(
        entry=first, lot_number="KX-78", reason="Lot mistyped", actor=ward.nurse.user, now=NOW
    )
    assert correction.reason.startswith("Lot mistyped; Infusion of 12 minutes"), correction.reason
    assert correction.reason.endswith(f"under half the protocol's 40 minutes: {STOPPED_EARLY}"), correction.reason
    again = services.controlled_substance_correct(
        entry=correction, total_mg=Decimal("34"), reason="Wasted 1 mg not deducted", actor=ward.nurse.user, now=NOW
    )
    assert again.reason.startswith("Wasted 1 mg not deducted; Infusion of 12 minutes"), again.reason
    assert again.reason.endswith(f"minutes: {STOPPED_EARLY}") and again.reason.count(STOPPED_EARLY) == 1


def test_after_a_correction_of_the_start_that_shortened_it_its_reason_is_the_one_carried(ward):
    _under_protocol(ward)
    _record(ward, minutes=40)
    pump = "Pump log: started 10:45, stopped for nausea"
    shortened = services.controlled_substance_correct(
        entry=ControlledSubstanceEntry.objects.get(),
        started_at=STARTED + dt.timedelta(minutes=35),
        reason=pump,
        actor=ward.nurse.user,
        now=NOW,
    )
    lot = services.controlled_substance_correct(
        entry=shortened, lot_number="KX-78", reason="Lot mistyped", actor=ward.nurse.user, now=NOW
    )
    assert lot.reason == f"Lot mistyped; Infusion of 5 minutes, under half the protocol's 40 minutes: {pump}"


def test_a_correction_of_an_infusion_that_was_not_short_carries_nothing(ward):
    _under_protocol(ward)
    _record(ward, minutes=40)
    correction = services.controlled_substance_correct(
        entry=ControlledSubstanceEntry.objects.get(),
        lot_number="KX-78",
        reason="Lot mistyped",
        actor=ward.nurse.user,
        now=NOW,
    )
    assert correction.reason == "Lot mistyped"


def test_a_correction_of_the_start_of_an_infusion_already_short_does_not_replace_the_clinicians_reason(ward):
    """From the review: 10:10-10:22 stopped early, its start then corrected to 10:12 (still short), then
    its lot: the clinician's reason, not the start correction's words, is carried to the lot's line."""
    _under_protocol(ward)
    _record(ward, minutes=12, short_infusion_reason=STOPPED_EARLY)
    start = services.controlled_substance_correct(
        entry=ControlledSubstanceEntry.objects.get(),
        started_at=STARTED + dt.timedelta(minutes=2),
        reason="Start mistyped, pump says 10:12",
        actor=ward.nurse.user,
        now=NOW,
    )
    lot = services.controlled_substance_correct(
        entry=start, lot_number="KX-78", reason="Lot mistyped", actor=ward.nurse.user, now=NOW
    )
    assert lot.reason == f"Lot mistyped; Infusion of 10 minutes, under half the protocol's 40 minutes: {STOPPED_EARLY}"


def test_the_reason_carried_keeps_its_commas_semicolons_and_lines_and_a_correction_quoting_one_is_not_taken(ward):
    _under_protocol(ward)
    why = "stopped early: BP 182/110; severe dissociation,\nfamily informed"
    _record(ward, minutes=12, short_infusion_reason=why)
    quoting = "Lot mistyped (the line read 'Infusion of 3 minutes, under half the protocol's 40 minutes: x')"
    lot = services.controlled_substance_correct(
        entry=ControlledSubstanceEntry.objects.get(), lot_number="KX-78", reason=quoting, actor=ward.nurse.user, now=NOW
    )
    assert lot.reason == f"{quoting}; Infusion of 12 minutes, under half the protocol's 40 minutes: {why}"
    again = services.controlled_substance_correct(
        entry=lot, total_mg=Decimal("34"), reason="Amount", actor=ward.nurse.user, now=NOW
    )
    assert again.reason == f"Amount; Infusion of 12 minutes, under half the protocol's 40 minutes: {why}"


# A protocol of its own, made on the clock at AT_CHAIR (`at_chair`), before the infusion's start: the
# factory's usual one is made by `make_clinic` on the real clock, after this test's instants, so its
# history does not reach back to the infusion.
MADE_AT_CHAIR = "IV ketamine, 40 minutes, edited after the session"


def _protocol_edited(ward, *, infusion_minutes: int, at: dt.datetime = NOW) -> None:
    """An admin changes the session's protocol, after the infusion was given unless told otherwise."""
    protocol = ward.session.plan.protocol
    with time_machine.travel(at, tick=False):
        protocol.infusion_minutes = infusion_minutes
        protocol.save(update_fields=["infusion_minutes"])


def test_a_correction_after_the_protocol_was_shortened_still_carries_the_reason_an_infusion_was_short(ward, at_chair):
    """12 minutes of a 40-minute protocol, stopped early; the protocol is then made 20 minutes. The
    infusion was short when given, so the lot's correction carries its reason, naming the 40 minutes."""
    _under_protocol(ward, name=MADE_AT_CHAIR)
    _record(ward, minutes=12, short_infusion_reason=STOPPED_EARLY)
    _protocol_edited(ward, infusion_minutes=20)
    lot = services.controlled_substance_correct(
        entry=ControlledSubstanceEntry.objects.get(),
        lot_number="KX-78",
        reason="Lot mistyped",
        actor=ward.nurse.user,
        now=NOW,
    )
    assert lot.reason == f"Lot mistyped; Infusion of 12 minutes, under half the protocol's 40 minutes: {STOPPED_EARLY}"


def test_an_infusion_recorded_after_its_protocol_was_shortened_is_judged_by_the_minutes_it_was_given_under(
    ward, at_chair
):
    """Given 10:10-10:22 under a 40-minute protocol, which an admin then makes 20 minutes; the nurse
    records it at 11:00. It was under half its protocol's minutes when given: refused without a reason."""
    _under_protocol(ward, name=MADE_AT_CHAIR)
    _protocol_edited(ward, infusion_minutes=20)
    with pytest.raises(InvalidInput) as caught:
        _record(ward, minutes=12)
    assert "40 minutes" in caught.value.message, caught.value.message
    assert caught.value.details["infusion_minutes"] == 40
    _record(ward, minutes=12, short_infusion_reason=STOPPED_EARLY)
    assert ControlledSubstanceEntry.objects.get().reason.endswith(f"protocol's 40 minutes: {STOPPED_EARLY}")


def test_the_protocols_minutes_are_those_in_force_at_the_infusions_start_not_its_first_nor_its_last(ward, at_chair):
    """Made 40 minutes at 10:05, made 20 at 10:07, back to 40 at 11:00. An infusion 10:10-10:22 was given
    under the 20-minute protocol: 12 minutes is not under half of it, so no reason is asked."""
    _under_protocol(ward, name=MADE_AT_CHAIR)
    _protocol_edited(ward, infusion_minutes=20, at=SESSION_START + dt.timedelta(minutes=7))
    _protocol_edited(ward, infusion_minutes=40)
    _record(ward, minutes=12)
    assert ControlledSubstanceEntry.objects.get().reason == ""
