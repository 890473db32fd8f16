"""A change to what booking checks, made in the admin (a closure, a chair out of use, a lower
ratio, a nurse's shift gone, a protocol's longer setup), is followed by how many booked sessions
of the coming weeks it leaves not fitting, per site, with a link to the first one's day on the
board. Nothing is said when every session still fits."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.contrib.auth.models import Permission
from django.contrib.messages import get_messages
from django.http import HttpRequest

from clinic.models import Chair, Closure, Role, Shift
from scheduling.services import appointment_book
from tests.factories import PASSWORD, StaffFactory, UserFactory
from tests.scheduling.conftest import NOW, START, at_new_york, make_clinic, start_plus
from tests.test_admin_concurrent_edits import _change_form_data, frozen  # noqa: F401  (the fixture)

pytestmark = pytest.mark.django_db
TUESDAY = start_plus(1)


@pytest.fixture
def booked(frozen):  # noqa: F811
    """One session on Tuesday 3 March 2026, 10:00–12:00 in New York, in Chair 1 with the one nurse,
    and a clinic administrator signed in to the admin."""
    clinic = make_clinic()
    (session,) = clinic.book(clinic.plan(), [at_new_york(TUESDAY, 10)])
    return clinic, session


def _sign_in(client):
    user = UserFactory(username="set-up-admin", is_staff=True)
    user.user_permissions.set(Permission.objects.all())
    StaffFactory(user=user, role=Role.CLINIC_ADMIN, all_sites=True)
    assert client.login(request=HttpRequest(), username=user.username, password=PASSWORD)
    return client


@pytest.fixture
def admin_client(client):
    return _sign_in(client)


def _book(clinic, starts_at, chair):
    plan = clinic.plan()
    return appointment_book(
        patient=plan.patient,
        plan=plan,
        site=clinic.site,
        starts_at=starts_at,
        chair=chair,
        actor=clinic.front_desk.user,
        now=NOW,
    )


def _warnings(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request) if m.level_tag == "warning"]


def _post_change(client, obj, **changes):
    url = f"/admin/{obj._meta.app_label}/{obj._meta.model_name}/{obj.pk}/change/"
    data = _change_form_data(client.get(url))
    data.update(changes)
    for name, value in changes.items():
        if value is None:
            data.pop(name)
    response = client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else response
    return response


def _the_warning(clinic, count: int = 1) -> str:
    noun = "session" if count == 1 else "sessions"
    verb = "fits" if count == 1 else "fit"
    return f"{count} booked {noun} at {clinic.site.name} no longer {verb} its set-up, the first on Tue 3 Mar 2026 10:00"


def test_a_closure_added_over_a_booked_session_is_followed_by_the_count_and_a_link_to_its_day(booked, admin_client):
    clinic, _ = booked
    url = "/admin/clinic/closure/add/"
    data = _change_form_data(admin_client.get(url))
    data.update(
        site=clinic.site.pk,
        reason="Burst pipe",
        starts_at_0="2026-03-03",
        starts_at_1="00:00:00",
        ends_at_0="2026-03-04",
        ends_at_1="00:00:00",
    )
    response = admin_client.post(url, data)
    assert response.status_code == 302
    assert Closure.objects.filter(site=clinic.site, reason="Burst pipe").exists()
    (warning,) = _warnings(response)
    assert warning.startswith(_the_warning(clinic))
    assert f'href="/board/?site={clinic.site.pk}&amp;day=2026-03-03"' in warning


def test_a_change_that_leaves_every_session_fitting_says_nothing(booked, admin_client):
    clinic, _ = booked
    response = _post_change(admin_client, clinic.chairs[1], active=None)  # the empty chair, out of use
    assert not Chair.objects.get(pk=clinic.chairs[1].pk).active
    assert _warnings(response) == []


def test_a_chair_taken_out_of_use_is_followed_by_the_count(booked, admin_client):
    clinic, _ = booked
    response = _post_change(admin_client, clinic.chairs[0], active=None)
    assert [w[: len(_the_warning(clinic))] for w in _warnings(response)] == [_the_warning(clinic)]


def test_a_lower_ratio_on_the_site_page_is_followed_by_the_count(frozen, admin_client):  # noqa: F811
    clinic = make_clinic(max_patients_per_nurse=2, setups_per_nurse=2)
    for hour in (10, 11):
        _book(clinic, at_new_york(TUESDAY, hour), clinic.chairs[hour - 10])
    response = _post_change(admin_client, clinic.site, max_patients_per_nurse=1)
    assert [w[: len(_the_warning(clinic, 2))] for w in _warnings(response)] == [_the_warning(clinic, 2)]


def test_a_nurses_shift_deleted_is_followed_by_the_count(booked, admin_client):
    clinic, _ = booked
    shift = Shift.objects.get(staff=clinic.nurses[0], starts_at__date=TUESDAY)
    url = f"/admin/clinic/shift/{shift.pk}/delete/"
    response = admin_client.post(url, {"post": "yes"})
    assert response.status_code == 302
    assert not Shift.objects.filter(pk=shift.pk).exists()
    assert [w[: len(_the_warning(clinic))] for w in _warnings(response)] == [_the_warning(clinic)]


def test_a_nurse_made_inactive_is_followed_by_the_count_at_her_site(booked, admin_client):
    """Her page saves although her shifts are typed in for 240 days: it shows four weeks of them
    (every row posts nine fields, and a request carries at most 1,000)."""
    clinic, _ = booked
    assert Shift.objects.filter(staff=clinic.nurses[0]).count() > 200
    response = _post_change(admin_client, clinic.nurses[0], active=None)
    assert [w[: len(_the_warning(clinic))] for w in _warnings(response)] == [_the_warning(clinic)]


def test_a_protocols_longer_setup_is_followed_by_the_count_at_every_site_it_leaves_sessions(frozen, admin_client):  # noqa: F811
    clinic = make_clinic(max_patients_per_nurse=2, setups_per_nurse=1)
    clinic.protocol.nurse_check_offsets_minutes = []
    clinic.protocol.save()
    _book(clinic, at_new_york(TUESDAY, 10), clinic.chairs[0])
    _book(clinic, at_new_york(TUESDAY, 10) + dt.timedelta(minutes=30), clinic.chairs[1])
    assert _warnings(_post_change(admin_client, clinic.protocol, nurse_setup_minutes=25)) == []
    response = _post_change(admin_client, clinic.protocol, nurse_setup_minutes=40)
    assert [w[: len(_the_warning(clinic, 2))] for w in _warnings(response)] == [_the_warning(clinic, 2)]


def test_only_sessions_ahead_are_counted(booked, client):
    clinic, _ = booked
    with time_machine.travel(dt.datetime.combine(START + dt.timedelta(days=7), dt.time(12), tzinfo=dt.UTC)):
        response = _post_change(_sign_in(client), clinic.chairs[0], active=None)
    assert not Chair.objects.get(pk=clinic.chairs[0].pk).active
    assert _warnings(response) == []
