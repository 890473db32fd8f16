"""The calendar file attached to booking, change and cancellation notices, and
offered in the portal. Built with the icalendar library, which folds lines at
75 octets and ends them with CRLF (RFC 5545 §3.1); the email channel attaches
the bytes base64-encoded so no mail hop rewrites either."""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlparse

from django.conf import settings
from icalendar import Calendar, Event

from scheduling.models import Appointment, AppointmentStatus

PUBLISH = "PUBLISH"
CANCEL = "CANCEL"
# A no-show is over as far as the patient's calendar is concerned.
GONE = (AppointmentStatus.CANCELLED, AppointmentStatus.NO_SHOW)


def appointment_uid(appointment: Appointment) -> str:
    # Stable across moves, so a calendar program updates the event instead of adding one.
    host = urlparse(settings.SITE_URL).hostname or "clinic.example"
    return f"appointment-{appointment.pk}@{host}"


def appointment_summary(appointment: Appointment) -> str:
    # Calendars show titles on lock screens and shared screens: name the place, not the treatment.
    return f"Appointment at {appointment.site.name}"


def appointment_event(*, appointment: Appointment, now: dt.datetime) -> Event:
    """One VEVENT in UTC, CANCELLED once the session is off. SEQUENCE is the
    appointment's own counter, raised on every move and cancel."""
    site = appointment.site
    event = Event()
    event.add("uid", appointment_uid(appointment))
    event.add("dtstamp", now.astimezone(dt.UTC))
    event.add("dtstart", appointment.starts_at.astimezone(dt.UTC))
    event.add("dtend", appointment.ends_at.astimezone(dt.UTC))
    event.add("sequence", appointment.calendar_sequence)
    event.add("summary", appointment_summary(appointment))
    event.add("location", site.address)
    notes = [appointment.preparation_notes, site.arrival_notes]
    event.add("description", "\n\n".join(note for note in notes if note))
    event.add("status", "CANCELLED" if appointment.status in GONE else "CONFIRMED")
    return event


def appointment_ics(*, appointment: Appointment, now: dt.datetime, method: str = PUBLISH) -> bytes:
    calendar = Calendar()
    calendar.add("prodid", "-//Infusion clinic//Reminders//EN")
    calendar.add("version", "2.0")
    calendar.add("method", method)
    event = appointment_event(appointment=appointment, now=now)
    if method == CANCEL:
        event["status"] = "CANCELLED"
    calendar.add_component(event)
    return calendar.to_ical()
