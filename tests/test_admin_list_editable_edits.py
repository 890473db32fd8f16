"""A list page with editable columns (list_editable; the side-effect list's "active" and "position")
never saves over a change made after it was opened (clinic/admin_edits.py). The page posts every row
back, and a row it saves writes all its editable columns: an administrator retiring one entry would
write back the position someone else had just given it. Each row carries a fingerprint of its
editable values as shown; a row posted with other values than it had is saved only if it is still
as shown. A row the administrator left as shown is not saved, even if it changed meanwhile. The
posted rows are locked at once in id order (two pages in other orders cannot deadlock), and a
refused page draws each posted row beside its own entry."""

from __future__ import annotations

import contextlib
import threading

import pytest
import time_machine
from django.contrib.auth.models import Permission
from django.test import Client

from clinic import admin_edits
from clinic.admin_edits import FINGERPRINT_FIELD
from clinic.models import Role
from clinical.models import SideEffect
from tests.at_once import at_once
from tests.factories import StaffFactory, UserFactory
from tests.scheduling.conftest import NOW

pytestmark = pytest.mark.django_db

LIST = "/admin/clinical/sideeffect/"


@pytest.fixture
def entries():
    return [
        SideEffect.objects.create(code="list-nausea", label="List nausea", position=1),
        SideEffect.objects.create(code="list-dizziness", label="List dizziness", position=2),
    ]


def _admin(username: str):
    """A clinic administrator who may edit the clinic's lists."""
    user = UserFactory(username=username, is_staff=True)
    user.user_permissions.set(Permission.objects.filter(content_type__app_label="clinical"))
    StaffFactory(user=user, role=Role.CLINIC_ADMIN, all_sites=True)
    return user


def _posted(page) -> dict[str, str]:
    """What saving the list page posts as it stands."""
    formset = page.context["cl"].formset
    data = {"_save": "Save"}
    for form in [formset.management_form, *formset.forms]:
        for bound in form:
            value = bound.value()
            if value is not None and value is not False:
                data[bound.html_name] = "on" if value is True else str(value)
    return data


def _open_list(client: Client, url: str = LIST) -> dict[str, str]:
    """Sign in as a clinic administrator, open the list, and return what saving it posts as it stands."""
    client.force_login(_admin(f"list-admin-{url[-2:]}"))
    page = client.get(url)
    assert page.status_code == 200
    formset = page.context["cl"].formset
    assert f'name="{formset.forms[0].prefix}-{FINGERPRINT_FIELD}"' in page.content.decode()
    return _posted(page)


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


# --- Two pages at once, and a refused row drawn beside its own entry (a review's findings) ---------


@pytest.mark.django_db(transaction=True)
def test_two_pages_listing_the_same_rows_in_other_orders_save_one_and_refuse_the_other(monkeypatch):
    """Each changed row was locked in its row check, in the page's order: two administrators whose
    pages list the same rows in opposite orders (?o=1, ?o=-1), both changing both, deadlocked and
    one got a 500. The posted rows are now locked at once, in id order. (The first row check waits,
    a moment at most, for the other page to reach its own: with the old locks, both held one row.)"""
    with time_machine.travel(NOW, tick=True):
        a = SideEffect.objects.create(code="dl-a", label="A entry", position=1)
        b = SideEffect.objects.create(code="dl-b", label="B entry", position=2)
        first, second = Client(raise_request_exception=False), Client(raise_request_exception=False)
        pages = {"first": LIST + "?o=1", "second": LIST + "?o=-1"}
        posts = {"first": _open_list(first, pages["first"]), "second": _open_list(second, pages["second"])}
        for step, data in ((10, posts["first"]), (20, posts["second"])):  # each page its own new order
            for entry in (a, b):
                data[f"{_row(data, entry)}-position"] = str(entry.position + step)
        both_hold_one = threading.Barrier(2)
        original = admin_edits.row_fingerprint

        def row_fingerprint(instance, names):
            with contextlib.suppress(threading.BrokenBarrierError):
                both_hold_one.wait(timeout=2)
            return original(instance, names)

        monkeypatch.setattr(admin_edits, "row_fingerprint", row_fingerprint)
        answers = at_once(
            lambda: first.post(pages["first"], posts["first"]).status_code,
            lambda: second.post(pages["second"], posts["second"]).status_code,
            timeout=60,
        )
    assert sorted(map(str, answers)) == ["200", "302"]


def test_a_refused_row_is_drawn_beside_its_own_entry_when_its_change_moved_it(client, entries):
    """The list is ordered by position, the column edited: the refused page paired the rows read
    now (another order) with the rows posted, and drew the error on the other entry's row."""
    nausea, _ = entries
    data = _open_list(client)
    SideEffect.objects.filter(pk=nausea.pk).update(position=99)  # another administrator moves it last
    data.pop(f"{_row(data, nausea)}-active")
    html = client.post(LIST, data).content.decode()
    error_at = html.index("changed this side effect after you opened it")
    following = [label for label in ("List nausea", "List dizziness") if label in html[error_at:]]
    assert min(following, key=lambda label: html.index(label, error_at)) == "List nausea"
