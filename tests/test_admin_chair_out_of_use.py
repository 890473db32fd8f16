"""A chair out of use typed in the admin: a closure naming one of its site's chairs. The sessions
already in it are counted for the front desk to move, as a closure's are; a chair of another site,
or a chair with no site, is refused on the form."""

from __future__ import annotations

import pytest

from clinic.models import Closure
from tests.admin_pages import errors_on
from tests.factories import ChairFactory
from tests.test_admin_concurrent_edits import _change_form_data, frozen  # noqa: F401  (the fixture)
from tests.test_admin_set_up_changes import _the_warning, _warnings, admin_client, booked  # noqa: F401

pytestmark = pytest.mark.django_db
URL = "/admin/clinic/closure/add/"


def _period(client, **fields):
    data = _change_form_data(client.get(URL))
    data.update(
        reason="IV pump broken",
        starts_at_0="2026-03-03",
        starts_at_1="00:00:00",
        ends_at_0="2026-03-04",
        ends_at_1="00:00:00",
        **fields,
    )
    return client.post(URL, data)


def test_a_chair_taken_out_of_use_over_a_booked_session_is_followed_by_the_count(booked, admin_client):  # noqa: F811  (the fixtures)
    clinic, session = booked
    response = _period(admin_client, site=clinic.site.pk, chair=session.chair_id)
    assert response.status_code == 302
    assert Closure.objects.filter(site=clinic.site, chair=session.chair_id).exists()
    (warning,) = _warnings(response)
    assert warning.startswith(_the_warning(clinic))


def test_another_chair_out_of_use_leaves_the_session_fitting(booked, admin_client):  # noqa: F811  (the fixtures)
    clinic, _ = booked
    response = _period(admin_client, site=clinic.site.pk, chair=clinic.chairs[1].pk)
    assert response.status_code == 302
    assert _warnings(response) == []


def test_a_chair_of_another_site_or_without_a_site_is_refused_on_the_form(booked, admin_client):  # noqa: F811  (the fixtures)
    clinic, _ = booked
    refused = _period(admin_client, site=clinic.site.pk, chair=ChairFactory().pk)
    assert refused.status_code == 200
    assert any("is not a chair of this site" in error for error in errors_on(refused.content.decode()))
    no_site = _period(admin_client, chair=clinic.chairs[0].pk)
    assert no_site.status_code == 200
    assert any("Name the site of the chair" in error for error in errors_on(no_site.content.decode()))
    assert not Closure.objects.exists()
