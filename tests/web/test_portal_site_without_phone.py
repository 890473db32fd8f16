"""A site stored without a phone number: the portal asks the patient to call the clinic without a
number that is not there (it formatted the missing number: a 500 on a cancel inside the notice
period, an empty `tel:` link on the home page)."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.contrib.messages import get_messages
from django.urls import reverse

from clinic.models import Site
from tests.web.conftest import NOW, frozen, login, web  # noqa: F401 - fixtures

pytestmark = pytest.mark.django_db


def test_a_portal_cancel_inside_the_notice_period_at_a_site_without_phone_is_told_to_call(client, web):  # noqa: F811
    Site.objects.filter(pk=web.clinic.site.pk).update(phone="")
    session = next(s for s in web.sessions_a if s.starts_at - dt.timedelta(hours=23) > NOW)
    with time_machine.travel(session.starts_at - dt.timedelta(hours=23), tick=False):  # 24 h notice
        login(client, web.patient_a.user)
        response = client.post(reverse("web:portal-action", args=[session.pk, "cancel"]))
    assert response.status_code == 302
    texts = [m.message for m in get_messages(response.wsgi_request)]
    assert any("less than 24 hours" in t for t in texts), texts
    assert not any(" on ." in t or "None" in t for t in texts), texts
    assert any(t.endswith(f"Please call {web.clinic.site.name}.") for t in texts), texts
    with time_machine.travel(session.starts_at - dt.timedelta(hours=23), tick=False):
        page = client.get(reverse("home"), follow=True).content.decode()
    assert f"call {web.clinic.site.name}." in page
    assert 'href="tel:"' not in page
