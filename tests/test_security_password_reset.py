"""Self-service password reset by email (clinic/security/password_reset.py).

Rules: OWASP's Forgot Password Cheat Sheet: the same answer for a known and an unknown address;
a single-use, time-limited token; links not built from the Host header; requests limited. Django's
own rule (CVE-2019-19844): mail goes to the address on file, not the one typed. This clinic's:
a patient's login may carry no email, so the patient's contact email counts; a reset revokes API
tokens, signs other sessions out and clears the lockout (the mailbox was proven)."""

from __future__ import annotations

import datetime as dt
import re
from unittest import mock

import pytest
import time_machine
from django.core import mail
from django.http import HttpRequest
from django.test import Client
from knox.models import AuthToken

from clinic.security.password_reset import RESET_LIMIT_PER_CLIENT, RESET_LIMIT_PER_LOGIN
from tests.factories import PASSWORD, PatientFactory, UserFactory

NEW_PASSWORD = "violet-harbour-lantern-42"
LINK = re.compile(r"https?://[^/\s]+(/account/password/reset/[^/\s]+/[^/\s]+/)")


def _ask(client: Client, email: str, **extra):
    return client.post("/account/password/reset/", {"email": email}, **extra)


def _link(message) -> str:
    match = LINK.search(message.body)
    assert match, message.body
    return match.group(1)


def _set_password(client: Client, link: str, password: str = NEW_PASSWORD):
    page = client.get(link, follow=True)  # Django moves the token into the session first
    assert page.context["validlink"], page.content[:500]
    return client.post(page.redirect_chain[-1][0], {"new_password1": password, "new_password2": password})


def _signs_in(username: str, password: str) -> bool:
    return Client().login(request=HttpRequest(), username=username, password=password)


@pytest.fixture
def staff_user(db):
    return UserFactory(username="nurse.reset", email="Nurse.Reset@clinic.example")


def test_a_link_sets_a_new_password_once(client, staff_user):
    response = _ask(client, "nurse.reset@clinic.example")
    assert response.status_code == 302 and response["Location"] == "/account/password/reset/sent/"
    assert len(mail.outbox) == 1
    link = _link(mail.outbox[0])

    done = _set_password(client, link)

    assert done.status_code == 302 and done["Location"] == "/account/password/reset/done/"
    assert _signs_in("nurse.reset", NEW_PASSWORD)
    assert not _signs_in("nurse.reset", PASSWORD)
    again = Client().get(link, follow=True)
    assert again.context["validlink"] is False
    assert "no longer works" in again.content.decode()


def test_known_and_unknown_addresses_get_the_same_answer_and_only_the_known_one_mail(client, staff_user):
    known = _ask(client, "nurse.reset@clinic.example")
    unknown = _ask(Client(), "nobody@clinic.example")
    assert (known.status_code, known["Location"]) == (unknown.status_code, unknown["Location"])
    assert [message.to for message in mail.outbox] == [["Nurse.Reset@clinic.example"]]


def test_the_mail_goes_to_the_address_on_file_as_stored(client, staff_user):
    _ask(client, "NURSE.RESET@CLINIC.EXAMPLE")
    assert mail.outbox[0].to == ["Nurse.Reset@clinic.example"]


def test_a_patient_whose_login_has_no_email_is_reached_at_their_contact_email(client, db):
    user = UserFactory(username="pat.reset", email="")
    PatientFactory(user=user, email="pat@home.example", email_confirmed="pat@home.example")
    _ask(client, "pat@home.example")
    assert [message.to for message in mail.outbox] == [["pat@home.example"]]
    assert "pat.reset" in mail.outbox[0].body


def test_the_link_is_built_on_site_url_not_the_requests_host(client, staff_user, settings):
    settings.ALLOWED_HOSTS = ["*"]
    settings.SITE_URL = "https://clinic.example"
    _ask(client, "nurse.reset@clinic.example", HTTP_HOST="attacker.example")
    assert "https://clinic.example/account/password/reset/" in mail.outbox[0].body
    assert "attacker.example" not in mail.outbox[0].body


def test_an_inactive_login_gets_no_link(client, db):
    UserFactory(username="gone", email="gone@clinic.example", is_active=False)
    _ask(client, "gone@clinic.example")
    assert mail.outbox == []


def test_the_address_is_not_put_in_the_task_queue(client, staff_user):
    with mock.patch("clinic.security.tasks.password_reset_send.delay") as delay:
        _ask(client, "nurse.reset@clinic.example")
        _ask(client, "nobody@clinic.example")
    assert delay.call_count == 2, "queued for an unknown address too, so both answers take as long"
    for call in delay.call_args_list:
        assert "clinic.example" not in repr(call)
    assert delay.call_args_list[0].args[0] == [(staff_user.pk, "own")]
    assert delay.call_args_list[1].args[0] == []


def test_the_link_lapses_after_an_hour(client, staff_user):
    start = dt.datetime(2026, 3, 8, 6, 30, tzinfo=dt.UTC)  # the US clocks change this morning
    with time_machine.travel(start, tick=False):
        _ask(client, "nurse.reset@clinic.example")
    link = _link(mail.outbox[0])
    with time_machine.travel(start + dt.timedelta(minutes=59), tick=False):
        assert Client().get(link, follow=True).context["validlink"] is True
    with time_machine.travel(start + dt.timedelta(minutes=61), tick=False):
        assert Client().get(link, follow=True).context["validlink"] is False


def test_a_reset_revokes_api_tokens_and_clears_the_lockout(client, staff_user, settings):
    AuthToken.objects.create(staff_user)
    for _ in range(settings.AXES_FAILURE_LIMIT):
        _signs_in("nurse.reset", "wrong-password")
    assert not _signs_in("nurse.reset", PASSWORD), "locked out"
    _ask(client, "nurse.reset@clinic.example")

    _set_password(client, _link(mail.outbox[0]))

    assert not AuthToken.objects.filter(user=staff_user).exists()
    assert _signs_in("nurse.reset", NEW_PASSWORD)


def test_the_new_password_must_pass_the_sites_rules(client, staff_user):
    _ask(client, "nurse.reset@clinic.example")
    refused = _set_password(client, _link(mail.outbox[0]), password="12345678")
    assert refused.status_code == 200
    assert refused.context["form"].errors
    assert _signs_in("nurse.reset", PASSWORD)


def test_one_login_gets_at_most_the_hours_limit_of_links(client, staff_user):
    for _ in range(RESET_LIMIT_PER_LOGIN + 2):
        assert _ask(client, "nurse.reset@clinic.example").status_code == 302
    assert len(mail.outbox) == RESET_LIMIT_PER_LOGIN


def test_one_client_is_refused_past_the_hours_limit(client, db):
    answers = [_ask(client, f"person{n}@clinic.example").status_code for n in range(RESET_LIMIT_PER_CLIENT + 1)]
    assert answers[:-1] == [302] * RESET_LIMIT_PER_CLIENT
    assert answers[-1] == 429


def test_the_login_page_offers_the_reset(client, db):
    assert 'href="/account/password/reset/"' in client.get("/login/").content.decode()


EMBEDDED = r"""
import json, re
from django.test.utils import setup_test_environment
setup_test_environment()  # mail to django.core.mail.outbox
from django.core import mail
from django.http import HttpRequest
from django.test import Client
from tests.factories import PatientFactory, UserFactory
user = UserFactory(username="pat.embedded", email="")
PatientFactory(user=user, email="Ed@Example.org")
# First the patient, signed in, confirms the chart's contact email from the portal.
portal = Client()
portal.force_login(user)
portal.post("/me/email/confirm/")
confirm = re.search(r"https?://[^/\s]+(/me/email/confirm/\S+/)", mail.outbox[-1].body).group(1)
portal.get(confirm)  # keeps the link's token in the session, on to the confirmation page
confirmed = portal.post("/me/email/confirmation/").status_code
mail.outbox.clear()
client = Client()
asked = client.post("/account/password/reset/", {"email": "ed@EXAMPLE.org"})
link = re.search(r"https?://[^/\s]+(/account/password/reset/\S+/)", mail.outbox[0].body).group(1)
page = client.get(link, follow=True)
new = "violet-harbour-lantern-42"
done = client.post(page.redirect_chain[-1][0], {"new_password1": new, "new_password2": new})
signed_in = Client().login(request=HttpRequest(), username="pat.embedded", password=new)
print("RESULT", json.dumps({"confirmed": confirmed, "asked": asked.status_code, "to": mail.outbox[0].to,
                            "done": done.status_code, "signed_in": signed_in}))
"""


def test_a_patient_resets_their_password_on_the_embedded_default(tmp_path, tmp_path_factory):
    """On SQLite, with the tasks run where they are queued (the embedded worker's job), as on
    PostgreSQL: the patient confirms the chart's contact email from the portal, then resets there."""
    from tests.sqlite_shell import run_on_sqlite

    result = run_on_sqlite(tmp_path, tmp_path_factory, EMBEDDED, CELERY_TASK_ALWAYS_EAGER="true")
    assert result == {"confirmed": 302, "asked": 302, "to": ["Ed@Example.org"], "done": 302, "signed_in": True}
