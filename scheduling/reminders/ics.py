"""The calendar file attached to booking and change notices."""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlparse

from django.conf import settings
from icalendar import Calendar, Event

from scheduling.models import Appointment


def appointment_uid(appointment: Appointment) -> str:
    # Stable across moves, so a calendar program updates the event instead of adding one.
    host = urlparse(settings.SITE_URL).hostname or "clinic.example"
    return f"appointment-{appointment.pk}@{host}"


def appointment_ics(*, appointment: Appointment, sequence: int, now: dt.datetime) -> bytes:
    """One VEVENT in UTC. `sequence` must grow with each change (RFC 5545 §3.8.7.4)."""
    protocol = appointment.plan.protocol if appointment.plan_id else None
    site = appointment.site
    calendar = Calendar()
    calendar.add("prodid", "-//Infusion clinic//Reminders//EN")
    calendar.add("version", "2.0")
    calendar.add("method", "PUBLISH")
    event = Event()
    event.add("uid", appointment_uid(appointment))
    event.add("dtstamp", now.astimezone(dt.UTC))
    event.add("dtstart", appointment.starts_at.astimezone(dt.UTC))
    event.add("dtend", appointment.ends_at.astimezone(dt.UTC))
    event.add("sequence", sequence)
    event.add("summary", f"{protocol.name if protocol else 'Infusion session'} at {site.name}")
    event.add("location", site.address)
    notes = [protocol.preparation_notes if protocol else "", site.arrival_notes]
    event.add("description", "\n\n".join(note for note in notes if note))
    event.add("status", "CONFIRMED")
    calendar.add_component(event)
    return calendar.to_ical()
