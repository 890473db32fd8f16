"""The waitlist: patients who want an earlier session. When a session is
cancelled, the waiting patients it suits are offered the freed chair; the
first to accept gets it, booked (or their later session moved) through the
ordinary booking services with their locks and constraints.

The cancel service only announces the cancellation (scheduling.signals); once it
commits, a Celery task (scheduling.tasks.waitlist_offer) makes the offers, so a cancel
never waits on, or fails because of, the waitlist, the broker or a mail server. Offers
are made once per entry and freed session, so the task and the periodic sweep that
catches offers lost while the broker was down (`waitlist_offers_sweep`) may both run; the
sweep also offers a chair still free to the next patients once all its offers have closed."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core import signing
from django.db import transaction
from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet
from django.urls import reverse
from django.utils import timezone

from clinic.dates import require_clinical_dates
from clinic.models import Channel, Closure, Route, Site
from patients.models import Patient
from scheduling.engine import Availability, Slot, Span
from scheduling.engine.model import NurseWork
from scheduling.engine.wallclock import local_day
from scheduling.errors import InvalidInput, InvalidState, NotEligible, SchedulingError
from scheduling.models import (
    BLOCKING_STATUSES,
    BOOKABLE_PLAN_STATUSES,
    OPEN_PLAN_STATUSES,
    UPCOMING_STATUSES,
    Appointment,
    AppointmentStatus,
    Phase,
    Protocol,
    TreatmentPlan,
    WaitlistEntry,
    WaitlistOffer,
    WaitlistOfferStatus,
    WaitlistStatus,
)
from scheduling.selectors import patient_busy_spans, protocol_nurse_work
from scheduling.services.appointments import appointment_book, appointment_move, session_rule_violations
from scheduling.services.core import acting_user, fresh_availability, local_label, save_with_history, slot_problem
from scheduling.services.eligibility import require_eligible, require_eligible_for_a_single_session

logger = logging.getLogger(__name__)

# Fairness and noise: the patients who have waited longest are offered a freed chair first,
# and a handful at once is enough for one of them to take it.
MAX_OFFERS_PER_FREED_SESSION = 5
ACCEPT_SALT = "scheduling.waitlist.accept"
ACCEPT_MAX_AGE = dt.timedelta(days=14)
DEFAULT_SESSION = dt.timedelta(minutes=120)


class OfferTaken(InvalidState):
    """Another waiting patient accepted the freed chair first."""

    code = "offer_taken"


class OfferNeedsTheClinic(InvalidState):
    """The patient's screening now needs a prescriber's decision before this session can be booked.
    Said without the screening's reasons: they are health data, and the accept link needs no login."""

    code = "offer_needs_the_clinic"


class InvalidOfferLink(Exception):
    pass


# --- adding and removing ---


@transaction.atomic
def waitlist_add(
    *,
    patient: Patient,
    site: Site,
    earliest_date: dt.date,
    actor: AbstractBaseUser,
    now: dt.datetime,
    latest_date: dt.date | None = None,
    replaces: Appointment | None = None,
    notify_patient: bool = True,
    notes: str = "",
) -> WaitlistEntry:
    """Put a patient on the site's waitlist; the open plan (if any) decides route and chair time."""
    require_clinical_dates(earliest_date=earliest_date, latest_date=latest_date)
    today = local_day(now, site.zone)
    if earliest_date < today:
        raise InvalidInput("The earliest date cannot be in the past.")
    if latest_date is not None and latest_date < earliest_date:
        raise InvalidInput("The latest date must be on or after the earliest date.")
    # Serialise adds for one patient so the one-waiting-entry rule gives a readable error.
    list(Patient.objects.select_for_update().filter(pk=patient.pk).values_list("pk"))
    if WaitlistEntry.objects.filter(patient=patient, site=site, status=WaitlistStatus.WAITING).exists():
        raise InvalidState(f"{patient.full_name} is already on the waitlist at {site.name}.")
    # Any open plan, paused too: a paused course is then not booked from the waitlist (_suits).
    plan = (
        TreatmentPlan.objects.select_related("protocol").filter(patient=patient, status__in=OPEN_PLAN_STATUSES).first()
    )
    if replaces is not None:
        if replaces.patient_id != patient.pk:
            raise InvalidInput("That session belongs to another patient.")
        if replaces.status not in UPCOMING_STATUSES or replaces.starts_at <= now:
            raise InvalidState("Only an upcoming session can be brought forward.")
        if replaces.site_id != site.pk:
            raise InvalidInput("That session is at another site.")
        # Only a chair before the session can bring it forward (`_suits`), and none before the
        # earliest date is offered: an entry whose window starts on the session's day or later
        # could never be offered anything, yet would keep the patient off the waitlist.
        session_day = local_day(replaces.starts_at, site.zone)
        if earliest_date >= session_day:
            raise InvalidInput(
                f"To bring forward the session on {session_day:%a %-d %b}, the earliest date must be before that day.",
                details={"field": "earliest_date"},
            )
    entry = WaitlistEntry(
        patient=patient,
        site=site,
        plan=plan,
        protocol=plan.protocol if plan else None,
        replaces=replaces,
        earliest_date=earliest_date,
        latest_date=latest_date,
        notify_patient=notify_patient,
        notes=notes.strip(),
        created_by=acting_user(actor),
    )
    entry._change_reason = "Added to the waitlist"  # type: ignore[attr-defined]
    entry._history_user = actor  # type: ignore[attr-defined]
    entry.save()
    return entry


@transaction.atomic
def waitlist_remove(*, entry: WaitlistEntry, actor: AbstractBaseUser, reason: str) -> WaitlistEntry:
    if not reason.strip():
        raise InvalidInput("Give a reason for taking the patient off the waitlist.")
    entry = WaitlistEntry.objects.select_for_update().get(pk=entry.pk)
    if entry.status != WaitlistStatus.WAITING:
        raise InvalidState("The patient is no longer waiting.")
    entry.status = WaitlistStatus.REMOVED
    save_with_history(entry, fields=["status"], actor=actor, reason=f"Removed from the waitlist: {reason.strip()}")
    # updated_at marks when the offer closed: the sweep offers a chair still free to the next patients.
    WaitlistOffer.objects.filter(entry=entry, status=WaitlistOfferStatus.OPEN).update(
        status=WaitlistOfferStatus.CLOSED, updated_at=timezone.now()
    )
    return entry


def _gone_because(replaced: Appointment) -> str:
    if replaced.status == AppointmentStatus.CANCELLED:
        return "was cancelled"
    if replaced.status == AppointmentStatus.NO_SHOW:
        return "was missed"
    return "is no longer ahead"


def waitlist_drop_lost_replacements(
    *, now: dt.datetime, actor: AbstractBaseUser | None = None, appointment_ids: Sequence[int] | None = None
) -> int:
    """Take off the waitlist the waiting entries that would bring forward a session no longer
    upcoming (cancelled, missed, checked in, started): no chair can be offered to them any more
    (`_suits` and the accept refuse), yet a waiting entry keeps the patient off the site's
    waitlist. Each is REMOVED with the reason in its history, its open offers closed. Only the
    entries of `appointment_ids` (the cancel's and the no-show's announcements, in their
    transaction), or every such entry (the sweep, with None). Returns how many were removed.

    An entry an accept holds is skipped, not waited for: the accept locks the entry and then the
    session, the cancel the session and then (here) the entry, so waiting could deadlock. That
    accept then finds the session gone and refuses; the sweep removes the entry afterwards."""
    lost = WaitlistEntry.objects.filter(status=WaitlistStatus.WAITING, replaces__isnull=False).filter(
        ~Q(replaces__status__in=UPCOMING_STATUSES) | Q(replaces__starts_at__lte=now)
    )
    if appointment_ids is not None:
        lost = lost.filter(replaces_id__in=list(appointment_ids))
    entries = list(
        lost.select_for_update(of=("self",), skip_locked=True).select_related("site", "replaces").order_by("pk")
    )
    for entry in entries:
        replaced = entry.replaces
        assert replaced is not None  # the query asked for a replaced session
        entry.status = WaitlistStatus.REMOVED
        save_with_history(
            entry,
            fields=["status"],
            actor=actor,
            reason=(
                f"Removed from the waitlist: the session it would bring forward "
                f"({local_label(replaced.starts_at, entry.site)}) {_gone_because(replaced)}"
            ),
        )
        # updated_at marks when the offer closed: the sweep offers a chair still free to the next patients.
        WaitlistOffer.objects.filter(entry=entry, status=WaitlistOfferStatus.OPEN).update(
            status=WaitlistOfferStatus.CLOSED, updated_at=now
        )
    return len(entries)


# --- offering a freed chair ---


# A patient's open plan (one at most), prefetched for every waiting entry at once.
_OPEN_PLAN_ROWS = TreatmentPlan.objects.select_related("protocol", "site").filter(status__in=OPEN_PLAN_STATUSES)
_OPEN_PLANS = Prefetch("patient__plans", queryset=_OPEN_PLAN_ROWS, to_attr="open_plans")


def _current_plan(entry: WaitlistEntry) -> None:
    """The patient's open plan as it is now, on the entry (in memory): a course started since the
    patient joined the waitlist decides, not the one recorded then (or none). With no open plan,
    the entry's own stays: an ended course is not booked from the waitlist either. Read from
    `patient.open_plans` when the caller prefetched them (_OPEN_PLANS), else in one query."""
    prefetched = getattr(entry.patient, "open_plans", None)
    current = (
        next(iter(prefetched), None)
        if prefetched is not None
        else _OPEN_PLAN_ROWS.filter(patient_id=entry.patient_id).first()
    )
    if current is not None:
        entry.plan = current


def _plan_allows(entry: WaitlistEntry) -> bool:
    """No course paused or ended: a paused course is not to be booked from the waitlist (the
    clinician decides)."""
    plan = entry.plan if entry.plan_id else None
    return plan is None or plan.status in BOOKABLE_PLAN_STATUSES


def _require_screening(entry: WaitlistEntry, *, site: Site, now: dt.datetime, actor: object = None) -> None:
    """Raises NotEligible where booking would: the same check as appointment_book's, for a course
    (begun or not: a flag recorded since it began stops the next session) or for a session
    without a plan. The error names the reasons only for an actor entitled to them."""
    plan = entry.plan if entry.plan_id else None
    if plan is not None:
        require_eligible(plan=plan, now=now, actor=actor)
    else:
        require_eligible_for_a_single_session(patient=entry.patient, site=site, now=now, actor=actor)


def _screening_allows(entry: WaitlistEntry, *, site: Site, now: dt.datetime) -> bool:
    try:
        _require_screening(entry, site=site, now=now)
    except NotEligible:
        return False
    return True


def _entry_protocol(entry: WaitlistEntry) -> Protocol | None:
    return entry.plan.protocol if entry.plan_id and entry.plan else entry.protocol


def _entry_route(entry: WaitlistEntry) -> str:
    """How the waiting patient's session is given: the plan's or the entry's protocol, else the
    session it would replace, else an infusion."""
    protocol = _entry_protocol(entry)
    if protocol is not None:
        return protocol.route
    if entry.replaces_id and entry.replaces:
        return entry.replaces.session_route
    return Route.IV


def _entry_duration(entry: WaitlistEntry) -> dt.timedelta:
    if entry.replaces_id and entry.replaces:
        return entry.replaces.ends_at - entry.replaces.starts_at
    protocol = _entry_protocol(entry)
    return dt.timedelta(minutes=protocol.session_minutes) if protocol else DEFAULT_SESSION


# The site's free chair time for one length of session, nurse work and excluded session: read once
# per freed session for all the waiting entries that ask the same (`_suits`).
_SiteRoom = dict[tuple[dt.datetime, NurseWork, int | None], Availability]


def _suits(entry: WaitlistEntry, freed: Appointment, *, now: dt.datetime, room: _SiteRoom | None = None) -> bool:
    """Whether `entry`'s patient could take the freed chair: route, plan rules, earlier, the
    patient's own diary, and the patient's whole session (which may be longer than the one
    cancelled) bookable there as booking checks it: opening hours, closures, the chair and a nurse
    free. `room` keeps the site's free time between entries (one read per length of session)."""

    _current_plan(entry)
    route = _entry_route(entry)
    if route not in (freed.chair.equipment or []):
        return False
    replaces = entry.replaces if entry.replaces_id else None
    if replaces is not None and (replaces.status not in UPCOMING_STATUSES or replaces.starts_at <= freed.starts_at):
        return False
    plan = entry.plan if entry.plan_id else None
    if not _plan_allows(entry):
        return False
    span = Span(freed.starts_at, freed.starts_at + _entry_duration(entry))
    if session_rule_violations(
        patient_id=entry.patient_id,
        plan=plan,
        site=freed.site,
        starts_at=span.start,
        ends_at=span.end,
        phase=replaces.phase if replaces else (plan.phase if plan is not None else Phase.INDUCTION),
        exclude_id=replaces.pk if replaces else None,
        now=now,
    ):
        return False
    exclude = [replaces.pk] if replaces else []
    busy = patient_busy_spans(
        patient=entry.patient, start=span.start, end=span.end, exclude_appointment_ids=exclude, now=now
    )
    if any(other.overlaps(span) for other in busy):
        return False
    work = protocol_nurse_work(_entry_protocol(entry))
    room = {} if room is None else room
    key = (span.end, work, replaces.pk if replaces else None)
    if key not in room:
        room[key] = fresh_availability(
            site=freed.site, patient=None, start=span.start, end=span.end, exclude_ids=exclude, work=work, now=now
        )
    availability = room[key]
    if not any(
        slot_problem(availability, Slot(span.start, span.end, freed.chair_id, nurse.id), route=route) is None
        for nurse in availability.site.nurses
    ):
        return False
    # Last, as it reads the patient's screening: a patient booking would refuse is not offered the
    # chair (accepting could only fail, and the offer would take the place of one who can come).
    return _screening_allows(entry, site=freed.site, now=now)


def waitlist_matches(*, freed: Appointment, now: dt.datetime, offered_too: bool = False) -> list[WaitlistEntry]:
    """Waiting entries the freed session suits, longest-waiting first: never one offered this freed
    session already (unless `offered_too`), nor one holding an open offer of the same chair and
    start (the chair freed twice: cancelled, filled from the desk, cancelled again), and no more
    than MAX_OFFERS_PER_FREED_SESSION open offers of that chair and start at once."""
    day = local_day(freed.starts_at, freed.site.zone)
    candidates = (
        WaitlistEntry.objects.filter(site=freed.site_id, status=WaitlistStatus.WAITING, earliest_date__lte=day)
        .filter(Q(latest_date__isnull=True) | Q(latest_date__gte=day))
        .exclude(patient_id=freed.patient_id)
        .select_related("patient__home_site", "plan__protocol", "plan__site", "protocol", "replaces")
        .prefetch_related(_OPEN_PLANS)
        .order_by("created_at", "pk")
    )
    open_here = WaitlistOffer.objects.filter(
        status=WaitlistOfferStatus.OPEN, chair_id=freed.chair_id, starts_at=freed.starts_at
    )
    if offered_too:
        open_here = open_here.exclude(freed=freed)  # this session's own offers are part of the answer
    else:
        candidates = candidates.exclude(offers__freed=freed)
    candidates = candidates.exclude(Exists(open_here.filter(entry_id=OuterRef("pk"))))
    room_left = MAX_OFFERS_PER_FREED_SESSION - open_here.count()
    chosen: list[WaitlistEntry] = []
    if room_left <= 0:
        return chosen
    room: _SiteRoom = {}
    for entry in candidates:
        if _suits(entry, freed, now=now, room=room):
            chosen.append(entry)
            if len(chosen) >= room_left:
                break
    return chosen


def offers_still_free(offers: QuerySet[WaitlistOffer]) -> QuerySet[WaitlistOffer]:
    """The offers whose chair nobody has booked since (the desk, another offer) and that no
    closure made since covers: the chair taken out of use, its site or every site closed for any
    of the offered time (accepting could only fail, naming the closure). In one query."""
    taken = Appointment.objects.filter(
        chair_id=OuterRef("chair_id"),
        status__in=BLOCKING_STATUSES,
        starts_at__lt=OuterRef("ends_at"),
        ends_at__gt=OuterRef("starts_at"),
    )
    closed = Closure.objects.filter(
        Q(chair_id=OuterRef("chair_id")) | Q(chair__isnull=True, site_id=OuterRef("site_id")) | Q(site__isnull=True),
        starts_at__lt=OuterRef("ends_at"),
        ends_at__gt=OuterRef("starts_at"),
    )
    return offers.exclude(Exists(taken)).exclude(Exists(closed))


def offer_still_free(offer: WaitlistOffer) -> bool:
    return offers_still_free(WaitlistOffer.objects.filter(pk=offer.pk)).exists()


def _chair_still_free(freed: Appointment) -> bool:
    # A re-flow in the cancel's own transaction, or a booking since, may already have the chair.
    return not Appointment.objects.filter(
        chair_id=freed.chair_id,
        status__in=BLOCKING_STATUSES,
        starts_at__lt=freed.ends_at,
        ends_at__gt=freed.starts_at,
    ).exists()


def waitlist_fits(*, freed: Appointment, now: dt.datetime) -> list[WaitlistEntry]:
    """The waiting entries `freed`'s chair is (or, once the offer task has run, was) offered to,
    by the same matching the offer uses: what the desk is told after a cancel, whether or not
    the task after the commit has written its offers yet."""
    if freed.starts_at <= now or not _chair_still_free(freed):
        return []
    return waitlist_matches(freed=freed, now=now, offered_too=True)


def waitlist_offer_freed_slot(
    *, appointment_id: int, now: dt.datetime | None = None, send: bool = True
) -> list[WaitlistOffer]:
    """Offer a cancelled session's chair to the waiting patients it suits, then message those who asked.

    Safe to run twice, or twice at once (the offer task and the sweep): the freed session's row,
    and those of the sessions cancelled before it at the same chair and start (the chair freed
    twice), are locked while its offers are made, so offers of that chair and time are counted
    and made one run at a time; an entry is offered a freed session once."""
    now = now or timezone.now()
    with transaction.atomic():
        where = Appointment.objects.filter(pk=appointment_id).values("chair_id", "starts_at").first()
        if where is None:
            return []
        # In id order, so two runs for the same chair and start wait for each other, not deadlock.
        list(
            Appointment.objects.select_for_update(of=("self",))
            .filter(Q(pk=appointment_id) | Q(status=AppointmentStatus.CANCELLED, **where))
            .order_by("pk")
            .values_list("pk")
        )
        freed = Appointment.objects.select_related("site", "chair", "patient").get(pk=appointment_id)
        if freed.status != AppointmentStatus.CANCELLED or freed.starts_at <= now:
            return []
        if not _chair_still_free(freed):
            return []
        entries = waitlist_matches(freed=freed, now=now)
        offers = [
            WaitlistOffer(
                entry=entry,
                freed=freed,
                site_id=freed.site_id,
                chair_id=freed.chair_id,
                starts_at=freed.starts_at,
                ends_at=freed.starts_at + _entry_duration(entry),
            )
            for entry in entries
        ]
        for offer in offers:
            offer._change_reason = f"Offered the chair freed by cancelled session {freed.pk}"  # type: ignore[attr-defined]
            offer.save()
    if send:
        for offer in offers:
            if offer.entry.notify_patient:
                _message_offer(offer, now=now)
    return offers


# How far back the sweep looks for cancellations whose offer task may have been lost: far more
# than any broker outage lasts, little enough that the sweep stays a short query.
SWEEP_LOOKBACK = dt.timedelta(days=2)


def waitlist_offers_sweep(*, now: dt.datetime) -> int:
    """Offer every opening that no open offer stands for, at a site with someone waiting: future
    cancelled sessions cancelled within SWEEP_LOOKBACK whose offer task never ran (queued while
    the broker was down), and those whose offers have all closed (the patients taken off the
    waitlist, or booked from another offer) within SWEEP_LOOKBACK: while the chair is still free,
    the next patients it suits are offered it. Returns the number of offers made. Run every few
    minutes by beat. First it takes off the waitlist the entries whose session to bring forward is
    gone or has begun (`waitlist_drop_lost_replacements`)."""
    # Entries left waiting for a session gone meanwhile (one an accept held when it was cancelled).
    with transaction.atomic():
        waitlist_drop_lost_replacements(now=now)
    since = now - SWEEP_LOOKBACK
    someone_waiting = WaitlistEntry.objects.filter(site=OuterRef("site_id"), status=WaitlistStatus.WAITING)
    offers = WaitlistOffer.objects.filter(freed=OuterRef("pk"))
    still_offered = offers.filter(status__in=[WaitlistOfferStatus.OPEN, WaitlistOfferStatus.ACCEPTED])
    # A hold released unbooked (lapsed, or cancelled by the EHR) freed no session: it was never
    # a booking, by its history (as `patient_appointments` reads it), so nobody is offered it.
    ever_booked = Appointment.history.model.objects.filter(id=OuterRef("pk"), status=AppointmentStatus.BOOKED)
    openings = (
        Appointment.objects.filter(status=AppointmentStatus.CANCELLED, starts_at__gt=now)
        .filter(Q(cancelled_at__gte=since) | Exists(offers.filter(updated_at__gte=since)))
        .filter(Exists(someone_waiting))
        .exclude(Exists(still_offered))
        .exclude(Q(hold_expires_at__isnull=False) & ~Exists(ever_booked))
        .order_by("starts_at", "pk")
        .values_list("pk", flat=True)
    )
    made = 0
    for appointment_id in openings:
        made += len(waitlist_offer_freed_slot(appointment_id=appointment_id, now=now))
    if made:
        logger.info("Waitlist sweep made %s offers of chairs no open offer stood for", made)
    waitlist_offer_messages_due(now=now)
    return made


def waitlist_offer_messages_due(*, now: dt.datetime) -> int:
    """Send the accept links that waited for the end of the patients' quiet hours or for another try
    after a provider's refusal, for the offers
    still open whose chair nobody has booked since and whose session is still ahead. Each is
    claimed (its due time cleared) before it is sent, so two sweeps never send one twice.
    Returns how many were claimed."""
    due = offers_still_free(
        WaitlistOffer.objects.filter(
            status=WaitlistOfferStatus.OPEN,
            messaged_at__isnull=True,
            message_due_at__lte=now,
            starts_at__gt=now,
            entry__notify_patient=True,
        )
    ).select_related("entry__patient__home_site", "site__reminder_policy")
    claimed = 0
    for offer in due:
        if WaitlistOffer.objects.filter(pk=offer.pk, message_due_at=offer.message_due_at).update(message_due_at=None):
            claimed += 1
            _message_offer(offer, now=now)
    return claimed


# --- the patient's accept link ---


def make_accept_token(offer: WaitlistOffer) -> str:
    return signing.dumps({"o": offer.pk}, salt=ACCEPT_SALT, compress=True)


def offer_from_token(*, token: str) -> WaitlistOffer:
    try:
        payload = signing.loads(token, salt=ACCEPT_SALT, max_age=ACCEPT_MAX_AGE)
    except signing.SignatureExpired:
        raise InvalidOfferLink("This link has expired.") from None
    except signing.BadSignature:
        raise InvalidOfferLink("This link is not valid.") from None
    offer = (
        WaitlistOffer.objects.select_related("entry__patient", "site", "chair", "booked__site")
        .filter(pk=payload.get("o"))
        .first()
    )
    if offer is None:
        raise InvalidOfferLink("This link is not valid.")
    return offer


def accept_url(offer: WaitlistOffer) -> str:
    return settings.SITE_URL + reverse("web:waitlist-accept-link", args=[make_accept_token(offer)])


# Why an offer's link was not sent: the desk sees it with the offer and may call.
QUIET_UNTIL_SESSION = "Not sent: the patient's quiet hours last until the session starts."


def _message_offer(offer: WaitlistOffer, *, now: dt.datetime) -> None:
    """Send the accept link on the patient's channel; a failure is recorded, not raised:
    the front desk still sees the offer and can call."""
    from scheduling.reminders.channels import Outbox, OutgoingMessage
    from scheduling.reminders.rendering import zone_note
    from scheduling.reminders.services import quiet_hours
    from scheduling.reminders.timing import choose_channel, quiet_period_around, retry_delay

    patient = offer.entry.patient
    if not patient.reminder_consent:
        return
    site = offer.site
    # The channel as for the site's reminders: the patient's preferred one if the clinic sends on it.
    policy = site.reminder_policy_or_default
    channel = choose_channel(
        preferred=patient.preferred_channel,
        has_email=bool(patient.email),
        has_mobile=bool(patient.mobile_phone),
        email_enabled=policy.email_enabled,
        sms_enabled=policy.sms_enabled,
    ).channel
    if channel is None:
        return
    # Never inside the patient's quiet hours, as for reminders: the link waits for their end (the
    # sweep sends it, waitlist_offer_messages_due), unless they last until the session.
    quiet = quiet_period_around(now, zone=patient.zone, quiet=quiet_hours(policy))
    if quiet is not None:
        if quiet[1] < offer.starts_at:
            WaitlistOffer.objects.filter(pk=offer.pk).update(message_due_at=quiet[1])
        else:
            WaitlistOffer.objects.filter(pk=offer.pk).update(message_error=QUIET_UNTIL_SESSION)
        return
    to = str(patient.mobile_phone) if channel == Channel.SMS else patient.email
    when = offer.starts_at.astimezone(patient.zone)
    link = accept_url(offer)
    if channel == Channel.SMS:
        # The patient's clock, named when it is not the clinic's, as in the reminders' texts.
        note = zone_note(offer.starts_at, patient_zone=patient.zone, site_zone=site.zone)
        body = f"{site.name}: a chair is free {when:%a %-d %b %H:%M}{note}. First to accept gets it: {link}"
    else:
        body = (
            f"Hello {patient.first_name},\n\n"
            f"You asked for an earlier session. A chair has become free at {site.name} on "
            f"{when:%A %-d %B %Y at %H:%M} ({when.tzinfo}).\n\n"
            f"It may have been offered to other patients on the waitlist too: the first to accept gets it.\n"
            f"Accept: {link}\n\nIf you cannot come, ignore this message; you stay on the waitlist.\n"
        )
    message = OutgoingMessage(to=to, subject=f"{site.name}: an earlier session is free", body=body)
    attempts = offer.message_attempts + 1
    try:
        with Outbox() as outbox:
            outbox.channel(channel).send(message)
    except Exception as exc:  # a provider's failure must not lose the other offers
        logger.warning("Waitlist offer %s could not be sent (attempt %s): %s", offer.pk, attempts, exc)
        # Tried again by the sweep (waitlist_offer_messages_due) with the reminders' backoff, while
        # the session is ahead and the site's policy allows more attempts; the desk sees the error.
        retry_at = now + retry_delay(attempts)
        again = attempts < policy.max_attempts and retry_at < offer.starts_at
        WaitlistOffer.objects.filter(pk=offer.pk).update(
            message_error=str(exc)[:500], message_attempts=attempts, message_due_at=retry_at if again else None
        )
        return
    WaitlistOffer.objects.filter(pk=offer.pk).update(messaged_at=now, message_attempts=attempts, message_error="")


# --- accepting ---


NO_LONGER_BOOKABLE = "Sorry, this session can no longer be booked. You stay on the waitlist."
NEEDS_THE_CLINIC = (
    "This session cannot be booked online: the clinic needs to speak with you first. You stay on the waitlist."
)


def _require_screening_to_accept(
    entry: WaitlistEntry, *, site: Site, now: dt.datetime, actor: AbstractBaseUser | None
) -> None:
    try:
        _require_screening(entry, site=site, now=now, actor=actor)
    except NotEligible:
        if actor is None:  # the patient's link: whoever holds it is told no health data
            raise OfferNeedsTheClinic(NEEDS_THE_CLINIC) from None
        raise


@transaction.atomic
def waitlist_offer_accept(*, offer: WaitlistOffer, actor: AbstractBaseUser | None, now: dt.datetime) -> Appointment:
    """The first acceptance books the freed chair; later ones raise OfferTaken and change nothing."""

    # The waiting entry first (as waitlist_remove does), then in one statement, in id order, every
    # offer this accept may change: those of the same freed session (two patients accepting at once
    # are served one after the other) and the patient's other offers (closed below). One order for
    # every accept, so the same patient's two offers accepted at once wait, not deadlock.
    entry = (
        WaitlistEntry.objects.select_for_update(of=("self",))
        .select_related("patient", "site", "plan__protocol", "protocol")
        .get(pk=offer.entry_id)
    )
    locked = list(
        WaitlistOffer.objects.select_for_update()
        .filter(Q(freed_id=offer.freed_id) | Q(entry_id=offer.entry_id))
        .order_by("pk")
    )
    siblings = [o for o in locked if o.freed_id == offer.freed_id]
    mine = next(o for o in siblings if o.pk == offer.pk)
    if mine.status == WaitlistOfferStatus.ACCEPTED and mine.booked_id is not None:
        return Appointment.objects.get(pk=mine.booked_id)  # a retried accept is harmless
    if mine.status == WaitlistOfferStatus.TAKEN or any(o.status == WaitlistOfferStatus.ACCEPTED for o in siblings):
        raise OfferTaken("Sorry, another patient accepted this session first. You stay on the waitlist.")
    if mine.status != WaitlistOfferStatus.OPEN:
        raise InvalidState("This offer is no longer open.")
    if mine.starts_at <= now:
        raise InvalidState("This session has already started.")
    if entry.status != WaitlistStatus.WAITING:
        raise InvalidState("The patient is no longer on the waitlist.")
    replaces = (
        Appointment.objects.select_for_update(of=("self",)).select_related("site").get(pk=entry.replaces_id)
        if entry.replaces_id
        else None
    )
    if replaces is not None and replaces.status not in UPCOMING_STATUSES:
        # Held, cancelled or done since the offer was made: there is nothing to bring forward, and
        # booking a second session instead would give the patient an infusion they did not ask for.
        raise InvalidState(
            f"The session this offer would bring forward is {replaces.get_status_display().lower()}; nothing was changed."
        )
    if replaces is not None and replaces.starts_at <= mine.starts_at:
        # Moved earlier since the offer was made (by the desk, or another offer): bringing it
        # "forward" now would move it later.
        raise InvalidState(
            f"The session this offer would bring forward is already on {local_label(replaces.starts_at, entry.site)}; "
            "nothing was changed."
        )
    _current_plan(entry)
    plan = entry.plan if entry.plan_id else None
    if plan is not None and plan.status not in BOOKABLE_PLAN_STATUSES:
        raise InvalidState(f"The patient's course is {plan.get_status_display().lower()}; the clinic will be in touch.")
    # The screening may have changed since the offer was made (a flag, a new reading): booking would
    # refuse. The desk is told as booking tells it (the reasons only to a clinician); the patient on
    # the accept link, which needs no login, is told to speak with the clinic, never the reasons.
    _require_screening_to_accept(entry, site=entry.site, now=now, actor=actor)
    try:
        with transaction.atomic():
            if replaces is not None:
                booked = appointment_move(
                    appointment=replaces, starts_at=mine.starts_at, chair=mine.chair, actor=actor, now=now
                )
            else:
                booked = appointment_book(
                    patient=entry.patient,
                    site=entry.site,
                    starts_at=mine.starts_at,
                    actor=actor,
                    now=now,
                    plan=plan,
                    chair=mine.chair,
                    duration=mine.ends_at - mine.starts_at,
                    route=_entry_route(entry),
                )
    except NotEligible:
        # Booking's own screening check said no after all: the same answer as above.
        if actor is None:
            raise OfferNeedsTheClinic(NEEDS_THE_CLINIC) from None
        raise
    except SchedulingError as exc:
        # Booked from the desk, closed, or the patient's diary changed: the chair is no longer theirs
        # to take. The desk is told why; the patient on the accept link, which needs no login, is
        # not (the refusal can name a closure's internal reason), and the log keeps it for the clinic.
        why = exc.message.removeprefix("Not booked: ").rstrip(".")
        if actor is None:
            logger.info("Waitlist offer %s could not be booked on its accept link (%s): %s", mine.pk, exc.code, why)
            raise OfferTaken(NO_LONGER_BOOKABLE) from exc
        raise OfferTaken(f"Sorry, this session can no longer be booked ({why}). You stay on the waitlist.") from exc
    mine.status, mine.booked, mine.accepted_at = WaitlistOfferStatus.ACCEPTED, booked, now
    mine.accepted_by = acting_user(actor)
    save_with_history(
        mine,
        fields=["status", "booked", "accepted_at", "accepted_by"],
        actor=actor,
        reason=f"Accepted; booked {local_label(booked.starts_at, entry.site)}",
    )
    WaitlistOffer.objects.filter(freed_id=mine.freed_id, status=WaitlistOfferStatus.OPEN).exclude(pk=mine.pk).update(
        status=WaitlistOfferStatus.TAKEN, updated_at=now
    )
    # updated_at marks when they closed: the sweep offers those chairs, if still free, to the next patients.
    WaitlistOffer.objects.filter(entry=entry, status=WaitlistOfferStatus.OPEN).exclude(pk=mine.pk).update(
        status=WaitlistOfferStatus.CLOSED, updated_at=now
    )
    entry.status = WaitlistStatus.BOOKED
    save_with_history(entry, fields=["status"], actor=actor, reason=f"Booked from the waitlist (offer {mine.pk})")
    return booked
