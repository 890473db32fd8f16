"""A list page with editable columns (list_editable; the side-effect list's "active" and "position")
never saves over a change made after it was opened (clinic/admin_edits.py). The page posts every row
back, and a row it saves writes all its editable columns: an administrator retiring one entry would
write back the position someone else had just given it. Each row carries a fingerprint of its
editable values as shown; a row posted with other values than it had is saved only if it is still
as shown. A row the administrator left as shown is not saved, even if it changed meanwhile."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.test import Client

from clinic.admin_edits import FINGERPRINT_FIELD
from clinic.models import Role
from clinical.models import SideEffect
from tests.factories import StaffFactory, UserFactory

pytestmark = pytest.mark.django_db

LIST = "/admin/clinical/sideeffect/"


@pytest.fixture
def entries():
    return [
        SideEffect.objects.create(code="list-nausea", label="List nausea", position=1),
        SideEffect.objects.create(code="list-dizziness", label="List dizziness", position=2),
    ]


def _open_list(client: Client) -> dict[str, str]:
    """Sign in as a clinic administrator, open the list, and return what saving it posts as it stands."""
    user = UserFactory(username="list-admin", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(content_type__app_label="clinical"))
    StaffFactory(user=user, role=Role.CLINIC_ADMIN, all_sites=True)
    client.force_login(user)
    page = client.get(LIST)
    assert page.status_code == 200
    formset = page.context["cl"].formset
    assert f'name="{formset.forms[0].prefix}-{FINGERPRINT_FIELD}"' in page.content.decode()
    data = {"_save": "Save"}
    for form in [formset.management_form, *formset.forms]:
        for bound in form:
            value = bound.value()
            if value is None or value is False:
                continue
            data[bound.html_name] = "on" if value is True else str(value)
    return data


def _row(data: dict[str, str], entry: SideEffect) -> str:
    """The form prefix of `entry`'s row in the posted data."""
    return next(key.rsplit("-", 1)[0] for key, value in data.items() if key.endswith("-id") and value == str(entry.pk))


def test_a_row_retired_on_a_list_shown_before_its_position_changed_is_not_saved(client, entries):
    nausea = entries[0]
    data = _open_list(client)
    SideEffect.objects.filter(pk=nausea.pk).update(position=7)  # another administrator, meanwhile
    data.pop(f"{_row(data, nausea)}-active")  # unticked: retire it
    response = client.post(LIST, data)
    assert response.status_code == 200  # the list again, with the refusal
    assert "changed this side effect after you opened it" in response.content.decode()
    nausea.refresh_from_db()
    assert (nausea.active, nausea.position) == (True, 7)


def test_a_row_left_as_shown_does_not_stop_another_rows_save_nor_overwrite_its_change(client, entries):
    nausea, dizziness = entries
    data = _open_list(client)
    SideEffect.objects.filter(pk=dizziness.pk).update(position=9)  # another administrator, meanwhile
    data.pop(f"{_row(data, nausea)}-active")
    response = client.post(LIST, data)
    assert response.status_code == 302, response.content.decode()[:500]
    nausea.refresh_from_db()
    dizziness.refresh_from_db()
    assert nausea.active is False
    assert dizziness.position == 9  # not written back to the 2 the list showed


def test_a_list_saves_as_before_when_nobody_changed_anything(client, entries):
    nausea, dizziness = entries
    data = _open_list(client)
    data[f"{_row(data, dizziness)}-position"] = "0"
    assert client.post(LIST, data).status_code == 302
    dizziness.refresh_from_db()
    nausea.refresh_from_db()
    assert (dizziness.position, nausea.position, nausea.active) == (0, 1, True)


def test_a_changed_row_posted_without_its_fingerprint_is_refused(client, entries):
    nausea = entries[0]
    data = _open_list(client)
    prefix = _row(data, nausea)
    data.pop(f"{prefix}-{FINGERPRINT_FIELD}")
    data[f"{prefix}-position"] = "5"
    assert client.post(LIST, data).status_code == 200
    nausea.refresh_from_db()
    assert nausea.position == 1
