"""Telling a patient their contact email changed, at the address it had.

The contact email is typed by the front desk (or the EHR's FHIR update, or an administrator) and
reaches the patient's reminders, and, for a portal login with no email of its own, its password
reset (clinic.security.password_reset). A change made without the patient is therefore told to
the old address, so that the patient can call the clinic. The Celery task gets the id of the
change's history row, not an address: the old address is read from the row before it. Whether
the address changed is Patient.save's to say (`_email_changed`): it reads the stored row anyway. A
change of case only is told nothing: the task compares the two addresses as the database does.

The notice owed is a row (EmailChangeNotice) written in the change's transaction: with the broker
down when the change commits, beat's sweep (patients.tasks.email_change_notices_sweep) sends it."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models.signals import post_save
from django.dispatch import receiver

from patients.models import EmailChangeNotice, Patient
from patients.tasks import email_change_notice_send


@receiver(post_save, sender=Patient, dispatch_uid="patients_tell_old_email")
def _tell_old_email(sender: Any, instance: Patient, created: bool, **kwargs: Any) -> None:
    if not getattr(instance, "_email_changed", False):
        return
    change = instance.history.order_by("-history_id").first()  # written before this receiver
    if change is None:
        return
    EmailChangeNotice.objects.create(patient=instance, history_id=change.history_id)
    # Robust: with the broker down the change stands (it is committed) and the failure is logged;
    # the request that made it is not answered with a server error, and the sweep sends the notice.
    transaction.on_commit(lambda: email_change_notice_send.delay(change.history_id), robust=True)
