"""SIU messages (HL7 v2.5), built with hl7apy from an appointment loaded with its patient, site,
chair, nurse and plan (see `appointments_for_messages`).

Every SIU event uses the SIU_S12 structure:
  MSH  sender and receiver (the site's SiuReceiver), time, SIU^<event>^SIU_S12, control id
  SCH  placer and filler appointment id (ours: we place and fill the booking), placer group
       number (the treatment plan, so a receiver can group a course), event reason, appointment
       reason (the protocol and the session, named as the pages name it), duration, timing
       (start and end), entered by, status
  PID  MRN in PID-3 (identifier type MR), name, date of birth
  RGS  one resource group with:
  AIS  the protocol (the service), start and duration
  AIL  the site (PL-4 facility, PL-1 point of care) and the chair (PL-3 bed)
  AIP  the nurse, and the prescriber of the plan
Datetimes are the site's wall clock with its UTC offset (YYYYMMDDHHMMSS+ZZZZ), so a receiver
never has to guess the zone.

PID-3: the patient's medical record number (Patient.mrn, the one FHIR's Patient.identifier
carries), identifier type MR, under the receiver's MRN assigning authority (PID-3.4). A patient
registered without one is sent under this system's record number (Patient.pk) as identifier type
PI (patient internal identifier), assigned by this system (the sending application), never as an
MR another patient's number could equal.
`patient_identifier` is the one place that decides it."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from hl7apy.core import Message

from clinic.models import StaffMember
from interop.siu.models import SiuEvent, SiuReceiver
from patients.models import Patient
from scheduling.labels import session_label
from scheduling.models import Appointment, AppointmentStatus

HL7_VERSION = "2.5"

EVENT_REASONS = {
    SiuEvent.NEW: "Booked",
    SiuEvent.RESCHEDULED: "Rescheduled",
    SiuEvent.MODIFIED: "Modified",
    SiuEvent.CANCELLED: "Cancelled",
    SiuEvent.NO_SHOW: "No-show",
}

# HL7 table 0278 (filler status codes); our own status name goes in the text component.
FILLER_STATUS: dict[str, str] = {
    AppointmentStatus.BOOKED: "Booked",
    AppointmentStatus.CONFIRMED: "Booked",
    AppointmentStatus.CHECKED_IN: "Booked",
    AppointmentStatus.IN_CHAIR: "Started",
    AppointmentStatus.COMPLETED: "Complete",
    AppointmentStatus.CANCELLED: "Cancelled",
    AppointmentStatus.NO_SHOW: "Noshow",
}


def appointments_for_messages(appointment_ids: Sequence[int]) -> list[Appointment]:
    """The appointments with everything a message names, in one query."""
    return list(
        Appointment.objects.filter(pk__in=appointment_ids).select_related(
            "patient", "site", "chair", "nurse__user", "plan__protocol", "plan__prescriber__user"
        )
    )


def hl7_instant(instant: dt.datetime, zone: Any) -> str:
    """An aware instant as HL7 DTM in `zone`, with the offset: 20261204093000-0500."""
    return instant.astimezone(zone).strftime("%Y%m%d%H%M%S%z")


_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


# HL7 v2's escapes for the default encoding characters; the escape character itself goes first.
_ESCAPES = (("\\", "\\E\\"), ("|", "\\F\\"), ("^", "\\S\\"), ("&", "\\T\\"), ("~", "\\R\\"))


def text(value: object) -> str:
    """Free text for a field, escaped for ER7: a plain string set on a component is read as ER7,
    and a "&" there splits it into sub-components ("Mind & Body" arrives as "Mind "). Every
    backslash is escaped too: hl7apy's own escaping leaves text that looks like an escape sequence
    as it is, so "C:\\T\\notes" typed by someone would arrive as "C:&notes". hl7apy leaves escape
    sequences alone, so a value set on a sub-component (which it escapes) is escaped once either
    way. A line break would end the segment: control characters become a space."""
    escaped = _CONTROL.sub(" ", str(value)).strip()
    for character, escape in _ESCAPES:
        escaped = escaped.replace(character, escape)
    return escaped


def patient_identifier(patient: Patient) -> tuple[str, str]:
    """PID-3's identifier and its type: the clinic's medical record number (MR); for a patient
    registered without one, the row id as a patient internal identifier (PI), so that it is never
    read as the MRN of whichever patient has that number."""
    return (patient.mrn, "MR") if patient.mrn else (str(patient.pk), "PI")


def _person(xcn: Any, *, identifier: str, family: str, given: str) -> None:
    xcn.xcn_1 = text(identifier)
    if family:
        xcn.xcn_2.fn_1 = text(family)
    if given:
        xcn.xcn_3 = text(given)


def _staff(xcn: Any, staff: StaffMember) -> None:
    user = staff.user
    _person(
        xcn,
        identifier=f"STAFF-{staff.pk}",
        family=user.last_name or user.get_username(),
        given=user.first_name,
    )


def _coded(ce: Any, code: str, description: str = "", system: str = "") -> None:
    ce.ce_1 = code
    if description:
        ce.ce_2 = text(description)
    if system:
        ce.ce_3 = system


def siu_message(
    *,
    appointment: Appointment,
    event: str,
    control_id: str,
    receiver: SiuReceiver,
    now: dt.datetime,
    actor: AbstractBaseUser | None,
) -> str:
    """The SIU^`event` message for `appointment` as it is now, in ER7 (segments ended by CR)."""
    site = appointment.site
    zone = site.zone
    plan = appointment.plan
    protocol = plan.protocol if plan is not None else None
    minutes = str(int((appointment.ends_at - appointment.starts_at).total_seconds() // 60))
    start = hl7_instant(appointment.starts_at, zone)
    end = hl7_instant(appointment.ends_at, zone)
    status_code = FILLER_STATUS.get(appointment.status, "Booked")
    status_text = appointment.get_status_display()

    message = Message("SIU_S12", version=HL7_VERSION)
    msh = message.msh
    msh.msh_3.hd_1 = text(receiver.sending_application)
    msh.msh_4.hd_1 = text(receiver.sending_facility or site.name)
    if receiver.receiving_application:
        msh.msh_5.hd_1 = text(receiver.receiving_application)
    if receiver.receiving_facility:
        msh.msh_6.hd_1 = text(receiver.receiving_facility)
    msh.msh_7.ts_1 = hl7_instant(now, zone)
    msh.msh_9.msg_1 = "SIU"
    msh.msh_9.msg_2 = event
    msh.msh_9.msg_3 = "SIU_S12"
    msh.msh_10 = control_id
    msh.msh_11.pt_1 = "P"
    msh.msh_18 = "UNICODE UTF-8"  # names are sent as they are written, in UTF-8

    sch = message.sch
    sch.sch_1.ei_1 = str(appointment.pk)
    sch.sch_1.ei_2 = text(receiver.sending_application)
    sch.sch_2.ei_1 = str(appointment.pk)
    sch.sch_2.ei_2 = text(receiver.sending_application)
    if plan is not None:
        sch.sch_4.ei_1 = f"PLAN-{plan.pk}"
        sch.sch_4.ei_2 = text(receiver.sending_application)
    reason = EVENT_REASONS[SiuEvent(event)]
    if event == SiuEvent.CANCELLED and appointment.cancellation_reason:
        reason = f"Cancelled: {appointment.cancellation_reason}"
    _coded(sch.sch_6, event, reason)
    # The session as every page names it ("Session 3 of 6", "Maintenance (session 7 of the
    # course)"), after its protocol.
    label = session_label(appointment)
    _coded(sch.sch_7, appointment.phase.upper(), f"{protocol.name}, {label}" if protocol is not None else label)
    _coded(sch.sch_8, "Normal")
    sch.sch_9 = minutes
    _coded(sch.sch_10, "min", "minutes", "ANS+")
    sch.sch_11.tq_4.ts_1 = start
    sch.sch_11.tq_5.ts_1 = end
    if appointment.nurse is not None:
        _staff(sch.sch_16, appointment.nurse)
    else:
        _person(sch.sch_16, identifier="FRONT-DESK", family=site.name, given="")
    if actor is not None and getattr(actor, "pk", None):
        _person(
            sch.sch_20,
            identifier=f"USER-{actor.pk}",
            family=getattr(actor, "last_name", "") or actor.get_username(),
            given=getattr(actor, "first_name", ""),
        )
    else:
        _person(sch.sch_20, identifier="SYSTEM", family="System", given="")
    _coded(sch.sch_25, status_code, status_text, "HL70278")

    patient = appointment.patient
    pid = message.add_group("SIU_S12_PATIENT").pid
    pid.pid_1 = "1"
    identifier, kind = patient_identifier(patient)
    pid.pid_3.cx_1 = text(identifier)
    # An MRN under the clinic's MRN authority; our record number under this system's own name (the
    # sending application), so a receiver keying on number and authority never joins the two.
    pid.pid_3.cx_4.hd_1 = text(receiver.mrn_assigning_authority if kind == "MR" else receiver.sending_application)
    pid.pid_3.cx_5 = kind
    pid.pid_5.xpn_1.fn_1 = text(patient.last_name)
    pid.pid_5.xpn_2 = text(patient.first_name)
    pid.pid_7.ts_1 = patient.date_of_birth.strftime("%Y%m%d")

    resources = message.add_group("SIU_S12_RESOURCES")
    resources.rgs.rgs_1 = "1"
    ais = resources.add_group("SIU_S12_SERVICE").ais
    ais.ais_1 = "1"
    if protocol is not None:
        _coded(ais.ais_3, f"PROTOCOL-{protocol.pk}", f"{protocol.name} ({protocol.get_route_display()})", "L")
    else:
        _coded(ais.ais_3, "SESSION", "Single infusion session", "L")
    ais.ais_4.ts_1 = start
    ais.ais_7 = minutes
    _coded(ais.ais_8, "min", "minutes", "ANS+")
    _coded(ais.ais_10, status_code, status_text, "HL70278")

    ail = resources.add_group("SIU_S12_LOCATION_RESOURCE").ail
    ail.ail_1 = "1"
    ail.ail_3.pl_1 = f"SITE-{site.pk}"
    ail.ail_3.pl_3 = text(appointment.chair.name)
    ail.ail_3.pl_4.hd_1 = text(site.name)
    _coded(ail.ail_4, "CHAIR", "Infusion chair")
    ail.ail_6.ts_1 = start
    ail.ail_9 = minutes
    _coded(ail.ail_10, "min", "minutes", "ANS+")
    _coded(ail.ail_12, status_code, status_text, "HL70278")

    people: list[tuple[StaffMember, str, str]] = []
    if appointment.nurse is not None:
        people.append((appointment.nurse, "NURSE", "Infusion nurse"))
    if plan is not None:
        people.append((plan.prescriber, "PRESCRIBER", "Prescriber"))
    for number, (staff, code, role) in enumerate(people, start=1):
        aip = resources.add_group("SIU_S12_PERSONNEL_RESOURCE").aip
        aip.aip_1 = str(number)
        _staff(aip.aip_3, staff)
        _coded(aip.aip_4, code, role)
        aip.aip_6.ts_1 = start
        aip.aip_9 = minutes
        _coded(aip.aip_10, "min", "minutes", "ANS+")
        _coded(aip.aip_12, status_code, status_text, "HL70278")
    return message.to_er7()
