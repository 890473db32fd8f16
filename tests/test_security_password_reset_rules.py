"""The password reset held to OWASP's Forgot Password Cheat Sheet and to this clinic's rules
(clinic/security/password_reset.py): the chart's contact email, which the front desk types, opens
only a patient login with no email of its own and no staff role, and only when no other chart
shares it; limits count per login, whatever the spelling; the access log names whose password a
link set and never records the token; a deactivated login's link stops working, and so does a link
mailed to a chart's contact email once the chart no longer has that confirmed address; links keep
SITE_URL's path; every kind of address gets the same answer; odd input never fails."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import SESSION_KEY
from django.core import mail
from django.http import HttpRequest
from django.test import Client
from knox.models import AuthToken
from rest_framework.test import APIClient

from clinic.models import AccessLog, Role
from clinic.security.password_reset import RESET_LIMIT_PER_LOGIN
from tests.factories import PASSWORD, PatientFactory, SiteFactory, StaffFactory, UserFactory

NEW = "violet-harbour-lantern-42"
LINK = re.compile(r"https?://[^/\s]+(/account/password/reset/[^/\s]+/[^/\s]+/)")


def _ask(client: Client, email: str, **extra):
    return client.post("/account/password/reset/", {"email": email}, **extra)


def _links(message) -> list[str]:
    return LINK.findall(message.body)


def _signs_in(username: str, password: str) -> bool:
    return Client().login(request=HttpRequest(), username=username, password=password)


def _set_password(client: Client, link: str, password: str = NEW):
    page = client.get(link, follow=True)
    assert page.context["validlink"]
    return client.post(page.redirect_chain[-1][0], {"new_password1": password, "new_password2": password})


# --- the patient's contact email as a reset channel -----------------------------------------


def test_contact_email_is_only_a_reset_channel_when_the_login_has_no_email(client, db):
    """Commit message: "a patient's contact email when the login has none". A login with its own
    address must not be reachable through the chart's contact email (typed by the front desk)."""
    user = UserFactory(username="pat.own", email="pat.own@mail.example")
    PatientFactory(user=user, email="someone.else@mail.example")
    _ask(client, "someone.else@mail.example")
    assert [m.to for m in mail.outbox] == [], "the login's reset link went to the chart's contact email"


def test_front_desk_cannot_take_over_a_staff_login_through_a_patient_chart_email(client, db):
    """A prescriber who is also a patient of the clinic: the front desk (or a caller it believes)
    changes the chart's contact email through the API, then asks for a reset: the prescriber's
    login must not be mailed to that address."""
    site = SiteFactory()
    desk = StaffFactory(user=UserFactory(username="desk.rv"), role=Role.FRONT_DESK, sites=[site])
    prescriber = StaffFactory(
        user=UserFactory(username="presc.rv", email="presc.rv@clinic.example"), role=Role.PRESCRIBER, sites=[site]
    )
    chart = PatientFactory(user=prescriber.user, email="presc.home@mail.example", home_site=site)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {AuthToken.objects.create(user=desk.user)[1]}")
    changed = api.patch(f"/api/v1/patients/{chart.pk}/", {"email": "attacker@evil.example"}, format="json")
    assert changed.status_code == 200, changed.content

    _ask(client, "attacker@evil.example")

    leaked = [m for m in mail.outbox if "presc.rv" in m.body]
    assert leaked == [], f"the prescriber's reset link was mailed to {leaked[0].to}"


def _desk_changes_chart_email(chart, email: str) -> None:
    desk = StaffFactory(user=UserFactory(username="desk.moved"), role=Role.FRONT_DESK, sites=[chart.home_site])
    api = APIClient()
    api.force_authenticate(desk.user)
    changed = api.patch(f"/api/v1/patients/{chart.pk}/", {"email": email}, format="json")
    assert changed.status_code == 200, changed.content


def test_a_link_mailed_to_a_patients_old_contact_email_stops_working_once_the_desk_changes_it(client, db):
    """The link proves the mailbox it went to. Django's token covers only the login's own email,
    empty here; once the desk corrects the chart's address (the old mailbox is someone else's), a
    link mailed to the old one must not set the patient's password."""
    user = UserFactory(username="pat.moved", email="")
    chart = PatientFactory(user=user, email="old@home.example", email_confirmed="old@home.example")
    _ask(client, "old@home.example")
    assert [m.to for m in mail.outbox] == [["old@home.example"]]
    link = _links(mail.outbox[0])[0]

    _desk_changes_chart_email(chart, "new@home.example")

    page = Client().get(link, follow=True)
    assert page.context["validlink"] is False, "the old mailbox can still set the patient's password"
    assert _signs_in("pat.moved", PASSWORD)


def test_a_link_mailed_to_a_contact_email_stops_working_once_the_patient_confirms_another(client, db):
    user = UserFactory(username="pat.reconfirmed", email="")
    chart = PatientFactory(user=user, email="old@home.example", email_confirmed="old@home.example")
    _ask(client, "old@home.example")
    link = _links(mail.outbox[0])[0]

    chart.email = chart.email_confirmed = "new@home.example"
    chart.save(update_fields=["email", "email_confirmed"])

    assert Client().get(link, follow=True).context["validlink"] is False


def test_a_link_mailed_to_a_contact_email_sets_the_password_while_the_chart_keeps_that_address(client, db):
    """A change of case only is no change of address (Patient.email_is_confirmed)."""
    user = UserFactory(username="pat.kept", email="")
    chart = PatientFactory(user=user, email="kept@home.example", email_confirmed="kept@home.example")
    _ask(client, "kept@home.example")
    link = _links(mail.outbox[0])[0]

    _desk_changes_chart_email(chart, "Kept@Home.example")

    assert _set_password(client, link).status_code == 302
    assert _signs_in("pat.kept", NEW)


def test_a_lookalike_of_a_staff_email_does_not_send_the_staff_link_to_the_chart_email(client, db):
    """PostgreSQL's iexact (UPPER) matches 'clınic' (dotless i) to 'clinic'; the casefold digest does
    not, so _address_on_file falls back to the chart's contact email for the staff login."""
    prescriber = StaffFactory(
        user=UserFactory(username="presc.look", email="presc.look@clinic.example"), role=Role.PRESCRIBER
    )
    PatientFactory(user=prescriber.user, email="someone.home@mail.example")
    _ask(client, "presc.look@cl\u0131nic.example")
    sent_to = [m.to for m in mail.outbox if '"presc.look"' in m.body]
    assert ["someone.home@mail.example"] not in sent_to, "the staff login's link went to the chart's contact email"


# --- the hourly limit per address ------------------------------------------------------------


def test_one_login_gets_at_most_the_hours_limit_of_links_whatever_the_spelling(client, db):
    UserFactory(username="nurse.limit", email="nurse.limit@clinic.example")
    spellings = [
        "nurse.limit@clinic.example",
        "nurse.limit@cl\u0131nic.example",  # dotless i: UPPER() in PostgreSQL gives I, casefold() keeps it
        "nurse.l\u0131mit@clinic.example",
        "nurse.l\u0131m\u0131t@clinic.example",
        "nurse.limit@cl\u0131n\u0131c.example",
        "nurse.l\u0131m\u0131t@cl\u0131n\u0131c.example",
    ]
    answers = [_ask(client, s).status_code for s in spellings for _ in range(RESET_LIMIT_PER_LOGIN)]
    assert set(answers) == {302}
    assert len(mail.outbox) <= RESET_LIMIT_PER_LOGIN, f"{len(mail.outbox)} links mailed to one address in an hour"


# --- audit -------------------------------------------------------------------------------------


def test_a_completed_reset_leaves_an_access_log_row(client, db):
    user = UserFactory(username="nurse.audit", email="nurse.audit@clinic.example")
    _ask(client, "nurse.audit@clinic.example")
    _set_password(client, _links(mail.outbox[0])[0])
    assert _signs_in("nurse.audit", NEW)
    rows = AccessLog.objects.filter(path__startswith="/account/password/reset/")
    assert rows.exists(), "a password taken over by email leaves no trace in the access log"
    assert any(r.username == user.username or r.user_id == user.pk for r in rows)


def test_the_reset_token_is_not_written_to_the_access_log(client, db):
    """A signed-in person (a shared ward workstation) opens the link: the row must not carry a
    token that still works."""
    UserFactory(username="nurse.tok", email="nurse.tok@clinic.example")
    other = UserFactory(username="someone.signed.in")
    _ask(Client(), "nurse.tok@clinic.example")
    link = _links(mail.outbox[0])[0]
    token = link.rstrip("/").rsplit("/", 1)[1]
    client.force_login(other)
    client.get(link)
    logged = list(AccessLog.objects.filter(path__contains=token).values_list("path", flat=True))
    assert logged == [], f"live reset token in the access log: {logged}"


# --- deactivation, sessions, second factor ----------------------------------------------------


def test_a_link_stops_working_once_the_login_is_deactivated(client, db):
    user = UserFactory(username="leaver", email="leaver@clinic.example")
    _ask(client, "leaver@clinic.example")
    link = _links(mail.outbox[0])[0]
    user.is_active = False
    user.save()
    page = Client().get(link, follow=True)
    assert page.context["validlink"] is False


def test_a_reset_signs_out_other_sessions_and_does_not_sign_in(client, db):
    UserFactory(username="nurse.sess", email="nurse.sess@clinic.example")
    other = Client()
    assert other.login(request=HttpRequest(), username="nurse.sess", password=PASSWORD)
    assert other.get("/account/").status_code == 200
    _ask(client, "nurse.sess@clinic.example")
    done = _set_password(client, _links(mail.outbox[0])[0])
    assert done.status_code == 302
    assert SESSION_KEY not in client.session
    assert other.get("/account/").status_code == 302


def test_a_reset_does_not_pass_the_second_factor(client, db, settings):
    from django_otp.plugins.otp_totp.models import TOTPDevice

    settings.REQUIRE_2FA_ROLES = frozenset({Role.PRESCRIBER})
    staff = StaffFactory(user=UserFactory(username="presc.2fa", email="presc.2fa@clinic.example"), role=Role.PRESCRIBER)
    TOTPDevice.objects.create(user=staff.user, confirmed=True, name="phone")
    _ask(client, "presc.2fa@clinic.example")
    _set_password(client, _links(mail.outbox[0])[0])
    login = Client().post("/login/", {"username": "presc.2fa", "password": NEW})
    assert login.status_code == 302 and "code" in login["Location"]


# --- enumeration -------------------------------------------------------------------------------


def test_every_kind_of_address_gets_the_same_answer(db):
    UserFactory(username="x.inactive", email="inactive@clinic.example", is_active=False)
    unusable = UserFactory(username="x.unusable", email="unusable@clinic.example")
    unusable.set_unusable_password()
    unusable.save()
    UserFactory(username="x.known", email="known@clinic.example")
    patient = UserFactory(username="x.patient", email="")
    PatientFactory(user=patient, email="patient@home.example")

    def shape(email):
        answer = _ask(Client(), email)
        return (
            answer.status_code,
            answer.get("Location"),
            sorted(answer.headers),
            answer.content,
            sorted(answer.cookies),
        )

    unknown = shape("nobody@clinic.example")
    for email in ("inactive@clinic.example", "unusable@clinic.example", "known@clinic.example", "patient@home.example"):
        assert shape(email) == unknown, email


def test_the_new_pages_carry_no_store_and_csp(client, db):
    for path in (
        "/account/password/reset/",
        "/account/password/reset/sent/",
        "/account/password/reset/done/",
        "/account/password/reset/MQ/bad-token/",
    ):
        answer = client.get(path)
        assert answer.status_code == 200, path
        assert "no-store" in answer["Cache-Control"], path
        assert "Content-Security-Policy" in answer, path


# --- odd input -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "uidb64",
    ["!!!", "A" * 5000, "OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5", "AA", "LTE", "w6k", "%00", "MTIz\u00e9"],
)
def test_a_malformed_link_answers_no_longer_works(client, db, uidb64):
    answer = client.get(f"/account/password/reset/{uidb64}/abc-def/", follow=True)
    assert answer.status_code in (200, 404)


@pytest.mark.parametrize(
    "email",
    [
        "a" * 5000 + "@x.example",
        "pat@h\u00f4me.example",
        "p\u00e4t@home.example",
        "a@b",
        "x\x00@y.example",
        "",
        " " * 10,
        "a@[127.0.0.1]",
    ],
)
def test_odd_addresses_do_not_fail(client, db, email):
    answer = _ask(client, email)
    assert answer.status_code in (200, 302)


@pytest.mark.parametrize(
    "body",
    [
        b"email=%ED%A0%80@x.example",
        b"email=%FF%FE@x.example",
        b"email[]=a@b.example",
        b"email=a@b.example&email=c@d.example",
    ],
)
def test_undecodable_addresses_do_not_fail(client, db, body):
    answer = client.generic("POST", "/account/password/reset/", body, content_type="application/x-www-form-urlencoded")
    assert answer.status_code in (200, 302)


def test_a_non_ascii_contact_address_is_mailed(client, db):
    user = UserFactory(username="pat.idn", email="")
    PatientFactory(user=user, email="pat@h\u00f4me.example", email_confirmed="pat@h\u00f4me.example")
    assert _ask(client, "PAT@H\u00d4ME.example").status_code == 302
    assert [m.to for m in mail.outbox] == [["pat@h\u00f4me.example"]]
    mail.outbox[0].message().as_bytes()


def test_the_link_keeps_site_urls_path(client, db, settings):
    """Reminder links are SITE_URL + path; the reset link keeps only SITE_URL's host."""
    settings.SITE_URL = "https://clinic.example/infusion"
    UserFactory(username="nurse.path", email="nurse.path@clinic.example")
    _ask(client, "nurse.path@clinic.example")
    assert "https://clinic.example/infusion/account/password/reset/" in mail.outbox[0].body


def test_a_patient_cannot_take_over_another_patients_login_through_a_shared_contact_email(client, db):
    """Bob's chart carries Alice's address (a relative's, or a front-desk slip); Bob's login has its
    own address. Alice asking for her own reset must not get a link to Bob's login."""
    alice = UserFactory(username="alice.rv", email="alice.rv@mail.example")
    PatientFactory(user=alice, email="alice.rv@mail.example")
    bob = UserFactory(username="bob.rv", email="bob.rv@mail.example")
    PatientFactory(user=bob, email="alice.rv@mail.example")
    _ask(client, "alice.rv@mail.example")
    assert sorted('"bob.rv"' in m.body for m in mail.outbox) == [False], [m.body[:80] for m in mail.outbox]


def test_x_forwarded_for_does_not_reset_the_client_limit(client, db):
    from clinic.security.password_reset import RESET_LIMIT_PER_CLIENT

    answers = [
        _ask(client, f"p{n}@clinic.example", HTTP_X_FORWARDED_FOR=f"198.51.100.{n}").status_code
        for n in range(RESET_LIMIT_PER_CLIENT + 1)
    ]
    assert answers[-1] == 429


def test_a_login_that_must_have_a_second_factor_but_has_none_gets_no_link(client, db, settings):
    """Its owner enrols an authenticator at the next sign-in: after a reset, whoever holds the
    mailbox would enrol theirs, so the mailbox alone would open a prescriber's login. An
    administrator resets such a login; once an authenticator is enrolled, the link is mailed."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    settings.REQUIRE_2FA_ROLES = frozenset({Role.PRESCRIBER})
    site = SiteFactory()
    prescriber = StaffFactory(role=Role.PRESCRIBER, sites=[site], user=UserFactory(email="dr.lee@clinic.example"))
    _ask(client, "dr.lee@clinic.example")
    assert mail.outbox == []
    TOTPDevice.objects.create(user=prescriber.user, name="Authenticator app", confirmed=True)
    _ask(client, "dr.lee@clinic.example")
    assert len(mail.outbox) == 1
