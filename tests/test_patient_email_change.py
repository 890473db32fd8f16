"""A patient changes their own contact email in the portal: the address asked for is kept aside
(`email_requested`) and a link goes to it; the record keeps writing to the old address until the
patient opens that link, signed in, and confirms. Then the new address is the record's, confirmed,
and the old one is told of the change. The mailbox and the login are both needed: a link opened by
another patient, or one for an address asked for before another, changes nothing. A whole-row save
of the record (a desk's edit of the phone) does not drop the request."""

from __future__ import annotations

import pytest
from django.core import mail
from rest_framework.test import APIClient

from clinic.models import Role
from patients.models import Patient
from tests.factories import PatientFactory, StaffFactory, UserFactory
from tests.test_patient_email_confirmation import (  # noqa: F401  (the fixtures)
    ANCHOR,
    CONFIRM_LINK,
    CONFIRMATION,
    _confirm,
    _open,
    _reset_mailed,
    _signed_in,
    frozen,
    patient,
)

pytestmark = pytest.mark.django_db
NEW = "pat.new@mail.example"


def _ask_to_change(client, capture, address: str = NEW):
    mail.outbox.clear()
    with capture(execute=True):
        response = client.post("/me/email/change/", {"email": address})
    return response


def _the_link() -> str:
    (message,) = [m for m in mail.outbox if CONFIRM_LINK.search(m.body)]
    return CONFIRM_LINK.search(message.body).group(1)


def test_the_patient_changes_their_email_once_they_confirm_it_from_the_new_address(
    patient,  # noqa: F811
    django_capture_on_commit_callbacks,
):
    client = _signed_in(patient)
    assert _ask_to_change(client, django_capture_on_commit_callbacks).status_code == 302
    assert [m.to for m in mail.outbox] == [[NEW]]
    patient.refresh_from_db()
    assert (patient.email, patient.email_requested) == ("pat.confirm@home.example", NEW)
    assert b'data-testid="email-requested"' in client.get("/").content

    page = _open(client, _the_link())
    assert page.status_code == 200
    assert b"instead of pat.confirm@home.example" in page.content
    patient.refresh_from_db()
    assert patient.email == "pat.confirm@home.example"  # opening the link changes nothing
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(CONFIRMATION).status_code == 302
    patient.refresh_from_db()
    assert (patient.email, patient.email_requested) == (NEW, "")
    assert (patient.email_confirmed, patient.email_confirmed_at) == (NEW, ANCHOR)
    # The old address is told; a reset now reaches the new one.
    assert [m.to for m in mail.outbox] == [["pat.confirm@home.example"]]
    assert "was changed" in mail.outbox[0].subject
    assert _reset_mailed(NEW) == [[NEW]]
    reasons = list(patient.history.order_by("history_id").values_list("history_change_reason", flat=True))
    assert "Contact email changed by the patient, confirmed from the new address" in reasons


def test_a_patient_with_no_email_on_record_adds_one_the_same_way(frozen, django_capture_on_commit_callbacks):  # noqa: F811
    newcomer = PatientFactory(user=UserFactory(username="pat.none", email=""), email="")
    client = _signed_in(newcomer)
    assert _ask_to_change(client, django_capture_on_commit_callbacks).status_code == 302
    with django_capture_on_commit_callbacks(execute=True):
        assert _confirm(client, _the_link()).status_code == 302
    newcomer.refresh_from_db()
    assert (newcomer.email, newcomer.email_confirmed) == (NEW, NEW)


def test_the_address_on_record_or_a_malformed_one_is_refused_in_words(patient, django_capture_on_commit_callbacks):  # noqa: F811
    client = _signed_in(patient)
    same = _ask_to_change(client, django_capture_on_commit_callbacks, "PAT.CONFIRM@home.example")
    assert same.status_code == 400 and b"That is the address on your record already." in same.content
    bad = _ask_to_change(client, django_capture_on_commit_callbacks, "not an address")
    assert bad.status_code == 400 and b"Enter a valid email address." in bad.content
    assert mail.outbox == []
    patient.refresh_from_db()
    assert patient.email_requested == ""


def test_a_link_for_an_address_asked_for_before_another_changes_nothing(patient, django_capture_on_commit_callbacks):  # noqa: F811
    client = _signed_in(patient)
    _ask_to_change(client, django_capture_on_commit_callbacks, "first.try@mail.example")
    first = _the_link()
    _ask_to_change(client, django_capture_on_commit_callbacks)
    answer = _confirm(client, first)
    assert answer.status_code == 400
    assert b"You have asked for another address since this link was sent" in answer.content
    patient.refresh_from_db()
    assert (patient.email, patient.email_requested) == ("pat.confirm@home.example", NEW)


def test_a_change_link_opened_by_another_patient_changes_nothing(patient, django_capture_on_commit_callbacks):  # noqa: F811
    _ask_to_change(_signed_in(patient), django_capture_on_commit_callbacks)
    other = PatientFactory(user=UserFactory(username="pat.other"), email="other@home.example")
    answer = _confirm(_signed_in(other), _the_link())
    assert answer.status_code == 400
    for row in (patient, other):
        row.refresh_from_db()
    assert patient.email == "pat.confirm@home.example" and other.email == "other@home.example"


def test_a_desk_edit_of_the_record_keeps_the_patients_request(patient, django_capture_on_commit_callbacks):  # noqa: F811
    client = _signed_in(patient)
    _ask_to_change(client, django_capture_on_commit_callbacks)
    stale = Patient.objects.get(pk=patient.pk)
    Patient.objects.filter(pk=patient.pk).update(email_requested="")  # as read before the request...
    Patient.objects.filter(pk=patient.pk).update(email_requested=NEW)  # ...and the request since
    stale.email_requested = ""
    stale.escort_name = "Sam Driver"
    stale.save()  # a whole-row save of a copy read before the request
    desk = StaffFactory(role=Role.FRONT_DESK, sites=[patient.home_site])
    api = APIClient()
    api.force_authenticate(desk.user)
    assert api.patch(f"/api/v1/patients/{patient.pk}/", {"escort_name": "Sam"}, format="json").status_code == 200
    patient.refresh_from_db()
    assert patient.email_requested == NEW
    with django_capture_on_commit_callbacks(execute=True):
        assert _confirm(client, _the_link()).status_code == 302
    patient.refresh_from_db()
    assert patient.email == NEW
