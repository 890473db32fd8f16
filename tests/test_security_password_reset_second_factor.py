"""The password reset leaves out a login that must have a second factor but has none enrolled,
superusers included, and the link's page checks it again at every step: a login promoted to such
a role, or whose authenticator was removed, after the link was mailed gets "no longer works"."""

from __future__ import annotations

import re

from django.core import mail
from django_otp.plugins.otp_totp.models import TOTPDevice

from clinic.models import Role
from tests.factories import SiteFactory, StaffFactory, UserFactory

NEW = "violet-harbour-lantern-42"
LINK = re.compile(r"https?://[^/\s]+(/account/password/reset/[^/\s]+/[^/\s]+/)")


def _ask(client, email):
    return client.post("/account/password/reset/", {"email": email})


def test_a_superuser_without_an_authenticator_gets_no_link(client, db, settings):
    settings.REQUIRE_2FA_ROLES = frozenset({Role.PRESCRIBER})
    UserFactory(email="root@clinic.example", is_superuser=True, is_staff=True)
    assert _ask(client, "root@clinic.example").status_code == 302
    assert mail.outbox == []


def test_a_link_mailed_before_a_role_that_needs_a_second_factor_stops_working(client, db, settings):
    settings.REQUIRE_2FA_ROLES = frozenset({Role.PRESCRIBER})
    site = SiteFactory()
    staff = StaffFactory(role=Role.FRONT_DESK, sites=[site], user=UserFactory(email="desk@clinic.example"))
    _ask(client, "desk@clinic.example")
    (link,) = LINK.findall(mail.outbox[0].body)
    page = client.get(link, follow=True)
    assert page.context["validlink"]
    staff.role = Role.PRESCRIBER
    staff.save()
    answer = client.post(page.redirect_chain[-1][0], {"new_password1": NEW, "new_password2": NEW})
    assert answer.status_code == 200 and not answer.context["validlink"]
    staff.user.refresh_from_db()
    assert not staff.user.check_password(NEW)


def test_a_link_stops_working_when_the_authenticator_is_removed(client, db, settings):
    settings.REQUIRE_2FA_ROLES = frozenset({Role.PRESCRIBER})
    site = SiteFactory()
    staff = StaffFactory(role=Role.PRESCRIBER, sites=[site], user=UserFactory(email="dr@clinic.example"))
    TOTPDevice.objects.create(user=staff.user, name="Authenticator app", confirmed=True)
    _ask(client, "dr@clinic.example")
    (link,) = LINK.findall(mail.outbox[0].body)
    TOTPDevice.objects.filter(user=staff.user).delete()
    page = client.get(link, follow=True)
    assert not page.context["validlink"]
