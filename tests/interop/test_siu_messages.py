"""What an SIU message says: built with hl7apy, read back with hl7apy and the hl7 package."""

from __future__ import annotations

import datetime as dt

import hl7
import pytest
from hl7apy.consts import VALIDATION_LEVEL
from hl7apy.parser import parse_message

from interop.models import SiuMessage
from scheduling import services
from scheduling.models import Phase
from tests.scheduling.conftest import NOW, START, into_maintenance

pytestmark = pytest.mark.django_db


def _course(feed):
    clinic = feed.clinic
    plan = clinic.plan()
    proposal = services.course_propose(plan=plan, start_date=START, now=NOW)
    return plan, services.course_book(plan=plan, actor=clinic.front_desk.user, now=NOW, sessions=proposal.sessions)


def test_a_course_booking_writes_one_s12_per_session(feed):
    _plan, booked = _course(feed)
    messages = list(SiuMessage.objects.order_by("appointment_id"))
    assert [m.appointment_id for m in messages] == sorted(a.pk for a in booked)
    assert {m.event for m in messages} == {"S12"} and {m.sequence for m in messages} == {1}
    assert len({m.control_id for m in messages}) == len(booked) == 6


def test_a_patient_with_a_recorded_mrn_is_named_by_it_in_pid_3(feed):
    plan = feed.clinic.plan()
    plan.patient.mrn = "MRN-004217"
    plan.patient.save(update_fields=["mrn"])
    proposal = services.course_propose(plan=plan, start_date=START, now=NOW)
    booked = services.course_book(plan=plan, actor=feed.clinic.front_desk.user, now=NOW, sessions=proposal.sessions)
    pid = hl7.parse(SiuMessage.objects.get(appointment=booked[0]).payload).segment("PID")
    assert (str(pid[3][0][0]), str(pid[3][0][4])) == ("MRN-004217", "MR")


def test_the_message_names_patient_mrn_site_chair_nurse_prescriber_and_protocol(feed):
    plan, booked = _course(feed)
    first = booked[0]
    payload = SiuMessage.objects.get(appointment=first).payload
    message = hl7.parse(payload)
    assert [str(s[0]) for s in message] == ["MSH", "SCH", "PID", "RGS", "AIS", "AIL", "AIP", "AIP"]
    msh = message.segment("MSH")
    assert str(msh[9]) == "SIU^S12^SIU_S12"
    assert str(msh[3]) == "KETAMINE-SCHED" and str(msh[4]) == feed.clinic.site.name
    assert str(msh[5]) == "EHR" and str(msh[6]) == "CLINIC" and str(msh[12]) == "2.5"
    sch = message.segment("SCH")
    assert str(sch[1][0][0]) == str(first.pk) and str(sch[2][0][0]) == str(first.pk)
    assert str(sch[4][0][0]) == f"PLAN-{plan.pk}"
    assert str(sch[6][0][0]) == "S12"
    # The session named as every page names it (scheduling.labels.session_label).
    assert (str(sch[7][0][0]), str(sch[7][0][1])) == ("INDUCTION", f"{plan.protocol.name}, Session 1 of 6")
    # Timing in the site's wall clock with its offset (New York, EST before 8 March 2026).
    local_start = first.starts_at.astimezone(feed.clinic.site.zone)
    assert str(sch[11][0][3]) == local_start.strftime("%Y%m%d%H%M%S") + "-0500"
    assert str(sch[11][0][4]) == first.ends_at.astimezone(feed.clinic.site.zone).strftime("%Y%m%d%H%M%S-0500")
    assert str(sch[9]) == "120" and str(sch[25][0][0]) == "Booked"
    pid = message.segment("PID")
    # No MRN recorded: the record number, as a patient internal identifier (PI), never an MR.
    assert str(pid[3][0][0]) == str(first.patient_id)
    assert str(pid[3][0][3]) == "KETAMINE-SCHED" and str(pid[3][0][4]) == "PI"  # assigned by this system
    assert str(pid[5][0][0]) == first.patient.last_name and str(pid[5][0][1]) == first.patient.first_name
    assert str(pid[7]) == first.patient.date_of_birth.strftime("%Y%m%d")
    ais = message.segment("AIS")
    assert str(ais[3][0][0]) == f"PROTOCOL-{plan.protocol.pk}" and plan.protocol.name in str(ais[3][0][1])
    ail = message.segment("AIL")
    assert str(ail[3][0][2]) == first.chair.name and str(ail[3][0][3]) == feed.clinic.site.name
    nurse, prescriber = message.segments("AIP")
    assert str(nurse[4][0][0]) == "NURSE" and str(nurse[3][0][0]) == f"STAFF-{first.nurse_id}"
    assert str(nurse[3][0][1]) == first.nurse.user.last_name
    assert str(prescriber[4][0][0]) == "PRESCRIBER" and str(prescriber[3][0][0]) == f"STAFF-{plan.prescriber_id}"
    assert str(message.segment("SCH")[20][0][0]) == f"USER-{feed.clinic.front_desk.user.pk}"


def test_the_message_passes_hl7apy_strict_validation(feed):
    _, booked = _course(feed)
    payload = SiuMessage.objects.get(appointment=booked[0]).payload
    parsed = parse_message(payload, find_groups=True, validation_level=VALIDATION_LEVEL.STRICT)
    assert parsed.validate()
    assert parsed.siu_s12_patient.pid.pid_3.cx_5.value == "PI"  # no MRN recorded
    resources = parsed.siu_s12_resources
    assert resources.siu_s12_location_resource.ail.ail_3.pl_3.value == booked[0].chair.name
    assert resources.siu_s12_service.ais.ais_3.ce_2.value.startswith(booked[0].plan.protocol.name)


def test_text_that_looks_like_hl7_delimiters_is_escaped(feed):
    clinic = feed.clinic
    plan = clinic.plan()
    plan.patient.last_name = "O|Brien^&~"
    plan.patient.save(update_fields=["last_name"])
    booked = services.appointment_book(
        patient=plan.patient,
        site=clinic.site,
        starts_at=dt.datetime(2026, 3, 3, 15, tzinfo=dt.UTC),
        actor=clinic.front_desk.user,
        now=NOW,
        plan=plan,
    )
    message = hl7.parse(SiuMessage.objects.get(appointment=booked).payload)
    assert len(message.segment("PID")[5][0]) >= 2
    assert message.unescape(str(message.segment("PID")[5][0][0])) == "O|Brien^&~"


def test_each_change_writes_its_event_in_sequence(feed):
    clinic = feed.clinic
    desk = clinic.front_desk.user
    plan = clinic.plan()
    appointment = services.appointment_book(
        patient=plan.patient,
        site=clinic.site,
        starts_at=dt.datetime(2026, 3, 3, 15, tzinfo=dt.UTC),
        actor=desk,
        now=NOW,
        plan=plan,
    )
    services.appointment_move(
        appointment=appointment, starts_at=dt.datetime(2026, 3, 4, 15, tzinfo=dt.UTC), actor=desk, now=NOW
    )
    services.appointment_confirm(appointment=appointment, actor=desk, now=NOW)
    services.appointment_confirm(appointment=appointment, actor=desk, now=NOW)  # a retry changes nothing
    services.appointment_cancel(appointment=appointment, actor=desk, reason="Patient unwell", now=NOW)
    rows = list(SiuMessage.objects.filter(appointment=appointment).order_by("sequence"))
    assert [(m.sequence, m.event) for m in rows] == [(1, "S12"), (2, "S13"), (3, "S14"), (4, "S15")]
    moved = hl7.parse(rows[1].payload).segment("SCH")
    assert str(moved[11][0][3]).startswith("20260304")
    cancelled = hl7.parse(rows[3].payload).segment("SCH")
    assert str(cancelled[25][0][0]) == "Cancelled" and "Patient unwell" in str(cancelled[6])


def test_a_no_show_writes_s26(feed):
    clinic = feed.clinic
    plan = clinic.plan()
    appointment = services.appointment_book(
        patient=plan.patient,
        site=clinic.site,
        starts_at=dt.datetime(2026, 3, 3, 15, tzinfo=dt.UTC),
        actor=clinic.front_desk.user,
        now=NOW,
        plan=plan,
    )
    services.appointment_mark_no_show(
        appointment=appointment, actor=clinic.front_desk.user, now=appointment.starts_at + dt.timedelta(hours=1)
    )
    rows = list(SiuMessage.objects.filter(appointment=appointment).order_by("sequence"))
    assert [m.event for m in rows] == ["S12", "S26"]
    assert str(hl7.parse(rows[1].payload).segment("SCH")[25][0][0]) == "Noshow"


def test_line_breaks_in_free_text_cannot_end_a_segment_and_names_keep_their_letters(feed):
    clinic = feed.clinic
    plan = clinic.plan()
    plan.patient.first_name = "Zoë"
    plan.patient.save(update_fields=["first_name"])
    appointment = services.appointment_book(
        patient=plan.patient,
        site=clinic.site,
        starts_at=dt.datetime(2026, 3, 3, 15, tzinfo=dt.UTC),
        actor=clinic.front_desk.user,
        now=NOW,
        plan=plan,
    )
    services.appointment_cancel(
        appointment=appointment, actor=clinic.front_desk.user, reason="Unwell\r\nPID|||forged", now=NOW
    )
    payload = SiuMessage.objects.get(appointment=appointment, event="S15").payload
    message = hl7.parse(payload)
    assert [str(s[0]) for s in message].count("PID") == 1
    assert "Unwell PID" in message.unescape(str(message.segment("SCH")[6]))
    assert str(message.segment("PID")[5][0][1]) == "Zoë"
    assert str(message.segment("MSH")[18]) == "UNICODE UTF-8"


def test_sch_7_names_a_maintenance_session_by_its_number_in_the_course_as_the_pages_do(feed):
    plan, _ = into_maintenance(feed.clinic)
    first = plan.appointments.filter(phase=Phase.MAINTENANCE).order_by("starts_at")[0]
    assert first.sequence == 7
    sch = hl7.parse(SiuMessage.objects.get(appointment=first, event="S12").payload).segment("SCH")
    # Not "Maintenance session 7", read as the seventh maintenance session.
    assert (str(sch[7][0][0]), str(sch[7][0][1])) == (
        "MAINTENANCE",
        f"{plan.protocol.name}, Maintenance (session 7 of the course)",
    )


def test_sch_7_of_a_cancelled_session_says_it_was_cancelled_as_the_chart_does(feed):
    plan, booked = _course(feed)
    services.appointment_cancel(appointment=booked[4], actor=feed.clinic.front_desk.user, reason="Away", now=NOW)
    sch = hl7.parse(SiuMessage.objects.get(appointment=booked[4], event="S15").payload).segment("SCH")
    assert str(sch[7][0][1]) == f"{plan.protocol.name}, Cancelled induction session"
