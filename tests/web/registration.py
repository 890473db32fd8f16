"""What the registration page's tests post: one patient's form, with the fields a test changes."""

from __future__ import annotations

import datetime as dt

ANCHOR = dt.datetime(2026, 3, 3, 15, tzinfo=dt.UTC)  # a Tuesday, 10:00 in New York


def registration_form(site, **changes) -> dict:
    data = {
        "first_name": "Dana",
        "last_name": "Ostrander",
        "date_of_birth": "1979-04-02",
        "home_site": site.pk,
        "email": "dana@example.org",
        "mobile_phone": "+12025550123",
        "preferred_channel": "email",
        "reminder_consent": "on",
    }
    data.update(changes)
    return data
