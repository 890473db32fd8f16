"""A site always has a reminder policy: it is created with the site, however the site is made
(API, admin, seed, a shell). Readers still fall back to defaults (Site.reminder_policy_or_default)."""

from __future__ import annotations

from typing import Any

from django.db.models.signals import post_save
from django.dispatch import receiver

from clinic.models import ReminderPolicy, Site


@receiver(post_save, sender=Site, dispatch_uid="clinic.site_gets_a_reminder_policy")
def site_gets_a_reminder_policy(
    sender: type[Site], instance: Site, created: bool, raw: bool = False, **kwargs: Any
) -> None:
    if created and not raw:  # raw: loading a fixture, which brings its own policy rows
        ReminderPolicy.objects.get_or_create(site=instance)
