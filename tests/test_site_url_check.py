"""`check --deploy` warns while SITE_URL points at the patient's own machine (clinic/checks.py:
links_reach_patients, clinic.W012)."""

from __future__ import annotations

import pytest
from django.test import override_settings

from clinic.checks import links_reach_patients


@pytest.mark.parametrize("site_url", ["http://127.0.1.1:8000", "http://0.0.0.0:8000", "http://[::ffff:127.0.0.1]:8000"])
def test_a_site_url_on_another_loopback_address_is_not_warned_about(site_url):
    """check --deploy warns about a SITE_URL on any loopback or unspecified address (127.0.1.1,
    0.0.0.0, an IPv4-mapped 127.0.0.1), not only localhost, 127.0.0.1 and ::1."""
    with override_settings(SITE_URL=site_url):
        assert [w.id for w in links_reach_patients()] == ["clinic.W012"]
