"""Flows around the change-page fingerprint (clinic/admin_edits.py): history's "Revert" page (in its
own transaction, fingerprinted from the stored row), inline rows changed meanwhile (refused like
the page), untouched inline rows (not saved again), view-only pages (no fingerprint row), many-to-
many links (locked with the row), the user admin, add pages and "Save as new"."""

from __future__ import annotations

import threading

import pytest
from django.db import connections
from django.test import Client

from clinic.admin import StaffMemberAdmin
from clinic.models import ReminderPolicy, Role, StaffMember
from patients.models import Evaluation
from tests.api.conftest import frozen, world  # noqa: F401
from tests.factories import SiteFactory, StaffFactory
from tests.test_admin_concurrent_edits import _change_form_data, _open_change_page, _sign_in


class _NoInlines:
    """A response whose context has no inline formsets (the history page), for _change_form_data."""

    def __init__(self, response):
        self.context = {"adminform": response.context["adminform"], "inline_admin_formsets": []}


def test_history_revert_page_saves_an_older_version(client, world):  # noqa: F811
    """simple_history's "Revert" page (SimpleHistoryAdmin.history_form_view) shows an older version
    of the row and saves it back; it must still work on every SimpleHistoryAdmin."""
    patient = world.appointment_b.patient
    old_escort = patient.escort_name
    patient.escort_name = "Newer Escort"
    patient.save()
    older = patient.history.order_by("history_date", "history_id").filter(escort_name=old_escort).last()
    assert older is not None
    _sign_in(client)
    url = f"/admin/patients/patient/{patient.pk}/history/{older.history_id}/"
    got = client.get(url)
    assert got.status_code == 200
    data = _change_form_data(_NoInlines(got))

    response = client.post(url, data)

    errors = response.context["adminform"].form.errors if response.status_code == 200 else None
    assert response.status_code == 302, errors
    patient.refresh_from_db()
    assert patient.escort_name == old_escort


def test_inline_rows_changed_meanwhile_are_not_written_back(client, world):  # noqa: F811
    """The site page posts its reminder-policy inline back as shown: a change made to the policy
    after the page was opened must not be overwritten by saving the site."""
    site = world.site
    url, _, data = _open_change_page(client, site, Role.CLINIC_ADMIN)
    shown = ReminderPolicy.objects.get(site=site).max_attempts
    ReminderPolicy.objects.filter(site=site).update(max_attempts=shown + 2)  # changed elsewhere meanwhile
    data["name"] = site.name + " (renamed)"

    client.post(url, data)

    assert ReminderPolicy.objects.get(site=site).max_attempts == shown + 2


def test_evaluation_inline_changed_meanwhile_is_not_written_back(client, world):  # noqa: F811
    patient = world.appointment_b.patient
    evaluation = world.evaluation_b
    url, _, data = _open_change_page(client, patient)
    Evaluation.objects.filter(pk=evaluation.pk).update(diagnosis="Corrected diagnosis")
    data["escort_name"] = "Corrected Escort"

    client.post(url, data)

    assert Evaluation.objects.get(pk=evaluation.pk).diagnosis == "Corrected diagnosis"


def test_view_only_change_page_shows_no_shown_version_row(client, world):  # noqa: F811
    """A nurse may read an evaluation but not change it: the page is all read-only fields, and the
    hidden fingerprint must not turn into a visible "Shown version" row."""
    _sign_in(client, Role.NURSE)
    got = client.get(f"/admin/patients/evaluation/{world.evaluation_b.pk}/change/")
    assert got.status_code == 200
    assert not got.context["has_change_permission"]
    assert "Shown version" not in got.content.decode()


def test_user_admin_editing_own_login_saves(client, world):  # noqa: F811
    user = _sign_in(client, Role.CLINIC_ADMIN)
    url = f"/admin/auth/user/{user.pk}/change/"
    data = _change_form_data(client.get(url))
    data["first_name"] = "Renamed"
    response = client.post(url, data)
    assert response.status_code == 302, response.content.decode()[-2000:]
    user.refresh_from_db()
    assert user.first_name == "Renamed"


def test_user_admin_password_page_still_works(client, world):  # noqa: F811
    _sign_in(client, Role.CLINIC_ADMIN)
    nurse = world.users["nurse"]
    url = f"/admin/auth/user/{nurse.pk}/password/"
    assert client.get(url).status_code == 200
    new = "a-Much-longer-Passphrase-42"
    response = client.post(url, {"password1": new, "password2": new, "usable_password": "true"})
    assert response.status_code == 302, response.content.decode()[-2000:]
    nurse.refresh_from_db()
    assert nurse.check_password(new)


@pytest.mark.parametrize(
    ("path", "data"),
    [
        (
            "auth/user",
            {
                "username": "newbie",
                "password1": "a-Much-longer-Passphrase-42",
                "password2": "a-Much-longer-Passphrase-42",
                "usable_password": "true",
            },
        ),
        ("patients/contraindication", {"code": "new-rule", "label": "New rule", "kind": "flag"}),
    ],
)
def test_add_page_unaffected(client, world, path, data):  # noqa: F811
    _sign_in(client, Role.CLINIC_ADMIN)
    got = client.get(f"/admin/{path}/add/")
    assert got.status_code == 200
    assert "shown_version" not in got.content.decode()
    full = {**_change_form_data(got), **data}
    response = client.post(f"/admin/{path}/add/", full)
    assert response.status_code == 302, response.content.decode()[-3000:]


def test_save_as_new_is_not_checked_against_the_original(client, world):  # noqa: F811
    rule = world.flag_rule
    url, _, data = _open_change_page(client, rule, Role.CLINIC_ADMIN)
    from patients.models import Contraindication

    Contraindication.objects.filter(pk=rule.pk).update(label="Changed meanwhile")
    data.update({"_saveasnew": "1", "code": "copy-rule", "label": "Copy"})
    response = client.post(url, data)
    assert response.status_code == 302, response.content.decode()[-3000:]
    assert Contraindication.objects.filter(code="copy-rule").exists()


@pytest.mark.django_db(transaction=True)
def test_history_revert_page_post_does_not_500_outside_a_test_transaction():
    """In production a request is not wrapped in a transaction (no ATOMIC_REQUESTS), and
    simple_history's history_form_view is not atomic: the form's select_for_update must not raise."""
    from django.test import Client

    from patients.models import Contraindication

    rule = Contraindication.objects.create(code="rule-x", label="Rule X", kind="flag")
    latest = rule.history.order_by("-history_id").first()
    client = Client(raise_request_exception=False)
    _sign_in(client, Role.CLINIC_ADMIN)
    url = f"/admin/patients/contraindication/{rule.pk}/history/{latest.history_id}/"
    got = client.get(url)
    assert got.status_code == 200
    data = _change_form_data(_NoInlines(got))
    data["label"] = "Rule X again"

    response = client.post(url, data)

    assert response.status_code == 302, response.status_code


def test_untouched_inline_rows_are_not_saved_again(client, world):  # noqa: F811
    """The fingerprint is never a change of its own: saving the patient page leaves its flags and
    evaluations as they were, with no new history rows."""
    patient = world.appointment_b.patient
    url, _, data = _open_change_page(client, patient)
    data["escort_name"] = "Corrected Escort"
    before = Evaluation.history.filter(patient=patient).count()

    assert client.post(url, data).status_code == 302

    assert Evaluation.history.filter(patient=patient).count() == before


@pytest.mark.django_db(transaction=True)
def test_a_site_link_removed_while_the_page_saves_waits_and_is_not_undone(monkeypatch):
    """The links of the many-to-many fields the page edits are locked with the row, to the
    commit: a removal made while the page saves waits for it, then takes effect (it is not written
    back by the page's save of the links it showed)."""
    one, two = SiteFactory(), SiteFactory()
    nurse = StaffFactory(role=Role.NURSE, sites=[one, two])
    client = Client()
    url, _, data = _open_change_page(client, nurse, Role.CLINIC_ADMIN)
    original = StaffMemberAdmin.save_model
    workers: list[threading.Thread] = []

    def save_model(self, request, obj, form, change):
        def remove():
            try:
                StaffMember.objects.get(pk=nurse.pk).sites.remove(two)
            finally:
                connections.close_all()

        worker = threading.Thread(target=remove)
        worker.start()
        worker.join(timeout=2)
        assert worker.is_alive(), "the removal did not wait for the page's lock"
        workers.append(worker)
        original(self, request, obj, form, change)

    monkeypatch.setattr(StaffMemberAdmin, "save_model", save_model)
    response = client.post(url, data)
    workers[0].join(timeout=10)

    assert response.status_code == 302
    assert set(StaffMember.objects.get(pk=nurse.pk).sites.all()) == {one}
