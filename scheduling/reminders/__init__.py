"""Reminders and booking notices: planning the rows, delivering them, and the
patient-facing confirm/cancel links. Booking services call `services`; the
beat task calls `services.reminders_dispatch_due`."""
