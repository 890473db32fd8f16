"""The IHE ITI Scheduling operations: Appointment/$find (ITI-115), $hold (ITI-116) and
$book (ITI-117), with the parameter names of IHE's OperationDefinitions. Each answers a
Bundle whose Appointments carry the IHE Appointment profile (ihe-sched-appt)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
from collections.abc import Callable
from functools import reduce
from operator import or_
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.http import HttpResponse
from django.utils import timezone
from fhir.resources.R4B.appointment import Appointment as FAppointment
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.codeableconcept import CodeableConcept
from fhir.resources.R4B.coding import Coding
from fhir.resources.R4B.parameters import Parameters, ParametersParameter
from fhir.resources.R4B.patient import Patient as FPatient

from clinic.audit import patients_shown
from clinic.models import Chair, Role, Site, StaffMember
from clinic.permissions import works_at
from interop.fhir import find_reasons, ids
from interop.fhir import representation as rep
from interop.fhir.base import FHIR_JSON, FHIRView, base_url, fhir_response
from interop.fhir.finding import (
    check_window,
    course_times,
    find_free_times,
    free_time_key,
    open_plan,
    sites_by_id,
)
from interop.fhir.outcome import FHIRError, invalid, outcome
from interop.fhir.paging import CURSOR, Cursor, read_cursor, write_cursor
from interop.fhir.params import (
    FIND_SCAN_LIMIT,
    FIND_SCAN_ROUNDS,
    MAX_COUNT,
    as_instant,
    at_zone,
    count_of,
    location_ids,
    parse_when,
    reference_id,
    row_number,
    zone_of,
)
from interop.fhir.resources import KINDS, appointments_for
from interop.fhir.timing import TimingWish, timing_wish
from patients.models import Patient
from scheduling.errors import CourseDoesNotFit
from scheduling.models import UPCOMING_STATUSES, Appointment, AppointmentStatus, Phase, Protocol, TreatmentPlan
from scheduling.selectors import rule_sessions
from scheduling.services import (
    appointment_book,
    appointment_book_held,
    appointment_cancel,
    appointment_move,
    appointment_note_add,
    holds_release_expired,
    session_rule_violations,
)
from scheduling.services.idempotency import KEY_RULE, KeptAnswer, Replay, key_is_valid, request_fingerprint, run_once

# A patient reference in an answer (Patient/<id>): what a replayed answer shows.
_PATIENT_REFERENCE = re.compile(r'"reference": ?"Patient/(\d+)"')

# The methods whose inputs are the query: a HEAD is asked as the GET is, and answered without the body.
BY_ADDRESS = ("GET", "HEAD")

# The longest reason kept in a session's notes (the notes line holds 1,000 characters).
MAX_REASON = 500

# $find's documented extension: ask for a whole induction course instead of single sessions.
COURSE_PARAMETER = "course"
FIND_PARAMETERS = {
    "start",
    "end",
    "specialty",
    "visit-type",
    "practitioner",
    "organization",
    "location-string",
    "location-reference",
    "patient-reference",
    "patient-resource",
    "reason",
    "referral-identifier",
    "timing",
    "insurance-reference",
    "_count",
    COURSE_PARAMETER,
}


def _value(parameter: ParametersParameter) -> Any:
    """The parameter's value[x] (or resource), whatever its type."""
    if parameter.resource is not None:
        return parameter.resource
    for name, value in parameter:
        if name.startswith("value") and value is not None:
            return value
    return None


def _as_text(value: Any, name: str) -> str:
    if isinstance(value, str | int | bool):
        return str(value).lower() if isinstance(value, bool) else str(value)
    if hasattr(value, "reference") and value.reference:
        return value.reference
    if hasattr(value, "coding") and value.coding:
        return value.coding[0].code or ""
    if hasattr(value, "code") and value.code:
        return value.code
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    raise invalid(f"{name}: this value type is not understood.")


class OperationView(FHIRView):
    # The operation's name, as an unknown parameter's 400 names it.
    operation = ""

    def parameters(self, allowed: set[str]) -> dict[str, list[Any]]:
        """The operation's inputs by name: from a Parameters body (POST) or the query (GET, HEAD)."""
        found: dict[str, list[Any]] = {}
        if self.request.method in BY_ADDRESS:
            for name, values in self.query_params().items():
                found[name] = list(values)
        else:
            body = self.body_json()
            if body.get("resourceType") != "Parameters":
                raise FHIRError(400, "structure", "Send the inputs as a Parameters resource.")
            for parameter in Parameters.model_validate(body).parameter or []:
                if not parameter.name:
                    raise FHIRError(400, "structure", "Every parameter needs a name.")
                found.setdefault(parameter.name, []).append(_value(parameter))
        unknown = set(found) - allowed
        if unknown:
            raise FHIRError(
                400,
                "not-supported",
                f"Unknown parameters: {', '.join(sorted(unknown))}. "
                f"{self.operation} accepts: {', '.join(sorted(allowed))}.",
            )
        return found

    def patient_from(self, found: dict[str, list[Any]], *, required: bool) -> Patient | None:
        """The patient named by patient-reference, or by the MRN of a patient-resource; a
        patient's own token always means that patient."""
        visible = KINDS["Patient"].visible(self.actor)
        patient = None
        for value in found.get("patient-reference", []):
            pk = reference_id(_as_text(value, "patient-reference"), "Patient", name="patient-reference")
            patient = visible.filter(pk=pk).first()
            if patient is None:
                raise FHIRError(404, "not-found", f"Patient/{pk} is not known.")
        for value in found.get("patient-resource", []):
            resource = value if isinstance(value, FPatient) else FPatient.model_validate(_json(value))
            mrns = [i.value for i in resource.identifier or [] if i.value and i.system in (None, rep.mrn_system())]
            row = row_number(resource.id) if resource.id else None
            if row is not None:
                patient = visible.filter(pk=row).first()
            elif mrns:
                patient = visible.filter(mrn=mrns[0]).first()
            if patient is None:
                raise FHIRError(
                    404, "not-found", "No patient of yours matches patient-resource (by id or MRN); create it first."
                )
        own = self.own_patient()
        if own is not None:
            if patient is not None and patient.pk != own.pk:
                raise FHIRError(404, "not-found", "Patient not known.")
            patient = own
        if patient is None and required:
            raise invalid("Name the patient: patient-reference or patient-resource.")
        return patient

    def bundle(
        self,
        appointments: list[FAppointment],
        *,
        notes: list[str] | None = None,
        total: int | None = None,
        total_unknown: bool = False,
        cut: str = "",
        links: list[dict[str, str]] | None = None,
    ) -> Bundle:
        """A searchset of `appointments`; `total` every match when more matched than are shown (by
        default those shown; none when `total_unknown`: the search stopped before the end);
        `notes` an informational OperationOutcome entry, `cut` a warning one that says the list
        was cut."""
        base = base_url(self.request)
        entries: list[dict[str, Any]] = [
            {"fullUrl": f"{base}Appointment/{a.id}", "resource": a, "search": {"mode": "match"}} for a in appointments
        ]
        if notes:
            entries.append(
                {
                    "resource": outcome("informational", " ".join(notes), severity="information"),
                    "search": {"mode": "outcome"},
                }
            )
        if cut:
            entries.append({"resource": outcome("incomplete", cut, severity="warning"), "search": {"mode": "outcome"}})
        return Bundle(
            meta={"profile": [rep.IHE_BUNDLE_PROFILE]},
            type="searchset",
            total=None if total_unknown else len(appointments) if total is None else total,
            link=links or None,
            entry=entries or None,
        )


def _json(value: Any) -> Any:
    return json.loads(value.model_dump_json()) if hasattr(value, "model_dump_json") else value


def _protocol(found: dict[str, list[Any]]) -> Protocol:
    types = found.get("visit-type", []) + found.get("specialty", [])
    protocols = Protocol.objects.filter(active=True)
    for value in types:
        text = _as_text(value, "visit-type").rpartition("/")[2].rpartition("|")[2]
        number = row_number(text)
        protocol = (
            protocols.filter(pk=number).first() if number is not None else protocols.filter(name__iexact=text).first()
        )
        if protocol is not None:
            return protocol
    if types:
        raise invalid("visit-type: not one of our HealthcareServices (a protocol id or name).")
    only = list(protocols[:2])
    if len(only) == 1:
        return only[0]
    raise invalid("Give visit-type: the HealthcareService (protocol) id or name to find times for.")


class FindView(OperationView):
    """Appointment/$find (ITI-115), by GET (or HEAD) or POST."""

    read_only = True
    operation = "$find"

    def get(self, request: Any) -> HttpResponse:
        return self.find()

    def head(self, request: Any) -> HttpResponse:
        return self.find()

    def finalize_response(self, request: Any, response: Any, *args: Any, **kwargs: Any) -> Any:
        """A HEAD's answer is the GET's, found or refused, with its status and headers (Content-Length
        the GET body's) and no body; not left to the server to drop."""
        response = super().finalize_response(request, response, *args, **kwargs)
        if request.method == "HEAD":
            if hasattr(response, "render"):
                response.render()
            length = len(response.content)
            response.content = b""
            response["Content-Length"] = str(length)
        return response

    def post(self, request: Any) -> HttpResponse:
        return self.find()

    def find(self) -> HttpResponse:
        self.require_scope("Appointment", "s")
        # A GET has an address to page (its next link's _page cursor); a POST has none.
        paged = self.request.method in BY_ADDRESS
        found = self.parameters(FIND_PARAMETERS | {CURSOR} if paged else FIND_PARAMETERS)
        # The cursor before the free times are worked out: a bad one is refused without that work.
        cursor = (
            read_cursor(
                self.request.query_params.get(CURSOR),
                self.query_params(),
                width=3,
                user_id=self.acting_user.pk,
                search=FIND_SEARCH,
            )
            if paged
            else None
        )
        for name in ("start", "end"):
            if len(found.get(name, [])) != 1:
                raise invalid(f"$find needs exactly one {name}.")
        # Instants, or calendar days read at the site (below, once the sites are known, where the
        # window is checked: 31 days of a month across a clock change are 31 days at the clinic).
        start_when = parse_when(found["start"][0], name="start")
        end_when = parse_when(found["end"][0], name="end")
        wish = timing_wish(found.get("timing", []))
        concepts = reason_concepts(found.get("reason", []), token=self.request.method in BY_ADDRESS)
        protocol = _protocol(found)
        patient = self.patient_from(found, required=False)
        count = count_of(_as_text(found["_count"][0], "_count")) if found.get("_count") else MAX_COUNT
        course = any(_as_text(v, COURSE_PARAMETER) in ("true", "1") for v in found.get(COURSE_PARAMETER, []))
        site_ids, chair_ids = location_ids(
            [_as_text(v, "location-reference") for v in found.get("location-reference", [])], name="location-reference"
        )
        visible_chairs = KINDS["Schedule"].visible(self.actor).filter(active=True)
        if site_ids:
            visible_chairs = visible_chairs.filter(site_id__in=site_ids)
        if chair_ids:
            visible_chairs = visible_chairs.filter(pk__in=chair_ids)
        chairs: list[Chair] = list(visible_chairs)
        nurse_ids = [
            reference_id(_as_text(v, "practitioner"), "Practitioner", name="practitioner")
            for v in found.get("practitioner", [])
        ] or None
        sites = sites_by_id({c.site_id for c in chairs})
        now = timezone.now()
        # A closure's reason is free text the clinic's administrators type, for staff: for a patient
        # the engine reads the closures without it, so its words ("the site is closed", "the chair is
        # out of use (Chair 1)") never carry one.
        closure_reasons = self.actor.is_staff
        if patient is not None:
            self.shown([patient.pk])
        if course:
            if patient is None:
                raise invalid("A course is found for one patient: give patient-reference or patient-resource.")
            if not sites:
                raise FHIRError(404, "not-found", "None of your sites has a chair for this.")
            plan = open_plan(patient, protocol)
            if plan is not None and plan.site_id not in {s.pk for s in sites}:
                # A course belongs to the patient's plan: found at another site it would be booked
                # outside it, as single sessions.
                # The plan's site is named only to someone who works there (a narrowed search).
                where = (
                    f"Location/site-{plan.site_id}"
                    if works_at(self.actor.staff, plan.site_id)
                    else "a site you do not work at"
                )
                raise FHIRError(
                    409,
                    "business-rule",
                    f"The patient's open plan is at {where}, which this search does not cover: find the "
                    "course at that site (or by a user who works there).",
                )
            site = next((s for s in sites if plan is not None and s.pk == plan.site_id), sites[0])
            check_window(at_zone(start_when, site.zone), at_zone(end_when, site.zone), site.zone)
            wish = wish.at(site.zone) if wish is not None else None
            try:
                found_course = course_times(
                    site=site,
                    start=at_zone(start_when, site.zone),
                    protocol=protocol,
                    patient=patient,
                    plan=plan,
                    now=now,
                    chairs=[c for c in chairs if c.site_id == site.pk],
                    wish=wish,
                    closure_reasons=closure_reasons,
                )
            except CourseDoesNotFit as exc:
                asked = f" (timing asked: {wish.describe()})" if wish is not None else ""
                return fhir_response(self.bundle([], notes=[exc.message + asked]))
            kept = find_reasons.remember(concepts, asked_by=self.request.user.pk, now=now)
            # Why each session's time was chosen (issue 17), for staff; a patient is proposed the times
            # without it: the placement's reasons (other starts, each day's booked share) stay with the
            # clinic, as on the portal's self-reschedule.
            whys = found_course.whys if self.actor.is_staff else [""] * len(found_course.sessions)
            appointments = [
                rep.proposed_appointment(_issued(p, kept, now), protocol, sequence=index + 1, reasons=concepts, why=why)
                for index, (p, why) in enumerate(zip(found_course.sessions, whys, strict=True))
            ]
            course_notes = found_course.notes if self.actor.is_staff else found_course.patient_notes
            return fhir_response(self.bundle(appointments, notes=course_notes))
        zone = zone_of(s.zone for s in sites)
        start, end = at_zone(start_when, zone), at_zone(end_when, zone)
        check_window(start, end, zone)
        if wish is not None:
            wish = wish.at(zone)
            start, end = wish.window(start, end)
            if end <= start:
                return fhir_response(
                    self.bundle([], notes=["No free time fits: the timing's boundsPeriod lies outside start–end."])
                )
        searched = find_free_times(
            sites=sites,
            start=start,
            end=end,
            protocol=protocol,
            now=now,
            patient=patient,
            chairs=chairs,
            nurse_ids=nurse_ids,
            limit=None,  # the whole window, cut below past the page's place
            prefs=wish.preferences() if wish is not None else None,
            closure_reasons=closure_reasons,
        )
        # From the page's place (a next link's: right after the last proposal it followed), at most
        # FIND_SCAN_LIMIT free times: enough to say how many fit (a month of a busy site's times is
        # thousands, and each is checked against the patient's rules below); past it, "at least".
        # While none of them fits the patient's rules the next FIND_SCAN_LIMIT are checked, up to
        # FIND_SCAN_ROUNDS stretches, so a page is rarely empty though its next link goes on.
        following = [t for t in searched.times if cursor is None or cursor.key is None or free_time_key(t) > cursor.key]
        plan = open_plan(patient, protocol) if patient is not None else None
        fits = self.rules_filter(patient, plan, sites, now)
        scanned: list[ids.Proposed] = []
        times: list[ids.Proposed] = []
        for _ in range(FIND_SCAN_ROUNDS):
            stretch = following[len(scanned) : len(scanned) + FIND_SCAN_LIMIT]
            scanned += stretch
            times += fits(stretch)
            if times or len(scanned) == len(following):
                break
        scanned_all = len(scanned) == len(following)
        # The reason is kept only when something is proposed; each proposal's id names it.
        kept = (
            find_reasons.remember(concepts, asked_by=self.request.user.pk, now=now)
            if times[:count]
            else find_reasons.NO_REASON
        )
        proposals = [_issued(t, kept, now) for t in times[:count]]
        # Why none of the free times checked fits the patient, in the terms of the rule that refused
        # them (without a patient every free time checked is a proposal).
        if scanned_all:
            checked = "the free times" if cursor is None else "the free times left after it"
        else:
            checked = f"the {'first' if cursor is None else 'next'} {len(scanned)} free times"
        refused = _refused(has_plan=plan is not None, checked=checked) if patient is not None and scanned else ""
        links: list[dict[str, str]] = []
        cut = ""
        if paged and count > 0:
            # The place to go on from: the last proposal shown when more fit, else (the scan stopped
            # short of the window's end) the last free time checked: every one up to it was shown or
            # fails the patient's rules, so nothing is shown twice or skipped.
            onward = times[count - 1] if len(times) > count else None if scanned_all else scanned[-1]
            if onward is not None:
                links.append(self.next_link(Cursor(True, free_time_key(onward))))
                cut = _next_note(
                    proposals, len(times), zone, at_least=not scanned_all, first_page=cursor is None, refused=refused
                )
        elif len(times) > count > 0:
            cut = _cut_note(times, count, zone, at_least=not scanned_all)
        elif times and not scanned_all:
            # The scan stopped at its bound with every fit shown (a POST) or counted (_count=0), and no
            # next link goes on: later free times in the window were not checked, which only this says.
            cut = _stopped_note(len(times), scanned, shown=count > 0, first=cursor is None)
        # A note only when nothing fits and no next link goes on (its cut note says why the page is
        # empty): when something fits it is shown, or only counted (_count=0 asks for the total alone).
        notes: list[str] = []
        if not times and not links:
            if cursor is not None:
                # A later page: the earlier ones showed what fitted before its place.
                notes = [f"No more proposals after the previous page: {refused or 'no free time is left after it'}."]
            elif not scanned_all:
                # A POST stopped at its bound (FIND_SCAN_ROUNDS stretches of FIND_SCAN_LIMIT free
                # times), none of which fits: later ones may.
                again = scanned[-1].start.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
                notes = [
                    f"The search stopped at {len(scanned)} free times without a proposal: {refused}. For later "
                    f"ones, $find again with start={again}."
                ]
            else:
                notes = [_nothing_fits(wish, refused or searched.why_none())]
        return fhir_response(
            self.bundle(
                [rep.proposed_appointment(p, protocol, reasons=concepts) for p in proposals],
                notes=notes,
                # A later page counts no total: the proposals before its place are not worked out again.
                total=None if scanned_all is False else len(times),
                total_unknown=scanned_all is False or cursor is not None,
                cut=cut,
                links=links,
            )
        )

    def rules_filter(
        self, patient: Patient | None, plan: TreatmentPlan | None, sites: list[Site], now: dt.datetime
    ) -> Callable[[list[ids.Proposed]], list[ids.Proposed]]:
        """Of free times, those the patient's rules allow: under `plan` (the open plan for the
        protocol) its own (gap, one a day, the window), without one a single infusion a day; every one
        without a patient. The patient's sessions are read once, on the first call."""
        if patient is None:
            return list
        site_of = {site.pk: site for site in sites}
        sessions: list[Appointment] | None = None

        def fits(times: list[ids.Proposed]) -> list[ids.Proposed]:
            nonlocal sessions
            if sessions is None:
                sessions = list(rule_sessions(patient.pk, now=now))
            return [
                t
                for t in times
                if not session_rule_violations(
                    patient_id=patient.pk,
                    plan=plan,
                    site=site_of[t.site_id],
                    starts_at=t.start,
                    ends_at=t.end,
                    phase=plan.phase if plan is not None else Phase.INDUCTION,
                    sessions=sessions,
                )
            ]

        return fits

    def next_link(self, cursor: Cursor) -> dict[str, str]:
        """The GET's own address with `_page` holding `cursor` (sealed for this query and user)."""
        asked = self.query_params()
        params = [(name, value) for name, values in asked.items() for value in values if name != CURSOR]
        sealed = write_cursor(cursor, params=asked, user_id=self.acting_user.pk, search=FIND_SEARCH)
        return {
            "relation": "next",
            "url": f"{base_url(self.request)}Appointment/$find?{urlencode([*params, (CURSOR, sealed)])}",
        }


# What a $find cursor is sealed for (paging.query_digest): the operation, not a resource type's search.
FIND_SEARCH = "Appointment/$find"


def _next_note(
    shown: list[ids.Proposed], fit: int, zone: ZoneInfo, *, at_least: bool, first_page: bool, refused: str = ""
) -> str:
    """What a GET $find page that has a next link says: how many it shows (of how many, on the first
    page), the last one, and to follow the link, which goes on right after it. A page that shows none
    (the scan stopped at its bound, every free time checked refused by the patient's rules) says why, and
    that the link goes on after the last free time checked."""
    if not shown:
        why = f": {refused}" if refused else ""
        return (
            f"Cut: this page holds no proposals{why}. For the rest, follow the Bundle's next link: it goes on "
            "after the last free time checked."
        )
    of = f" of {'at least ' if at_least else ''}{fit} that fit" if first_page else ""
    start = shown[-1].start.astimezone(zone)
    last = f", the last at {start:%a %-d %b %H:%M} ({start.isoformat()})"
    return (
        f"Cut: this page holds {len(shown)} proposals{of}{last}. For the rest, follow the Bundle's next link: "
        "it goes on right after the last proposal shown."
    )


def _cut_note(times: list[ids.Proposed], count: int, zone: ZoneInfo, *, at_least: bool = False) -> str:
    """What a $find cut at `count` proposals says: how many fit (`at_least`: the search stopped at
    FIND_SCAN_LIMIT free times), the last one shown and how to ask for the rest. For a POST: it has
    no address to page, so no next link (a GET's page has one, and says so: _next_note)."""
    last, following = times[count - 1].start, times[count].start
    larger = f", or a larger _count up to {MAX_COUNT}" if count < MAX_COUNT else ""
    fit = f"at least {len(times)}" if at_least else f"{len(times)}"
    return (
        f"Cut: this answer holds the first {count} of {fit} proposals that fit, the last at "
        f"{last.astimezone(zone):%a %-d %b %H:%M} ({last.astimezone(zone).isoformat()}). For the rest, $find again with "
        f"start={following.astimezone(dt.UTC).isoformat().replace('+00:00', 'Z')} (the first start not shown; "
        f"proposals at that start may be shown again){larger}."
    )


def _stopped_note(fit: int, scanned: list[ids.Proposed], *, shown: bool, first: bool) -> str:
    """What a $find says when its scan stopped at its bound (FIND_SCAN_ROUNDS stretches of
    FIND_SCAN_LIMIT free times) after `fit` proposals that fit, all of them `shown` (else only
    counted: _count=0), with no next link: the free times after the last one checked were not
    looked at, and where to $find again from."""
    again = scanned[-1].start.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
    among = f"the {'first' if first else 'next'} {len(scanned)} free times"
    held = (
        f"this answer holds the {fit} proposals that fit among {among}"
        if shown
        else f"{fit} proposals fit among {among}"
    )
    return (
        f"Cut: {held}, where the search stopped; later free times in the window were not checked. For them, "
        f"$find again with start={again} (the last free time checked: a proposal at that start may be shown again)."
    )


def _issued(time: ids.Proposed, kept: find_reasons.KeptReason, now: dt.datetime) -> ids.Proposed:
    """A free time as the proposal $find gives out at `now`, naming the reason it was found with."""
    return dataclasses.replace(time, kind="p", reason_id=kept.id, reason_check=kept.check, issued_at=now)


def _refused(*, has_plan: bool, checked: str) -> str:
    """Why the patient's rules refuse every one of the free times `checked`, as the booking checks
    them (session_rule_violations): under an open plan for the protocol, the plan's rules; without
    one, only one infusion a day (a time the patient is busy at is no free time)."""
    if has_plan:
        return (
            "the plan's rules (one infusion a day, the gap between infusions, the course's sessions, spacing "
            f"and review date) allow none of {checked}"
        )
    return (
        "the patient has no open plan for this protocol, so one infusion a day is the rule, and they already "
        f"have a session on the day of each of {checked}"
    )


def _nothing_fits(wish: TimingWish | None, why: str) -> str:
    """The note of an empty $find: the timing asked, and why (the patient's rules, or the engine's
    commonest reason)."""
    asked = f" at the times asked (timing: {wish.describe()})" if wish is not None else ""
    return f"No free time fits in that window{asked}" + (f": {why}." if why else ".")


def reason_concepts(values: list[Any], *, token: bool) -> list[CodeableConcept]:
    """$find's, $hold's or $book's `reason` values as CodeableConcepts: a valueCodeableConcept,
    a valueCoding, a valueString (its text) or, on GET, a token (code or system|code)."""
    concepts = []
    for value in values:
        if isinstance(value, CodeableConcept):
            concepts.append(value)
        elif isinstance(value, Coding):
            concepts.append(CodeableConcept(coding=[value]))
        elif isinstance(value, str) and value.strip():
            if token:
                system, _, code = value.strip().rpartition("|")
                if not code:
                    raise invalid("reason: a token is code or system|code.")
                concepts.append(CodeableConcept(coding=[Coding(system=system or None, code=code)]))
            else:
                concepts.append(CodeableConcept(text=value.strip()))
        else:
            raise invalid("reason: give a valueCodeableConcept (or a valueCoding, or a valueString).")
    if any(not rep.reason_line(c) for c in concepts):
        raise invalid("reason: give a code or a text.")
    return concepts


# --- Holding and booking -------------------------------------------------------------------


def _reference_text(value: Any, name: str) -> str:
    text = _as_text(value, name)
    return text.rpartition("/")[2] if "/" in text else text


@dataclasses.dataclass(frozen=True)
class Reached:
    """A $find proposal's rows, each one the asker may reach (WriteOperationView.reach)."""

    proposed: ids.Proposed
    patient: Patient
    site: Site
    chair: Chair
    nurse: StaffMember
    protocol: Protocol


class WriteOperationView(OperationView):
    def proposal(self, token: str, *, now: dt.datetime) -> ids.Proposed:
        # A proposed Appointment from $find, or a free Slot from the Slot search (same token).
        proposed = ids.decode(token, kind="p") or ids.decode(token, kind="s")
        if proposed is None:
            raise FHIRError(404, "not-found", f"Appointment/{token} is not a proposal of ours (or was altered).")
        if ids.expired(proposed, now=now):
            raise FHIRError(
                410,
                "not-found",
                f"Appointment/{token} was proposed more than {settings.FHIR_PROPOSAL_MAX_AGE_HOURS} hours ago "
                "and can no longer be held or booked; $find again.",
                reason="proposal_expired",
            )
        return proposed

    def reach(self, proposed: ids.Proposed, *, patient: Patient | None) -> Reached:
        """What a $find proposal names, as the asker may reach it: its patient (or `patient`, the one
        the request names, for a proposal found without one), site, chair, nurse and protocol; a
        404 for what they cannot reach, before anything is said about the time itself."""
        if proposed.patient_id:
            if patient is not None and patient.pk != proposed.patient_id:
                # A proposal found for one patient is never booked for another, nor silently for its
                # own patient when the request names someone else.
                raise invalid(
                    f"The request names Patient/{patient.pk}, but this proposal was found for another "
                    "patient: $find again for the patient to book."
                )
            patient = KINDS["Patient"].visible(self.actor).filter(pk=proposed.patient_id).first()
            if patient is None:
                raise FHIRError(404, "not-found", "The proposal's patient is not known.")
        if patient is None:
            raise invalid("This proposal names no patient: give patient-resource (by MRN), or $find with the patient.")
        site = sites_by_id([proposed.site_id])
        chair = KINDS["Schedule"].visible(self.actor).filter(pk=proposed.chair_id, site_id=proposed.site_id).first()
        nurse = StaffMember.objects.filter(pk=proposed.nurse_id).select_related("user").first()
        protocol = Protocol.objects.filter(pk=proposed.protocol_id).first()
        if not site or chair is None or nurse is None or protocol is None:
            raise FHIRError(404, "not-found", "The proposal names a site, chair, nurse or protocol you cannot reach.")
        return Reached(proposed, patient, site[0], chair, nurse, protocol)

    def book_proposal(
        self, proposed: ids.Proposed, *, now: dt.datetime, hold_until: dt.datetime | None, patient: Patient | None
    ) -> Appointment:
        """Hold or book a $find proposal through the booking service (locks, fresh checks, the
        database's exclusion constraints): a time no longer free is a 409 conflict."""
        return self.book_reached(self.reach(proposed, patient=patient), now=now, hold_until=hold_until)

    def book_reached(self, reached: Reached, *, now: dt.datetime, hold_until: dt.datetime | None) -> Appointment:
        proposed, patient, protocol = reached.proposed, reached.patient, reached.protocol
        plan = open_plan(patient, protocol)
        if plan is not None and plan.site_id != proposed.site_id:
            plan = None
        self.shown([patient.pk])
        return appointment_book(
            patient=patient,
            site=reached.site,
            starts_at=proposed.start,
            actor=self.acting_user,
            now=now,
            plan=plan,
            chair=reached.chair,
            nurse=reached.nurse,
            duration=dt.timedelta(minutes=proposed.minutes),
            route=protocol.route,
            hold_until=hold_until,
        )

    def refuse_held(self, proposed: ids.Proposed, hold: Appointment | None) -> None:
        """A proposal whose chair and start are held (`hold`, not yet lapsed) is refused 409 with
        what holds it: the user's own hold of it (for its patient) is named, with its Appointment id and expiry,
        to $book it; another user's hold only as such, naming neither its patient nor its
        Appointment. A hold of this user's for another patient is left to the booking (the chair
        taken)."""
        if hold is None or hold.hold_expires_at is None:
            return
        until = hold.hold_expires_at.astimezone(hold.site.zone).replace(microsecond=0)
        when = f"until {until:%H:%M} ({until.isoformat()}, the site's clock)"
        if hold.booked_by_id != self.acting_user.pk:
            raise FHIRError(
                409,
                "conflict",
                f"This time is held by another user {when}: it cannot be held or booked unless that hold "
                "lapses or is released. $find again for another time.",
                reason="held_by_another_user",
            )
        if hold.patient_id != proposed.patient_id:
            return
        self.shown([hold.patient_id])
        raise FHIRError(
            409,
            "conflict",
            f"You hold this time already: Appointment/{hold.pk}, held {when}. $book it with "
            f"appointment-reference Appointment/{hold.pk}; it is not held twice.",
            reason="already_held",
        )

    def keep_reasons(self, appointment: Appointment, reasons: list[CodeableConcept]) -> Appointment:
        """Each reason not yet kept becomes a line of the session's notes (rep.EHR_REASON_PREFIX),
        which Appointment.reasonCode answers; a cancelled session keeps none."""
        if appointment.status == AppointmentStatus.CANCELLED:
            return appointment
        for line in dict.fromkeys(rep.reason_line(concept)[:MAX_REASON] for concept in reasons):
            if not line or f"{rep.EHR_REASON_PREFIX}{line}" in appointment.notes.splitlines():
                continue
            appointment = appointment_note_add(
                appointment=appointment, text=line, actor=self.acting_user, prefix=rep.EHR_REASON_PREFIX
            )
        return appointment

    def idempotent(self, perform: Callable[[], HttpResponse]) -> HttpResponse:
        """Idempotency-Key as /api/v1/ honours it (scheduling.services.idempotency): the first
        successful answer is kept per (user, key) and replayed for a retry with the same body;
        the same key with another body is refused (422)."""
        key = self.request.headers.get("Idempotency-Key")
        if key is None:
            return perform()
        key = key.strip()
        if not key_is_valid(key):
            raise invalid(f"Idempotency-Key: {KEY_RULE}")
        fingerprint = request_fingerprint(self.request.method or "", self.request.path, self.request.body)

        def keep(response: HttpResponse) -> KeptAnswer | None:
            if not 200 <= response.status_code < 300:
                return None
            headers = {"Location": response["Location"]} if response.has_header("Location") else {}
            return KeptAnswer(response.status_code, response.content.decode(), headers)

        answer = run_once(user_id=self.acting_user.pk, key=key, fingerprint=fingerprint, perform=perform, keep=keep)
        if isinstance(answer, Replay):
            # The first answer as it was: its status (201 for a new booking) and its Location.
            response = HttpResponse(json.dumps(answer.body), status=answer.status, content_type=FHIR_JSON)
            for name, value in answer.headers.items():
                response[name] = value
            response["Idempotent-Replayed"] = "true"
            # The replay shows the patients the first answer showed: named in the access log.
            patients_shown(self.request, (int(pk) for pk in _PATIENT_REFERENCE.findall(response.content.decode())))
            return response
        return answer


class HoldView(WriteOperationView):
    """Appointment/$hold (ITI-116): a proposal becomes a `pending` Appointment that blocks its
    chair, nurse and patient until settings.FHIR_HOLD_MINUTES have passed."""

    operation = "$hold"

    def post(self, request: Any) -> HttpResponse:
        self.require_scope("Appointment", "c")
        return self.idempotent(self.hold)

    def hold(self) -> HttpResponse:
        found = self.parameters({"appointment-reference", "reason"})
        reasons = reason_concepts(found.get("reason", []), token=False)
        references = found.get("appointment-reference", [])
        if not references:
            raise invalid("$hold needs appointment-reference: a proposal from $find.")
        now = timezone.now()
        _release_lapsed(now)
        until = now + dt.timedelta(minutes=settings.FHIR_HOLD_MINUTES)
        proposals = [self.proposal(_reference_text(r, "appointment-reference"), now=now) for r in references]
        found_with = find_reasons.recall(proposals)
        # Who asks first: a proposal whose patient, site or chair the asker cannot reach is the 404
        # $book answers, never a word on whether (and until when) its time is held.
        reached = [self.reach(p, patient=None) for p in proposals]
        # A proposal held already is refused, saying by whom (held_already), before the booking
        # would refuse it for the patient's or the chair's other session.
        holds = _live_holds(proposals, now)
        for p in proposals:
            self.refuse_held(p, holds.get((p.chair_id, p.start)))
        # Several references (a whole course from $find) are held all or nothing.
        held = [self.book_reached(r, now=now, hold_until=until) for r in reached]
        # Each keeps the reason $find was given (its id names it) and the one given here.
        held = [self.keep_reasons(a, found_with[p.reason_id] + reasons) for a, p in zip(held, proposals, strict=True)]
        return fhir_response(self.bundle(appointments_for(_fresh(held), self.actor)))


def _live_holds(proposals: list[ids.Proposed], now: dt.datetime) -> dict[tuple[int, dt.datetime], Appointment]:
    """The holds not yet lapsed on the proposals' chairs at their starts, by (chair, start): one query."""
    if not proposals:
        return {}
    at = reduce(or_, (Q(chair_id=p.chair_id, starts_at=p.start) for p in proposals))
    holds = (
        Appointment.objects.filter(at, status=AppointmentStatus.HELD, hold_expires_at__gt=now)
        .select_related("site")
        .order_by("-pk")
    )
    return {(hold.chair_id, hold.starts_at): hold for hold in holds}


def _require_patients_own(appointment: Appointment, patient: Patient | None) -> None:
    """A hold or booking is changed for the patient it is for, never for one the request names instead."""
    if patient is not None and patient.pk != appointment.patient_id:
        raise invalid(
            f"The request names Patient/{patient.pk}, but Appointment/{appointment.pk} is another "
            "patient's: book or change that patient's own appointment."
        )


class BookView(WriteOperationView):
    """Appointment/$book (ITI-117): book a hold or a proposal, move a booking, or cancel one."""

    operation = "$book"

    def post(self, request: Any) -> HttpResponse:
        return self.idempotent(self.book)

    def book(self) -> HttpResponse:
        found = self.parameters(
            {"appointment-reference", "appointment-resource", "patient-resource", "comment", "reason"}
        )
        references = found.get("appointment-reference", [])
        resources = found.get("appointment-resource", [])
        if bool(references) == bool(resources):
            raise invalid("$book needs either appointment-reference or appointment-resource (one of them).")
        comment = " ".join(_as_text(c, "comment") for c in found.get("comment", []))[:500]
        reasons = reason_concepts(found.get("reason", []), token=False)
        now = timezone.now()
        _release_lapsed(now)
        created: set[int] = set()  # the Appointments a new appointment-resource (no id) made
        if references:
            self.require_scope("Appointment", "c")
            patient = self.patient_from(found, required=False) if found.get("patient-resource") else None
            tokens = [_reference_text(r, "appointment-reference") for r in references]
            proposals = {t: self.proposal(t, now=now) for t in tokens if ids.is_proposal_id(t)}
            found_with = find_reasons.recall(proposals.values())
            booked = []
            for token in tokens:
                proposed = proposals.get(token)
                appointment = self._book_reference(token, now, patient, proposed)
                # A proposal keeps the reason $find was given (its id names it), as one sent back whole
                # keeps its reasonCode; a hold kept it when it was made.
                kept = found_with[proposed.reason_id] if proposed is not None else []
                booked.append(self.keep_reasons(appointment, kept + reasons))
        else:
            booked = []
            for value in resources:
                resource = value if isinstance(value, FAppointment) else FAppointment.model_validate(_json(value))
                appointment, new, resource_reasons = self._book_resource(resource, now, comment, found)
                # The reason given to $book, and the resource's own (see _book_resource).
                booked.append(self.keep_reasons(appointment, reasons + resource_reasons))
                if new:
                    created.add(appointment.pk)
        if comment:
            # The EHR's comment goes on each booked or changed session; on a cancel it is the reason.
            booked = [
                a
                if a.status == AppointmentStatus.CANCELLED
                else appointment_note_add(
                    appointment=a, text=comment, actor=self.acting_user, prefix=rep.EHR_NOTE_PREFIX
                )
                for a in booked
            ]
        resources = appointments_for(_fresh(booked), self.actor)
        bundle = self.bundle(resources)
        first_new = next((r for r in resources if r.id is not None and int(r.id) in created), None)
        if first_new is None:
            # A hold or proposal booked, a move or a cancel: the operation's plain answer.
            return fhir_response(bundle)
        # A new appointment-resource made a new Appointment: 201 Created, as a FHIR create, with its
        # address (the first one's, when several were booked together; the Bundle holds them all),
        # at the version the asker is shown.
        version = first_new.meta.versionId if first_new.meta is not None else None
        location = f"{base_url(self.request)}Appointment/{first_new.id}/_history/{version}"
        return fhir_response(bundle, status=201, headers={"Location": location})

    def _existing(self, resource_id: str) -> Appointment:
        pk = KINDS["Appointment"].row_id(resource_id)
        appointment = KINDS["Appointment"].visible(self.actor).filter(pk=pk).first() if pk else None
        if appointment is None:
            raise FHIRError(404, "not-found", f"Appointment/{resource_id} is not known.")
        self.shown([appointment.patient_id])
        return appointment

    def _book_reference(
        self, token: str, now: dt.datetime, patient: Patient | None, proposed: ids.Proposed | None
    ) -> Appointment:
        if proposed is not None:
            return self.book_proposal(proposed, now=now, hold_until=None, patient=patient)
        appointment = self._existing(token)
        _require_patients_own(appointment, patient)
        return appointment_book_held(appointment=appointment, actor=self.acting_user, now=now)

    def _book_resource(
        self, resource: FAppointment, now: dt.datetime, comment: str, found: dict[str, list[Any]]
    ) -> tuple[Appointment, bool, list[CodeableConcept]]:
        """The appointment booked, moved or cancelled; whether it is a new one (a resource without
        an id); and the resource's reasons to keep: its own reasonCode, or, for a $find proposal
        sent back without one, the reason the proposal's id names (as $hold and $book by
        appointment-reference keep it). A reasonCode the resource carries wins over the id's reason:
        a proposal sent back as returned echoes that reason anyway, so a different one is the
        EHR's own choice. The id's reason is checked either way: an id whose reason is gone or is
        another row's is refused (find_reasons.recall)."""
        own = list(resource.reasonCode or [])
        if not resource.id:
            return self._book_new(resource, now, found), True, own
        patient = self._named_patient(resource, found)
        if ids.is_proposal_id(resource.id):
            self.require_scope("Appointment", "c")
            proposed = self.proposal(resource.id, now=now)
            named = find_reasons.recall([proposed])[proposed.reason_id]
            # A patient the request names must be the one the proposal was found for (book_proposal).
            appointment = self.book_proposal(proposed, now=now, hold_until=None, patient=patient)
            return appointment, False, own or named
        if patient is not None:
            _require_patients_own(self._existing(resource.id), patient)
        return self._change(resource.id, resource, now, comment), False, own

    def _named_patient(self, resource: FAppointment, found: dict[str, list[Any]]) -> Patient | None:
        """The patient a request names for an existing appointment or a proposal: the resource's Patient
        participant and the patient-resource, which must agree; None when neither names one."""
        named: set[int] = set()
        for participant in resource.participant or []:
            reference = participant.actor.reference if participant.actor else None
            if reference and reference.startswith("Patient/"):
                named.add(reference_id(reference, "Patient", name="participant"))
        given = self.patient_from(found, required=False) if found.get("patient-resource") else None
        if given is not None:
            named.add(given.pk)
        if len(named) > 1:
            raise invalid("The appointment's Patient participant and patient-resource name different patients.")
        if not named:
            return None
        patient = given if given is not None else KINDS["Patient"].visible(self.actor).filter(pk=min(named)).first()
        if patient is None:
            raise FHIRError(404, "not-found", f"Patient/{min(named)} is not known.")
        return patient

    def _change(self, resource_id: str, resource: FAppointment, now: dt.datetime, comment: str) -> Appointment:
        """An existing appointment booked from its hold, moved or cancelled."""
        appointment = self._existing(resource_id)
        self.require_scope("Appointment", "u")
        if resource.status == "cancelled":
            reason = (resource.cancelationReason.text if resource.cancelationReason else None) or comment
            return appointment_cancel(
                appointment=appointment,
                actor=self.acting_user,
                reason=reason or "Cancelled through FHIR $book",
                now=now,
            ).appointment
        if resource.status not in ("booked", "pending"):
            raise invalid(
                f"appointment-resource: status {resource.status!r} cannot be set here (book, move or cancel)."
            )
        was_a_hold = appointment.hold_expires_at is not None and appointment.status in (
            AppointmentStatus.HELD,
            AppointmentStatus.CANCELLED,
        )
        if was_a_hold and resource.start in (None, appointment.starts_at):
            # Booked from its hold; one released or lapsed since is answered as such by the booking
            # (hold_released with why, hold_expired), not as a cancelled session that cannot move.
            return appointment_book_held(appointment=appointment, actor=self.acting_user, now=now)
        if resource.start is None:
            raise invalid("appointment-resource: give the new start to move the appointment.")
        chair = None
        for participant in resource.participant or []:
            reference = participant.actor.reference if participant.actor else None
            if reference and reference.rpartition("/")[2].startswith("chair-"):
                chair_id = reference_id(reference, "Location", name="participant", prefix="chair-")
                chair = KINDS["Schedule"].visible(self.actor).filter(pk=chair_id).first()
                if chair is None:
                    raise FHIRError(404, "not-found", f"{reference} is not known.")
        starts_at = as_instant(resource.start, name="start")
        if (
            appointment.status in UPCOMING_STATUSES
            and starts_at == appointment.starts_at
            and (chair is None or chair.pk == appointment.chair_id)
        ):
            # Sent back as read (to add a comment, say): not a move. A move would un-confirm the
            # session, write "Moved from", reschedule its reminders and send an SIU reschedule.
            return appointment
        return appointment_move(
            appointment=appointment, starts_at=starts_at, actor=self.acting_user, now=now, chair=chair
        )

    def _book_new(self, resource: FAppointment, now: dt.datetime, found: dict[str, list[Any]]) -> Appointment:
        """A new booking from an Appointment without an id: its start, protocol (serviceType or
        appointmentType: a HealthcareService id or name, as $find's visit-type), patient, site
        or chair, and nurse, booked under the patient's open plan for the protocol when there is one."""
        self.require_scope("Appointment", "c")
        if resource.status not in ("booked", "proposed", "pending"):
            raise invalid(f"appointment-resource: a new appointment cannot have status {resource.status!r}.")
        if resource.start is None:
            raise invalid("appointment-resource: give the start of the new appointment.")
        starts_at = as_instant(resource.start, name="start")
        types = list(resource.serviceType or []) + ([resource.appointmentType] if resource.appointmentType else [])
        protocol = _protocol({"visit-type": types})
        minutes = protocol.session_minutes
        if resource.minutesDuration is not None and resource.minutesDuration != minutes:
            raise invalid(f"appointment-resource: a {protocol.name} session lasts {minutes} minutes (minutesDuration).")
        if resource.end is not None and as_instant(resource.end, name="end") - starts_at != dt.timedelta(
            minutes=minutes
        ):
            raise invalid(f"appointment-resource: a {protocol.name} session lasts {minutes} minutes (end).")
        actors: dict[str, set[int]] = {"Patient": set(), "site": set(), "chair": set(), "Practitioner": set()}
        for participant in resource.participant or []:
            reference = (participant.actor.reference if participant.actor else None) or ""
            if not reference:
                continue
            kind = reference.rpartition("/")[0].rsplit("/", 1)[-1]
            if kind in ("Patient", "Practitioner"):
                actors[kind].add(reference_id(reference, kind, name="participant"))
            elif kind == "Location":
                site_ids, chair_ids = location_ids([reference], name="participant")
                actors["site"] |= site_ids
                actors["chair"] |= chair_ids
            else:
                raise invalid(f"participant: {reference!r} is not one of our Patients, Locations or Practitioners.")
        if any(len(ids_) > 1 for ids_ in actors.values()):
            raise invalid("appointment-resource: name at most one patient, site, chair and nurse.")
        patient = None
        if actors["Patient"]:
            patient = KINDS["Patient"].visible(self.actor).filter(pk=min(actors["Patient"])).first()
            if patient is None:
                raise FHIRError(404, "not-found", f"Patient/{min(actors['Patient'])} is not known.")
        if found.get("patient-resource"):
            given = self.patient_from(found, required=True)
            if patient is not None and given is not None and given.pk != patient.pk:
                raise invalid("patient-resource and the appointment's Patient participant name different patients.")
            patient = given
        if patient is None:
            raise invalid("appointment-resource: name the patient (participant Patient/<id>, or patient-resource).")
        chair = None
        if actors["chair"]:
            chair = KINDS["Schedule"].visible(self.actor).filter(pk=min(actors["chair"])).first()
            if chair is None:
                raise FHIRError(404, "not-found", f"Location/chair-{min(actors['chair'])} is not known.")
        site_ids = actors["site"] | ({chair.site_id} if chair is not None else set())
        if len(site_ids) != 1:
            raise invalid(
                "appointment-resource: name the site (participant Location/site-<id>) or a chair of that site."
            )
        sites = sites_by_id(site_ids)
        if not sites:
            raise FHIRError(404, "not-found", f"Location/site-{min(site_ids)} is not known.")
        nurse = None
        if actors["Practitioner"]:
            nurse = StaffMember.objects.filter(pk=min(actors["Practitioner"])).select_related("user").first()
            if nurse is None:
                raise FHIRError(404, "not-found", f"Practitioner/{min(actors['Practitioner'])} is not known.")
            # The nurse who sits with the session: an active nurse of that site (the front desk, a
            # prescriber or another site's nurse cannot be booked there).
            if nurse.role != Role.NURSE or not works_at(nurse, sites[0]):
                raise invalid(
                    f"participant: Practitioner/{nurse.pk} is not a nurse working at Location/site-{sites[0].pk}; "
                    "name one of that site's nurses, or leave the Practitioner out and one is chosen."
                )
        plan = open_plan(patient, protocol)
        if plan is not None and plan.site_id != sites[0].pk:
            plan = None
        self.shown([patient.pk])
        return appointment_book(
            patient=patient,
            site=sites[0],
            starts_at=starts_at,
            actor=self.acting_user,
            now=now,
            plan=plan,
            chair=chair,
            nurse=nurse,
            duration=dt.timedelta(minutes=minutes),
            route=protocol.route,
        )


def _release_lapsed(now: dt.datetime) -> None:
    """Lapsed holds are released before a hold or booking, so a time is never refused for a
    hold that ran out while the sweep had not come round yet."""
    with transaction.atomic():
        holds_release_expired(now=now, batch_size=100)


def _fresh(appointments: list[Appointment]) -> list[Appointment]:
    by_pk = Appointment.objects.select_related("plan__protocol").in_bulk([a.pk for a in appointments])
    return [by_pk[a.pk] for a in appointments]
