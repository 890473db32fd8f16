"""The scheduling app's reactions to its own announcements (scheduling/signals.py), connected in
SchedulingConfig.ready: the cancel service announces, the waitlist reacts, so the services do
not import each other in a circle."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from functools import partial
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models.signals import post_save, pre_save
from django.dispatch import receiver
from django.utils import timezone

from clinic.db import changed_on_save
from clinic.models import ReminderPolicy, Site
from patients.models import Patient
from scheduling.models import Appointment
from scheduling.reminders.services import reminders_replan, reminders_resume
from scheduling.services.waitlist import waitlist_drop_lost_replacements
from scheduling.signals import appointment_cancelled, appointment_no_show
from scheduling.tasks import waitlist_offer

logger = logging.getLogger(__name__)


def _queue_offer(appointment_id: int, cancelled_at: str) -> None:
    try:
        waitlist_offer.delay(appointment_id, cancelled_at)
    except Exception:  # kombu's OperationalError and friends: the broker is down
        logger.exception(
            "Waitlist offer for cancelled session %s not queued; the waitlist sweep will make it", appointment_id
        )


@receiver(appointment_cancelled, sender=Appointment, dispatch_uid="scheduling.waitlist.offer_freed_chair")
def offer_freed_chairs(*, appointments: Sequence[Appointment], **_: Any) -> None:
    """Once the cancel commits, queue a task that offers each freed chair to the waitlist. Not in
    the request, and not before the commit (the task would not see the cancel). If the broker
    cannot take the task, the cancel stands and the periodic sweep (`waitlist_offers_sweep`)
    makes the offer later. A cancel that rolls back queues nothing."""
    for appointment in appointments:
        if appointment.cancelled_at is None:
            continue
        transaction.on_commit(partial(_queue_offer, appointment.pk, appointment.cancelled_at.isoformat()), robust=True)


@receiver(appointment_cancelled, sender=Appointment, dispatch_uid="scheduling.waitlist.drop_cancelled_replacements")
@receiver(appointment_no_show, sender=Appointment, dispatch_uid="scheduling.waitlist.drop_missed_replacements")
def drop_waitlist_entries_of_lost_sessions(
    *, appointments: Sequence[Appointment], actor: AbstractBaseUser | None = None, **_: Any
) -> None:
    """A session a waiting entry would bring forward is cancelled or missed: nothing can be
    offered to that entry any more, so it leaves the waitlist in the same transaction (and the
    patient may be put on it again)."""
    waitlist_drop_lost_replacements(
        now=timezone.now(), actor=actor, appointment_ids=[appointment.pk for appointment in appointments]
    )


@receiver(post_save, sender=Patient, dispatch_uid="scheduling.reminders.consent_given")
def remind_booked_sessions_on_consent(
    *, instance: Patient, created: bool, update_fields: frozenset[str] | None, raw: bool = False, **_: Any
) -> None:
    """A patient who turns reminders on (portal, API, desk or admin) is reminded of the sessions
    booked already, in the consent's transaction when it has one. The portal and the API stamp
    `reminder_consent_changed_at` when consent changes, so a save of other fields alone is left
    alone; a full save (the admin's, a serializer's) checks, and finds any rows queued already."""
    if raw or created or not instance.reminder_consent:  # raw: a fixture being loaded
        return
    if update_fields is not None and "reminder_consent_changed_at" not in update_fields:
        return
    reminders_resume(patient=instance, now=timezone.now())


# What a patient's reminders are planned from: where and when they reach the patient.
_REMINDER_INPUTS = frozenset({"email", "mobile_phone", "preferred_channel", "time_zone", "home_site"})


@receiver(post_save, sender=Patient, dispatch_uid="scheduling.reminders.patient_details_changed")
def replan_reminders_of_a_patient(
    *, instance: Patient, created: bool, update_fields: frozenset[str] | None, raw: bool = False, **_: Any
) -> None:
    """The patient's zone, address, phone or channel was saved (portal, API, desk, admin, FHIR):
    the reminders still ahead are planned again from it (reminders_replan keeps those whose time
    is unchanged), so a corrected zone times them in the new one and an address given after
    booking brings the reminders of the sessions booked already."""
    if raw or created or not instance.reminder_consent:
        return
    if update_fields is not None and not _REMINDER_INPUTS & set(update_fields):
        return
    reminders_replan(appointments=Appointment.objects.filter(patient=instance), now=timezone.now())


@receiver(post_save, sender=ReminderPolicy, dispatch_uid="scheduling.reminders.policy_changed")
def replan_reminders_of_a_site(*, instance: ReminderPolicy, created: bool, raw: bool = False, **_: Any) -> None:
    """The clinic changed a site's reminder policy (offsets, quiet hours, channels): the reminders
    still ahead of the site's upcoming sessions follow it, as the sessions booked afterwards do."""
    if raw or created:
        return
    reminders_replan(appointments=Appointment.objects.filter(site_id=instance.site_id), now=timezone.now())


@receiver(pre_save, sender=Site, dispatch_uid="scheduling.reminders.site_zone_before")
def note_a_site_zone_change(
    *, instance: Site, raw: bool = False, update_fields: frozenset[str] | None = None, **_: Any
) -> None:
    """Remember whether this save changes the site's time zone (read before it is written)."""
    instance._zone_changed = changed_on_save(Site, instance, "time_zone", update_fields, raw)  # type: ignore[attr-defined]


@receiver(post_save, sender=Site, dispatch_uid="scheduling.reminders.site_zone_changed")
def replan_reminders_of_a_sites_patients(*, instance: Site, created: bool, raw: bool = False, **_: Any) -> None:
    """A site's corrected time zone is the zone of its patients who name none of their own: their
    reminders still ahead are planned again (quiet hours are kept in the patient's zone), wherever
    their sessions are."""
    if raw or created or not getattr(instance, "_zone_changed", False):
        return
    reminders_replan(
        appointments=Appointment.objects.filter(patient__home_site=instance, patient__time_zone=""),
        now=timezone.now(),
    )
