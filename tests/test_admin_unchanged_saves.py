"""Every project admin's change page (and the user admin's) saves when nothing changed in between
(clinic/admin_edits.py refuses only a row changed since it was shown): a GET then the same data
POSTed back redirects, for each role that may change the row."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model

from clinic.admin_edits import ConcurrentEditAdminMixin
from clinic.models import Role
from interop.siu.models import SiuReceiver
from tests.api.conftest import frozen, world  # noqa: F401
from tests.test_admin_concurrent_edits import _change_form_data, _sign_in


def _checked_models():
    return sorted(
        (m._meta.label for m, a in admin.site._registry.items() if isinstance(a, ConcurrentEditAdminMixin)),
    )


def _pick(world, label):  # noqa: F811
    from django.apps import apps

    model = apps.get_model(label)
    if model is get_user_model():
        return world.users["nurse"]
    if model is SiuReceiver:
        return SiuReceiver.objects.create(site=world.site, host="ehr.example.org", port=2575)
    obj = model._default_manager.order_by("pk").first()
    assert obj is not None, f"no {label} row in the world"
    return obj


@pytest.mark.parametrize("label", _checked_models())
def test_unchanged_change_page_saves(client, world, label):  # noqa: F811
    """For each role that may change the row (at least one may), the page as shown saves."""
    obj = _pick(world, label)
    url = f"/admin/{obj._meta.app_label}/{obj._meta.model_name}/{obj.pk}/change/"
    saved_by = []
    for role in (Role.PRESCRIBER, Role.CLINIC_ADMIN):
        _sign_in(client, role)
        got = client.get(url)
        if got.status_code == 403 or not got.context["has_change_permission"]:
            continue  # this role may not change it
        response = client.post(url, _change_form_data(got))
        assert response.status_code == 302, (role, response.content.decode()[-3000:])
        saved_by.append(role)
        client.logout()
    assert saved_by, f"no role could change {label}"
