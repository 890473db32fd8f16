"""A site always has a reminder policy: it is created with the site, however the site is made
(API, admin, seed, a shell). Readers still fall back to defaults (Site.reminder_policy_or_default).

A history row's change reason fits its column, whatever the write put there (a clinician's whole
reason after a prefix, say): the record itself keeps the full text (a plan's end reason, a
correction's reason), and the history row its first words."""

from __future__ import annotations

from typing import Any

from django.db.models.signals import post_save
from django.dispatch import receiver
from simple_history.signals import pre_create_historical_record

from clinic.models import ReminderPolicy, Site


@receiver(post_save, sender=Site, dispatch_uid="clinic.site_gets_a_reminder_policy")
def site_gets_a_reminder_policy(
    sender: type[Site], instance: Site, created: bool, raw: bool = False, **kwargs: Any
) -> None:
    if created and not raw:  # raw: loading a fixture, which brings its own policy rows
        ReminderPolicy.objects.get_or_create(site=instance)


@receiver(pre_create_historical_record, dispatch_uid="clinic.history_reason_fits_its_column")
def history_reason_fits_its_column(*, history_instance: Any, **kwargs: Any) -> None:
    """simple_history keeps the reason in a 100-character column: PostgreSQL refuses a longer one
    (the write fails), so the reason is shortened to fit, with an ellipsis."""
    reason = history_instance.history_change_reason
    limit = type(history_instance)._meta.get_field("history_change_reason").max_length
    if reason and limit and len(reason) > limit:
        history_instance.history_change_reason = reason[: limit - 1].rstrip() + "…"
