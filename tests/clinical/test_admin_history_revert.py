"""The session record is read-only in the admin (README: "the session record and the
controlled-substance log are shown read-only"); a change to what was given is a correction, which
writes a new line in the controlled-substance log. The history's "Revert" page must not rewrite the
administration behind the log's back, nor the discharge, for anyone (clinic/admin_history.py); and
every history admin of the project refuses a revert without the right to change the row."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.http import HttpRequest

from clinic.models import Role
from clinical import services
from clinical.models import Administration, ControlledSubstanceEntry
from tests.clinical.conftest import SESSION_START
from tests.clinical_helpers import record_session_for_completion
from tests.factories import PASSWORD, StaffFactory, UserFactory

pytestmark = pytest.mark.django_db


def _as_shown(page) -> dict:
    """What the history page's form posts back as it shows the old version."""
    form = page.context["adminform"].form
    data: dict = {}
    for name, field in form.fields.items():
        value = form.initial.get(name, field.initial)
        if isinstance(value, dt.datetime):
            data[f"{name}_0"] = value.astimezone(dt.UTC).strftime("%Y-%m-%d")
            data[f"{name}_1"] = value.astimezone(dt.UTC).strftime("%H:%M:%S")
        elif isinstance(value, list):
            data[name] = [getattr(v, "pk", v) for v in value]
        elif value is not None:
            data[name] = getattr(value, "pk", value)
    return data


def test_the_admin_revert_page_cannot_rewrite_a_recorded_administration(client, ward):
    record_session_for_completion(ward.session, ward.nurse.user)
    administration = Administration.objects.get(appointment=ward.session)
    entry = administration.log_entries.get()
    services.controlled_substance_correct(
        entry=entry,
        total_mg=Decimal("34"),
        reason="Pump log",
        actor=ward.prescriber.user,
        now=SESSION_START + dt.timedelta(hours=3),
    )
    older = administration.history.order_by("history_date", "history_id").first()
    assert older.total_mg == Decimal("35.00")

    user = UserFactory(username="wide-prescriber", is_staff=True)
    user.user_permissions.set(Permission.objects.all())
    StaffFactory(user=user, role=Role.PRESCRIBER, all_sites=True)
    assert client.login(request=HttpRequest(), username=user.username, password=PASSWORD)
    url = f"/admin/clinical/administration/{administration.pk}/history/{older.history_id}/"
    page = client.get(url)
    assert page.status_code == 200
    data = _as_shown(page)
    data["total_mg"] = "50.00"  # not even the older version: any amount
    response = client.post(url, data)

    assert response.status_code == 403
    administration.refresh_from_db()
    assert ControlledSubstanceEntry.objects.count() == 2  # no line was written for it
    # The administration still says what the log's latest line says: 34 mg.
    assert administration.total_mg == Decimal("34.00"), (
        f"POST answered {response.status_code}; "
        f"the read-only administration was rewritten to {administration.total_mg} mg through the admin's "
        f"history page; the log's latest line says "
        f"{ControlledSubstanceEntry.objects.order_by('-pk').first().total_mg} mg"
    )


def test_a_view_only_user_cannot_rewrite_a_discharge_through_the_admin_history_page(client, ward):
    """The recovery record is read-only in the admin too; a prescriber who may only *view* it there
    rewrites the discharge time and the driver through the history page."""
    from clinical.models import Recovery

    record_session_for_completion(ward.session, ward.nurse.user)
    recovery = Recovery.objects.get(appointment=ward.session)
    version = recovery.history.order_by("history_date", "history_id").first()
    user = UserFactory(username="viewer-prescriber", is_staff=True)
    user.user_permissions.set(
        Permission.objects.filter(content_type__app_label="clinical", codename__startswith="view_")
    )
    StaffFactory(user=user, role=Role.PRESCRIBER, all_sites=True)
    assert client.login(request=HttpRequest(), username=user.username, password=PASSWORD)
    assert client.get(f"/admin/clinical/recovery/{recovery.pk}/change/").status_code == 200  # may view
    url = f"/admin/clinical/recovery/{recovery.pk}/history/{version.history_id}/"
    page = client.get(url)
    assert page.status_code == 200
    data = _as_shown(page)
    data["driver_name"] = "Nobody"
    response = client.post(url, data)
    assert response.status_code == 403
    recovery.refresh_from_db()
    assert recovery.driver_name == "Chris (partner)", (
        f"POST answered {response.status_code}: a view-only user changed the recorded driver to "
        f"{recovery.driver_name!r}"
    )


def test_every_history_admin_of_the_project_is_one_that_refuses_a_revert_it_may_not_make():
    from django.contrib import admin
    from simple_history.admin import SimpleHistoryAdmin

    from clinic.admin_history import HistoryAdmin

    unguarded = [
        model._meta.label
        for model, model_admin in admin.site._registry.items()
        if isinstance(model_admin, SimpleHistoryAdmin) and not isinstance(model_admin, HistoryAdmin)
    ]
    assert unguarded == []
