"""An admin change page never saves over a change made after it was opened (clinic/admin_edits.py):
the page posts back every field it shows, so without the check an administrator correcting a
phone number would write back the consent, the plan status or the sites someone else had just
changed. The save is refused with a message to reload, and nothing of it is written."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.forms import MultiWidget
from django.http import HttpRequest
from django.test import RequestFactory

from clinic.admin_edits import FINGERPRINT_FIELD, ConcurrentEditAdminMixin, ConcurrentEditInlineMixin
from clinic.models import Role, StaffMember
from patients.models import Patient
from scheduling.models import PlanStatus, TreatmentPlan
from scheduling.services import plan_pause
from tests.api.conftest import frozen, world  # noqa: F401  (the fixtures)
from tests.factories import PASSWORD, SiteFactory, StaffFactory, UserFactory
from tests.scheduling.conftest import NOW  # the instant the world is frozen at


def _change_form_data(response) -> dict[str, object]:
    """What the change page posts back as it stands: the form, and each inline's forms as shown."""
    data: dict[str, object] = {}
    forms = [response.context["adminform"].form]
    for inline in response.context["inline_admin_formsets"]:
        forms += [inline.formset.management_form, *inline.formset.forms]
    for form in forms:
        for bound in form:
            value = bound.value()
            if value is None or value is False:
                continue
            widget = bound.field.widget
            if isinstance(widget, MultiWidget):  # the admin's date and time boxes
                parts = widget.decompress(value)
                for index, part in enumerate(parts):
                    data[f"{bound.html_name}_{index}"] = widget.widgets[index].format_value(part)
                continue
            data[bound.html_name] = "on" if value is True else value
    return data


def _open_change_page(client, obj, role: str = Role.PRESCRIBER):
    """Sign in as `role` and open `obj`'s admin change page: its address, the answer, and the data
    the page posts back as it stands."""
    _sign_in(client, role)
    url = f"/admin/{obj._meta.app_label}/{obj._meta.model_name}/{obj.pk}/change/"
    got = client.get(url)
    return url, got, _change_form_data(got)


# The project's apps; the libraries' own admins (tokens, lockouts, authenticator devices) are theirs.
PROJECT_APPS = {"clinic", "patients", "scheduling", "clinical", "measures", "interop"}


def _sign_in(client, role: str = Role.PRESCRIBER):
    user = UserFactory(username=f"edits-{role}", is_staff=True)
    user.user_permissions.set(Permission.objects.all())
    StaffFactory(user=user, role=role, all_sites=True)
    assert client.login(request=HttpRequest(), username=user.username, password=PASSWORD)
    return user


def _superuser_request():
    request = RequestFactory().get("/admin/")
    request.user = UserFactory(is_staff=True, is_superuser=True)
    return request


@pytest.mark.django_db
def test_every_admin_that_can_change_a_row_checks_it_was_not_changed_since_shown():
    request = _superuser_request()
    unchecked = [
        model._meta.label
        for model, model_admin in admin.site._registry.items()
        if (model._meta.app_label in PROJECT_APPS or model is get_user_model())
        and model_admin.has_change_permission(request)
        and not isinstance(model_admin, ConcurrentEditAdminMixin)
    ]
    assert unchecked == []
    assert isinstance(admin.site._registry[Patient], ConcurrentEditAdminMixin)  # the rule reaches the project


@pytest.mark.django_db
def test_every_inline_that_can_change_a_row_checks_it_too():
    """An inline row is posted back as shown, like the page: the same check applies to it."""
    request = _superuser_request()
    unchecked = [
        type(inline).__name__
        for model, model_admin in admin.site._registry.items()
        if model._meta.app_label in PROJECT_APPS
        for inline in model_admin.get_inline_instances(request)
        if inline.has_change_permission(request) and not isinstance(inline, ConcurrentEditInlineMixin)
    ]
    assert unchecked == []


def test_a_patient_saved_from_a_page_opened_before_a_consent_change_is_refused(client, world):  # noqa: F811
    patient = world.appointment_b.patient
    url, _, data = _open_change_page(client, patient)
    assert data[FINGERPRINT_FIELD]
    # The patient withdraws consent in the portal while the page is open.
    Patient.objects.filter(pk=patient.pk).update(reminder_consent=False)
    data["escort_name"] = "Corrected Escort"

    response = client.post(url, data)

    assert response.status_code == 200  # the page again, with the refusal
    assert "changed this patient after you opened it" in response.content.decode()
    patient.refresh_from_db()
    assert patient.reminder_consent is False
    assert patient.escort_name != "Corrected Escort"


@pytest.mark.parametrize(
    ("path", "pick", "field", "value"),
    [
        ("patients/patient", lambda w: w.appointment_b.patient, "escort_name", "Corrected Escort"),
        ("scheduling/treatmentplan", lambda w: w.plan_b, "end_reason", "Typo corrected"),
        ("scheduling/appointment", lambda w: w.appointment_b, "ride_home", "Taxi at 11:30"),
        ("clinic/staffmember", lambda w: w.clinic.nurses[0], "active", ""),
    ],
)
def test_a_page_saves_when_nothing_changed_in_between(client, world, path, pick, field, value):  # noqa: F811
    obj = pick(world)
    _sign_in(client, Role.CLINIC_ADMIN if path.startswith("clinic/") else Role.PRESCRIBER)
    url = f"/admin/{path}/{obj.pk}/change/"
    data = _change_form_data(client.get(url))
    if value:
        data[field] = value
    else:
        data.pop(field, None)  # an unticked box is not posted

    response = client.post(url, data)

    assert response.status_code == 302, response.content.decode()[-1500:]
    obj.refresh_from_db()
    assert getattr(obj, field) == (value or False)


def test_a_post_without_the_shown_version_is_refused(client, world):  # noqa: F811
    """A post that does not say what it was based on cannot be told apart from a stale one."""
    patient = world.appointment_b.patient
    url, _, data = _open_change_page(client, patient)
    del data[FINGERPRINT_FIELD]
    data["escort_name"] = "Corrected Escort"

    assert client.post(url, data).status_code == 200
    assert Patient.objects.get(pk=patient.pk).escort_name != "Corrected Escort"


def test_a_plan_flagged_for_attention_while_its_page_is_open_keeps_the_flag(client, world):  # noqa: F811
    """The page shows "needs attention" unticked; saving it as shown would clear the flag the
    missed-session rule set meanwhile."""
    plan = world.plan_b
    url, _, data = _open_change_page(client, plan)
    TreatmentPlan.objects.filter(pk=plan.pk).update(needs_attention=True, attention_reason="Two sessions missed")
    data["end_reason"] = "Typo corrected"

    client.post(url, data)

    plan.refresh_from_db()
    assert (plan.needs_attention, plan.attention_reason) == (True, "Two sessions missed")


def test_a_change_to_what_the_page_does_not_edit_is_kept_and_the_save_goes_through(client, world):  # noqa: F811
    """A pause changes the status and version, which the page only shows: the save is made, over
    the current status and version (read again under the lock), and the version moves on by one."""
    plan = world.plan_b
    user = _sign_in(client)
    url = f"/admin/scheduling/treatmentplan/{plan.pk}/change/"
    data = _change_form_data(client.get(url))
    paused = plan_pause(plan=plan, actor=user, now=NOW, reason="Travel", expected_version=plan.version)
    data["end_reason"] = "Typo corrected"

    response = client.post(url, data)

    assert response.status_code == 302
    plan.refresh_from_db()
    assert (plan.status, plan.version, plan.end_reason) == (PlanStatus.PAUSED, paused.version + 1, "Typo corrected")


def test_a_staff_members_sites_changed_meanwhile_are_not_written_back(client, world):  # noqa: F811
    nurse = world.clinic.nurses[0]
    url, _, data = _open_change_page(client, nurse, Role.CLINIC_ADMIN)
    extra_site = SiteFactory()
    nurse.sites.add(extra_site)

    response = client.post(url, data)

    assert "changed this staff member after you opened it" in response.content.decode()
    assert set(StaffMember.objects.get(pk=nurse.pk).sites.all()) >= {extra_site}
