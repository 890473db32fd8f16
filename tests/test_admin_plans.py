"""The treatment-plan admin leaves to the services what they decide for prescribers: the interval and
review date (within the protocol's bounds, the sessions re-planned), the plan's patient, site and
prescriber."""

from __future__ import annotations

import datetime as dt

from django.contrib.auth.models import Permission
from django.http import HttpRequest

from clinic.models import Role
from scheduling.models import TreatmentPlan
from tests.api.conftest import frozen, world  # noqa: F401  (the fixtures)
from tests.factories import PASSWORD, StaffFactory, UserFactory


def _admin(client, username: str, role: str):
    user = UserFactory(username=username, is_staff=True)
    user.user_permissions.set(Permission.objects.all())
    StaffFactory(user=user, role=role, all_sites=True)
    assert client.login(request=HttpRequest(), username=user.username, password=PASSWORD)
    return user


def _change_form_data(response) -> dict[str, object]:
    """What the change page posts back as it stands: the plan form and each inline's management form."""
    data: dict[str, object] = {}
    for bound in response.context["adminform"].form:
        value = bound.value()
        if value is None or value is False:
            continue
        data[bound.html_name] = "on" if value is True else value
    for inline in response.context["inline_admin_formsets"]:
        for bound in inline.formset.management_form:
            data[bound.html_name] = bound.value()
    return data


def test_a_clinic_administrator_cannot_change_a_plans_review_date_or_interval_in_the_admin(client, world):  # noqa: F811
    """A clinic administrator without a clinical role cannot change a plan's review date or interval
    in the admin."""
    plan = world.plan_b
    before = (plan.maintenance_interval_days, plan.review_date)
    _admin(client, "wide-setup", Role.CLINIC_ADMIN)
    url = f"/admin/scheduling/treatmentplan/{plan.pk}/change/"
    page = client.get(url)
    assert page.status_code == 200
    data = _change_form_data(page)
    data["maintenance_interval_days"] = str(plan.maintenance_interval_days + 7)
    data["review_date"] = (plan.review_date + dt.timedelta(days=90)).isoformat()

    client.post(url, data)

    plan.refresh_from_db()
    assert (plan.maintenance_interval_days, plan.review_date) == before


def test_the_admin_keeps_the_protocols_maintenance_interval_bounds(client, world):  # noqa: F811
    """The admin cannot save an interval outside the protocol's bounds."""
    plan = world.plan_b
    assert plan.protocol.maintenance_max_days < 300
    before = plan.maintenance_interval_days
    _admin(client, "wide-prescriber", Role.PRESCRIBER)
    url = f"/admin/scheduling/treatmentplan/{plan.pk}/change/"
    data = _change_form_data(client.get(url))
    data["maintenance_interval_days"] = "300"

    client.post(url, data)

    assert TreatmentPlan.objects.get(pk=plan.pk).maintenance_interval_days == before


def test_the_admin_does_not_make_a_nurse_a_plans_prescriber(client, world):  # noqa: F811
    """The admin cannot make a nurse a plan's prescriber."""
    plan = world.plan_b
    nurse = world.clinic.nurses[0]
    _admin(client, "wide-prescriber", Role.PRESCRIBER)
    url = f"/admin/scheduling/treatmentplan/{plan.pk}/change/"
    data = _change_form_data(client.get(url))
    data["prescriber"] = str(nurse.pk)

    client.post(url, data)

    assert TreatmentPlan.objects.get(pk=plan.pk).prescriber.role == Role.PRESCRIBER


def test_the_admin_does_not_hand_a_booked_plan_to_another_patient(client, world):  # noqa: F811
    """The admin cannot hand a booked plan to another patient."""
    plan = world.plan_b
    assert plan.appointments.exists()
    other = world.draft_plan.patient
    # The other patient has no open plan of their own once the draft is ended, so no constraint stops it.
    TreatmentPlan.objects.filter(pk=world.draft_plan.pk).update(status="ended", ended_at=world.draft_plan.created_at)
    _admin(client, "wide-prescriber", Role.PRESCRIBER)
    url = f"/admin/scheduling/treatmentplan/{plan.pk}/change/"
    data = _change_form_data(client.get(url))
    data["patient"] = str(other.pk)

    client.post(url, data)

    plan.refresh_from_db()
    assert set(plan.appointments.values_list("patient_id", flat=True)) == {plan.patient_id}
