"""A patient's contact email changed (by the desk, the EHR, an administrator) is told to the
address it had (patients/notices.py, patients/tasks.py): the address reaches their reminders and,
for a portal login without an email of its own, its password reset, so a change the patient did
not ask for must not go unseen. Only after the change commits; the broker carries a history id,
never an address; the same address in another case, a first address, or none before, is no change
to tell."""

from __future__ import annotations

from unittest import mock

import pytest
from django.core import mail
from django.db import transaction

from patients.models import Patient
from patients.services import patient_update
from tests.factories import PatientFactory

V1 = "/api/v1"


def _patch_email(world, email: str):
    patient = world.appointment_b.patient
    return world.client("front_desk").patch(f"{V1}/patients/{patient.pk}/", {"email": email}, format="json")


def test_a_changed_email_is_told_to_the_old_address_once_committed(world, django_capture_on_commit_callbacks):
    patient = world.appointment_b.patient
    old = patient.email
    assert old
    with django_capture_on_commit_callbacks(execute=True):
        response = _patch_email(world, "new.address@example.org")
    assert response.status_code == 200, response.content[:300]
    assert [message.to for message in mail.outbox] == [[old]]
    assert "changed" in mail.outbox[0].subject
    assert "new.address@example.org" not in mail.outbox[0].body


def test_the_broker_gets_a_history_id_not_an_address(world, django_capture_on_commit_callbacks):
    with (
        mock.patch("patients.notices.email_change_notice_send.delay") as delay,
        django_capture_on_commit_callbacks(execute=True),
    ):
        _patch_email(world, "new.address@example.org")
    assert delay.call_count == 1
    (history_id,) = delay.call_args.args
    assert isinstance(history_id, int)
    assert Patient.history.get(history_id=history_id).email == "new.address@example.org"


@pytest.mark.parametrize("email", ["SAME", ""])
def test_the_same_address_in_another_case_is_no_change_and_removing_it_tells_the_old_one(
    world, django_capture_on_commit_callbacks, email
):
    patient = world.appointment_b.patient
    old = patient.email
    new = old.upper() if email == "SAME" else ""
    with django_capture_on_commit_callbacks(execute=True):
        patient_update(patient=patient, actor=world.users["front_desk"], fields={"email": new})
    assert [message.to for message in mail.outbox] == ([] if email == "SAME" else [[old]])


def test_a_first_address_and_a_new_patient_tell_nobody(db, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        patient = PatientFactory(email="")
        patient.email = "first@example.org"
        patient.save()
    assert mail.outbox == []


def test_a_change_rolled_back_tells_nobody(world, django_capture_on_commit_callbacks):
    patient = world.appointment_b.patient
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError), transaction.atomic():
        patient.email = "new.address@example.org"
        patient.save()
        raise RuntimeError("the request failed after the save")
    assert mail.outbox == []
