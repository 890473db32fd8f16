"""Seed one realistic demo clinic: `python manage.py seed_demo`.

The clinic itself is data (web/demo/demo_clinic.json: site, chairs, staff, protocols,
patients at every stage of a course) written by web/demo/seeder.py. It lives beside the
web app because it touches every app below it.

Idempotent: the site named DEMO_SITE_NAME is the marker; when it exists the command
creates nothing.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from clinic.models import Site
from web.demo.seeder import Seeder, demo_data

# dev.py and README.md read these three constants (dev.py parses them with `ast`).
DEMO_SITE_NAME = "Riverside Infusion Center"
DEMO_PASSWORD = "demo-clinic-2026"  # noqa: S105 - a documented demo password, never a real one
DEMO_LOGINS = {
    "frontdesk": "front desk: day board, booking, arrivals",
    "clinician": "prescriber: plans, overrides, notes",
    "nurse": "infusion nurse: vitals, sessions, plans written up for a prescriber",
    "patient": "patient portal: own sessions only",
    "admin": "clinic administrator and Django superuser (/admin/)",
}


class Command(BaseCommand):
    help = f"Create the demo clinic '{DEMO_SITE_NAME}' with staff, patients, appointments and reminders (idempotent)."

    def handle(self, *args: Any, **options: Any) -> None:
        if Site.objects.filter(name=DEMO_SITE_NAME).exists():
            self.stdout.write(f"Demo clinic '{DEMO_SITE_NAME}' already present; nothing to do.")
            return
        with transaction.atomic():
            summary = Seeder(now=timezone.now(), site_name=DEMO_SITE_NAME, password=DEMO_PASSWORD).run()
        zone = demo_data()["site"]["time_zone"]
        self.stdout.write(self.style.SUCCESS(f"Seeded demo clinic '{DEMO_SITE_NAME}' ({zone})."))
        for label, value in summary.items():
            self.stdout.write(f"  {label}: {value}")
        logins = ", ".join(DEMO_LOGINS)
        self.stdout.write(f"  logins: {logins} (password {DEMO_PASSWORD})")
