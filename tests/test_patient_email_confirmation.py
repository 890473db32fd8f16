"""The patient confirms the chart's contact email (patients/email_confirmation.py), and only then does
a password reset reach a portal login with no email of its own there. The front desk types that
address: before this rule, a desk member (or a caller the desk believed) could put their own
address on a chart and reset the patient's portal login. The confirmation is written by the
confirmation alone: a save of the whole chart (a desk's edit of the phone) leaves it as it is, and
a changed address (not only its case) clears it, so an old address put back is unconfirmed.

The link confirms only for the patient it was sent to, signed in, by a POST (a mail scanner opening
it confirms nothing), within CONFIRM_MAX_AGE, and while the chart still has that address. The link
keeps its token in the session and goes on to /me/email/confirmation/, so a sign-in on the way
(its `next`) and the access log never hold the token. A changed
address is unconfirmed again; a change of case only is the same address."""

from __future__ import annotations

import base64
import datetime as dt
import re
from urllib.parse import unquote

import pytest
import time_machine
from django.core import mail
from django.test import Client
from rest_framework.test import APIClient

from clinic.models import AccessLog, Role
from patients.email_confirmation import CONFIRM_MAX_AGE, LINKS_PER_HOUR, confirmation_token, email_confirm
from patients.models import Patient
from tests.at_once import at_once
from tests.factories import PatientFactory, SiteFactory, StaffFactory, UserFactory

pytestmark = pytest.mark.django_db

CONFIRM_LINK = re.compile(r"https?://[^/\s]+(/me/email/confirm/[^/\s]+/)")
RESET_LINK = re.compile(r"/account/password/reset/[^/\s]+/[^/\s]+/")
ANCHOR = dt.datetime(2026, 3, 2, 9, tzinfo=dt.UTC)


@pytest.fixture
def frozen():
    with time_machine.travel(ANCHOR, tick=False) as traveller:
        yield traveller


@pytest.fixture
def patient(frozen):
    """A portal login with no email of its own; the chart's contact email is the patient's."""
    user = UserFactory(username="pat.confirm", email="")
    return PatientFactory(user=user, email="pat.confirm@home.example", first_name="Pat")


def _signed_in(patient: Patient) -> Client:
    client = Client()
    client.force_login(patient.user)
    return client


def _ask_for_link(client: Client, capture) -> str:
    """Ask from the portal; the confirmation link mailed (the task run once the request commits)."""
    mail.outbox.clear()
    with capture(execute=True):
        response = client.post("/me/email/confirm/")
    assert response.status_code == 302
    assert len(mail.outbox) == 1, [m.subject for m in mail.outbox]
    return CONFIRM_LINK.search(mail.outbox[0].body).group(1)


CONFIRMATION = "/me/email/confirmation/"


def _open(client: Client, link: str):
    """Open the mailed link: it keeps the token in the session and goes on to the confirmation page."""
    response = client.get(link)
    assert response.status_code == 302 and response["Location"] == CONFIRMATION, response
    return client.get(CONFIRMATION)


def _confirm(client: Client, link: str):
    """Open the link, then press the confirmation page's button."""
    _open(client, link)
    return client.post(CONFIRMATION)


def _reset_mailed(email: str) -> list[list[str]]:
    mail.outbox.clear()
    Client().post("/account/password/reset/", {"email": email})
    return [m.to for m in mail.outbox if RESET_LINK.search(m.body)]


def _desk_changes_email(patient: Patient, email: str, capture) -> None:
    desk = StaffFactory(role=Role.FRONT_DESK, sites=[patient.home_site])
    api = APIClient()
    api.force_authenticate(desk.user)
    with capture(execute=True):
        response = api.patch(f"/api/v1/patients/{patient.pk}/", {"email": email}, format="json")
    assert response.status_code == 200, response.content[:300]


def test_an_unconfirmed_contact_email_gets_no_reset_link(patient):
    assert _reset_mailed("pat.confirm@home.example") == []


def test_the_patient_confirms_from_the_portal_and_then_the_reset_reaches_them(
    patient, django_capture_on_commit_callbacks
):
    client = _signed_in(patient)
    home = client.get("/")
    assert b'data-testid="email-unconfirmed"' in home.content
    link = _ask_for_link(client, django_capture_on_commit_callbacks)
    assert mail.outbox[0].to == ["pat.confirm@home.example"]

    page = _open(client, link)
    assert page.status_code == 200 and b"pat.confirm@home.example" in page.content
    patient.refresh_from_db()
    assert patient.email_confirmed == ""  # opening the link confirms nothing
    assert client.post(CONFIRMATION).status_code == 302
    patient.refresh_from_db()
    assert patient.email_confirmed == "pat.confirm@home.example"
    assert patient.email_confirmed_at == ANCHOR
    assert b'data-testid="email-confirmed"' in client.get("/").content

    assert _reset_mailed("PAT.CONFIRM@home.example") == [["pat.confirm@home.example"]]


def test_an_address_the_desk_changes_is_unconfirmed_again(patient, django_capture_on_commit_callbacks):
    Patient.objects.filter(pk=patient.pk).update(email_confirmed=patient.email)
    assert _reset_mailed("pat.confirm@home.example") == [["pat.confirm@home.example"]]
    _desk_changes_email(patient, "desk.member@mail.example", django_capture_on_commit_callbacks)
    assert _reset_mailed("desk.member@mail.example") == []
    patient.refresh_from_db()
    assert (patient.email_confirmed, patient.email_confirmed_at) == ("", None)


def test_an_old_address_put_back_is_unconfirmed_until_the_patient_confirms_it_anew(
    patient, django_capture_on_commit_callbacks
):
    """The patient confirmed an address, then had the clinic replace it (a lost or shared mailbox):
    whoever types the chart's email putting the old one back must not make it a reset channel again."""
    _confirm(_signed_in(patient), _ask_for_link(_signed_in(patient), django_capture_on_commit_callbacks))
    _desk_changes_email(patient, "pat.new@home.example", django_capture_on_commit_callbacks)
    _desk_changes_email(patient, "pat.confirm@home.example", django_capture_on_commit_callbacks)
    patient.refresh_from_db()
    assert not patient.email_is_confirmed
    assert _reset_mailed("pat.confirm@home.example") == []


def test_a_change_of_case_only_stays_confirmed(patient, django_capture_on_commit_callbacks):
    Patient.objects.filter(pk=patient.pk).update(email_confirmed=patient.email)
    _desk_changes_email(patient, "Pat.Confirm@Home.example", django_capture_on_commit_callbacks)
    assert _reset_mailed("pat.confirm@home.example") == [["Pat.Confirm@Home.example"]]


def test_a_link_for_an_address_changed_since_confirms_nothing(patient, django_capture_on_commit_callbacks):
    client = _signed_in(patient)
    link = _ask_for_link(client, django_capture_on_commit_callbacks)
    _desk_changes_email(patient, "desk.member@mail.example", django_capture_on_commit_callbacks)
    response = _confirm(client, link)
    assert response.status_code == 400
    assert b"has changed since this link was sent" in response.content
    patient.refresh_from_db()
    assert patient.email_confirmed == ""


def test_a_link_opened_by_another_patient_confirms_nothing(patient, django_capture_on_commit_callbacks):
    link = _ask_for_link(_signed_in(patient), django_capture_on_commit_callbacks)
    other = PatientFactory(user=UserFactory(username="other.pat", email=""), email="pat.confirm@home.example")
    response = _confirm(_signed_in(other), link)
    assert response.status_code == 400
    assert b"sent to another patient" in response.content
    assert set(Patient.objects.values_list("email_confirmed", flat=True)) == {""}


def test_a_link_needs_the_patients_session_and_the_sign_in_page_never_sees_the_token(
    patient, django_capture_on_commit_callbacks
):
    link = _ask_for_link(_signed_in(patient), django_capture_on_commit_callbacks)
    token = link.rstrip("/").rpartition("/")[2]
    browser = Client()
    assert browser.get(link)["Location"] == CONFIRMATION
    to_login = browser.get(CONFIRMATION)
    assert to_login.status_code == 302 and to_login["Location"].startswith("/login/?next=")
    assert token not in unquote(to_login["Location"])
    assert browser.post(CONFIRMATION).status_code == 302  # to the sign-in page again
    staff = StaffFactory(role=Role.FRONT_DESK, sites=[patient.home_site])
    desk = Client()
    desk.force_login(staff.user)
    desk.get(link)
    assert desk.post(CONFIRMATION).status_code == 403
    patient.refresh_from_db()
    assert patient.email_confirmed == ""
    # Signed in on the way, the patient lands on the confirmation page with the link's token kept.
    browser.force_login(patient.user)
    assert browser.post(CONFIRMATION).status_code == 302
    patient.refresh_from_db()
    assert patient.email_is_confirmed
    assert not [path for path in AccessLog.objects.values_list("path", flat=True) if token in unquote(path)]


def test_a_lapsed_link_confirms_nothing(patient, frozen, django_capture_on_commit_callbacks):
    client = _signed_in(patient)
    link = _ask_for_link(client, django_capture_on_commit_callbacks)
    frozen.shift(CONFIRM_MAX_AGE + dt.timedelta(minutes=1))
    client = _signed_in(patient)
    response = _confirm(client, link)
    assert response.status_code == 400 and b"lapsed" in response.content
    patient.refresh_from_db()
    assert patient.email_confirmed == ""


def test_a_forged_or_altered_link_confirms_nothing(patient, django_capture_on_commit_callbacks):
    client = _signed_in(patient)
    link = _ask_for_link(client, django_capture_on_commit_callbacks)
    altered = link[:-3] + ("A" if link[-3] != "A" else "B") + link[-2:]
    assert _confirm(client, altered).status_code == 400
    assert _confirm(client, "/me/email/confirm/not-a-token/").status_code == 400
    patient.refresh_from_db()
    assert patient.email_confirmed == ""


def test_links_asked_for_are_limited_per_hour(patient, django_capture_on_commit_callbacks):
    client = _signed_in(patient)
    for _ in range(LINKS_PER_HOUR):
        _ask_for_link(client, django_capture_on_commit_callbacks)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/me/email/confirm/", follow=True)
    assert mail.outbox == []
    assert b"several links in the last hour" in response.content


def test_the_link_does_not_show_the_address(patient, django_capture_on_commit_callbacks):
    """A link's path reaches logs (the sign-in page's `next`): it carries a digest of the address."""
    link = _ask_for_link(_signed_in(patient), django_capture_on_commit_callbacks)
    token = link.rstrip("/").rpartition("/")[2]
    opened = base64.urlsafe_b64decode(token.partition(":")[0] + "==")
    assert b"pat.confirm" not in opened and b"home.example" not in opened


def test_the_access_log_keeps_no_link_token(patient, django_capture_on_commit_callbacks):
    client = _signed_in(patient)
    link = _ask_for_link(client, django_capture_on_commit_callbacks)
    token = link.rstrip("/").rpartition("/")[2]
    _confirm(client, link)
    paths = list(AccessLog.objects.values_list("path", flat=True))
    assert "/me/email/confirm/[token]/" in paths
    assert not [path for path in paths if token in path]


def test_nothing_is_sent_for_a_confirmed_address_or_none(patient, django_capture_on_commit_callbacks):
    Patient.objects.filter(pk=patient.pk).update(email_confirmed=patient.email)
    client = _signed_in(patient)
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/me/email/confirm/")
    none = PatientFactory(user=UserFactory(username="no.mail", email=""), email="", home_site=SiteFactory())
    with django_capture_on_commit_callbacks(execute=True):
        _signed_in(none).post("/me/email/confirm/")
    assert mail.outbox == []


def test_the_desk_sees_whether_the_patient_confirmed_the_address(patient):
    desk = Client()
    desk.force_login(StaffFactory(role=Role.FRONT_DESK, sites=[patient.home_site]).user)
    chart = desk.get(f"/patients/{patient.pk}/")
    assert b"(not confirmed by the patient)" in chart.content
    Patient.objects.filter(pk=patient.pk).update(email_confirmed=patient.email.upper())
    assert b"(confirmed by the patient)" in desk.get(f"/patients/{patient.pk}/").content


@pytest.mark.django_db(transaction=True)
def test_a_desk_edit_of_the_phone_while_the_patient_confirms_keeps_the_confirmation(monkeypatch):
    """The API's PATCH (no If-Match) reads the chart unlocked and saves the whole row: it wrote back
    the empty confirmation it had read while the patient confirmed in between, and its history row
    said so too. A save of the whole row leaves the confirmation as stored, and its copy (and
    history row) says what the row keeps; the stored row is read locked to the save's commit."""
    with time_machine.travel(ANCHOR, tick=False):
        patient = PatientFactory(user=UserFactory(username="pat.race", email=""), email="pat.race@home.example")
        token = confirmation_token(patient)
        desk = StaffFactory(role=Role.FRONT_DESK, sites=[patient.home_site])
        api = APIClient()
        api.force_authenticate(desk.user)

        def patient_confirms() -> None:
            email_confirm(patient=Patient.objects.get(pk=patient.pk), token=token, now=ANCHOR)

        fired: list[object] = []
        save = Patient.save

        def save_after_the_patient_confirmed(self, *args, **kwargs):
            if self.pk == patient.pk and not fired:  # the PATCH has read the row: the patient confirms
                fired.append("confirming")  # (the confirmation's own save comes through here too)
                fired.extend(at_once(patient_confirms))
            return save(self, *args, **kwargs)

        monkeypatch.setattr(Patient, "save", save_after_the_patient_confirmed)
        response = api.patch(f"/api/v1/patients/{patient.pk}/", {"mobile_phone": "+12025550143"}, format="json")
    assert response.status_code == 200, response.content[:300]
    assert fired == ["confirming", None]  # None: it returned, no exception
    patient.refresh_from_db()
    assert str(patient.mobile_phone) == "+12025550143"
    assert (patient.email_confirmed, patient.email_confirmed_at) == ("pat.race@home.example", ANCHOR)
    change = Patient.history.filter(id=patient.pk).order_by("-history_id").first()
    assert (str(change.mobile_phone), change.email_confirmed) == ("+12025550143", "pat.race@home.example")


def test_a_whole_row_save_of_a_copy_read_while_confirmed_keeps_the_row_unconfirmed_and_says_so(patient):
    """A copy read while the address was confirmed, saved after the desk changed the address and put
    it back (which clears it): the row stays unconfirmed, and its history row does not claim a
    confirmation either."""
    Patient.objects.filter(pk=patient.pk).update(email_confirmed=patient.email, email_confirmed_at=ANCHOR)
    stale = Patient.objects.get(pk=patient.pk)
    other = Patient.objects.get(pk=patient.pk)
    for address in ("someone.else@mail.example", patient.email):
        other.email = address
        other.save(update_fields=["email", "updated_at"])
    stale.escort_name = "Sam"
    stale.save()
    patient.refresh_from_db()
    change = Patient.history.filter(id=patient.pk).order_by("-history_id").first()
    assert (patient.email_confirmed, change.email_confirmed, change.escort_name) == ("", "", "Sam")


@pytest.mark.parametrize("token", [":", "::", ".", "-", "a" * 400, "a:b:c", ".eJw:abc:def", "A" * 399 + ":"])
def test_odd_tokens_are_a_400_never_a_500(patient, token):
    client = _signed_in(patient)
    assert _open(client, f"/me/email/confirm/{token}/").status_code == 400
    assert client.post(CONFIRMATION).status_code == 400
    patient.refresh_from_db()
    assert patient.email_confirmed == ""


def test_the_api_cannot_write_the_confirmation(patient):
    desk = StaffFactory(role=Role.FRONT_DESK, sites=[patient.home_site])
    api = APIClient()
    api.force_authenticate(desk.user)
    api.patch(
        f"/api/v1/patients/{patient.pk}/",
        {"email": "desk@mail.example", "email_confirmed": "desk@mail.example"},
        format="json",
    )
    patient.refresh_from_db()
    assert patient.email_confirmed == ""
    assert _reset_mailed("desk@mail.example") == []


def test_reverting_to_a_confirmed_version_of_the_chart_does_not_confirm_it(patient, django_capture_on_commit_callbacks):
    """History's "Revert" (the admin) saves a copy of an older version, its confirmation included:
    the address it puts back is unconfirmed, as when anyone types it."""
    _confirm(_signed_in(patient), _ask_for_link(_signed_in(patient), django_capture_on_commit_callbacks))
    confirmed_version = patient.history.order_by("-history_id").first()
    assert confirmed_version.email_confirmed == "pat.confirm@home.example"
    _desk_changes_email(patient, "pat.new@home.example", django_capture_on_commit_callbacks)
    confirmed_version.instance.save()  # what the Revert page does with the version it shows
    patient.refresh_from_db()
    assert patient.email == "pat.confirm@home.example"
    assert not patient.email_is_confirmed
    assert _reset_mailed("pat.confirm@home.example") == []


def test_the_portal_speaks_of_password_resets_only_when_the_address_would_take_them(patient):
    """A login with an email of its own has its resets mailed there, whatever the chart holds."""
    assert b"if you forget your password" in _signed_in(patient).get("/").content
    own = PatientFactory(user=UserFactory(username="pat.own", email="pat.own@mail.example"), email="c@home.example")
    page = _signed_in(own).get("/").content
    assert b"if you forget your password" not in page and b"the clinic knows it reaches you" in page


def test_an_address_that_differs_by_more_than_case_for_the_database_is_unconfirmed(
    patient, django_capture_on_commit_callbacks
):
    """Addresses at "straße." and at "strasse." are two mailboxes, and the database's case-insensitive
    match tells them apart: Python's casefold did not, so the desk's change kept the confirmation
    and a reset for the new address went out."""
    Patient.objects.filter(pk=patient.pk).update(email="pat@straße.example", email_confirmed="pat@straße.example")
    _desk_changes_email(patient, "pat@strasse.example", django_capture_on_commit_callbacks)
    patient.refresh_from_db()
    assert not patient.email_is_confirmed
    assert _reset_mailed("pat@strasse.example") == []
