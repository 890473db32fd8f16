"""The patient confirms the contact email on their chart.

The front desk (or the EHR, or an administrator) types a chart's contact email, and for a portal
login with no email of its own that address is where a password reset goes
(clinic.security.password_reset). Typed by someone else, it would let them take the login over.
So the reset goes there only once the patient has confirmed it: from the portal, the patient asks
for a link; it is mailed to the address; opened while signed in as that patient, it records the
address as confirmed. Both halves are needed: the mailbox (the link) and the login (the session).
Whoever changes `email` afterwards makes it unconfirmed again, until the patient confirms anew.

The patient may also ask, in the portal, for another address (`email_change_request`): it is kept
as `email_requested`, and the link goes to that address. Confirmed the same way (the new mailbox
and the login), it becomes the chart's `email`, confirmed; the old address is told of the change
(patients/notices.py), as for any change. Until then the clinic writes to the old address.

The link is signed (django.core.signing with the SECRET_KEY), names the patient and a digest of
the address, and lapses after CONFIRM_MAX_AGE or once the chart's address is another. The broker
carries the patient's id, never the address."""

from __future__ import annotations

import datetime as dt
import hashlib
import logging

from django.conf import settings
from django.core import signing
from django.core.mail import EmailMessage
from django.db import transaction
from django.urls import reverse

from clinic.errors import InvalidInput, InvalidState
from clinic.security.password_reset import hourly_count_allows
from clinic.validators import same_address, upper_by_letter
from patients.models import Patient

log = logging.getLogger(__name__)

CONFIRM_MAX_AGE = dt.timedelta(days=3)
# Links a patient may ask for in an hour: enough for a typo'd attempt or two, not a flood.
LINKS_PER_HOUR = 3
_SALT = "patients.email_confirmation"

SUBJECT = "Confirm your email address for the clinic"
BODY = (
    "Hello {first_name},\n\n"
    "To confirm that this is your email address, open this link and sign in to the clinic's "
    "patient portal:\n\n{link}\n\n"
    "The link works for {days} days. If you did not ask for it, you can ignore this email.\n"
)


def link_may_be_sent(patient: Patient) -> bool:
    """Count one more link asked for by `patient` this hour; False past LINKS_PER_HOUR."""
    return hourly_count_allows(f"email-confirmation:patient:{patient.pk}", LINKS_PER_HOUR)


def _address_digest(address: str) -> str:
    """The address in the link, as a digest: the link's path reaches logs (a sign-in's `next`)."""
    return hashlib.sha256(upper_by_letter(address.strip()).encode()).hexdigest()[:24]


def confirmation_token(patient: Patient) -> str:
    return signing.dumps({"p": patient.pk, "e": _address_digest(patient.email)}, salt=_SALT)


def change_token(patient: Patient) -> str:
    """The link for the address the patient asked to use instead (`email_requested`)."""
    return signing.dumps({"p": patient.pk, "e": _address_digest(patient.email_requested), "c": 1}, salt=_SALT)


CHANGE_SUBJECT = "Confirm your new email address for the clinic"
CHANGE_BODY = (
    "Hello {first_name},\n\n"
    "You asked the clinic to write to this address from now on. To confirm it, open this link and "
    "sign in to the clinic's patient portal:\n\n{link}\n\n"
    "The link works for {days} days. Until you confirm, the clinic keeps writing to the address it "
    "had. If you did not ask for this, you can ignore this email.\n"
)


def email_change_request(*, patient: Patient, address: str) -> str:
    """Keep `address` as the one the patient asked to use instead of the chart's (the caller queues
    the link to it, patients.tasks.email_change_link_send, on commit). InvalidInput when it is the
    chart's already."""
    address = address.strip()
    if same_address(address, patient.email):
        raise InvalidInput("That is the address on your record already.", details={"field": "email"})
    with transaction.atomic():
        locked = Patient.objects.select_for_update().get(pk=patient.pk)
        locked.email_requested = address
        locked._change_reason = "The patient asked to use another email address (not confirmed yet)"  # type: ignore[attr-defined]
        locked.save(update_fields=["email_requested"])
    patient.email_requested = address
    return address


def change_link_send(*, patient_id: int) -> bool:
    """Mail the link that confirms the address the patient asked for, to that address; False when
    they asked for none (or took it back)."""
    patient = Patient.objects.filter(pk=patient_id).first()
    if patient is None or not patient.email_requested:
        return False
    _mail_link(patient, patient.email_requested, change_token(patient), CHANGE_SUBJECT, CHANGE_BODY)
    log.info("Email change link sent for patient %s", patient.pk)
    return True


def _mail_link(patient: Patient, address: str, token: str, subject: str, body: str) -> None:
    link = settings.SITE_URL + reverse("web:portal-email-confirm", args=[token])
    text = body.format(first_name=patient.first_name, link=link, days=CONFIRM_MAX_AGE.days)
    EmailMessage(subject, text, settings.DEFAULT_FROM_EMAIL, [address]).send()


def confirmation_link_send(*, patient_id: int) -> bool:
    """Mail the patient a link to confirm the address on the chart now; False when there is none
    or it is confirmed already."""
    patient = Patient.objects.filter(pk=patient_id).first()
    if patient is None or not patient.email or patient.email_is_confirmed:
        return False
    _mail_link(patient, patient.email, confirmation_token(patient), SUBJECT, BODY)
    log.info("Email confirmation link sent for patient %s", patient.pk)
    return True


def confirmation_address(token: str, patient: Patient) -> str:
    """The address `token` confirms for `patient`; InvalidState when the link is not this patient's,
    has lapsed, or names an address the chart no longer has."""
    try:
        data = signing.loads(token, salt=_SALT, max_age=CONFIRM_MAX_AGE)
    except signing.SignatureExpired as exc:
        raise InvalidState("This link has lapsed. Ask for a new one below.") from exc
    except signing.BadSignature as exc:
        raise InvalidState("This link is not one of ours.") from exc
    if not isinstance(data, dict) or data.get("p") != patient.pk:
        raise InvalidState("This link was sent to another patient. Sign in as the patient it was sent to.")
    if data.get("c"):
        if not patient.email_requested or data.get("e") != _address_digest(patient.email_requested):
            raise InvalidState(
                "You have asked for another address since this link was sent, or it is in use already. "
                "Ask for a new link below."
            )
        return patient.email_requested
    if not patient.email or data.get("e") != _address_digest(patient.email):
        raise InvalidState(
            "The email address on your record has changed since this link was sent. Ask for a new one below."
        )
    return patient.email


def email_confirm(*, patient: Patient, token: str, now: dt.datetime) -> str:
    """Record the address `token` names as confirmed by `patient` (signed in), with the row locked
    so that an address changed at the same moment is not confirmed in its stead."""
    with transaction.atomic():
        locked = Patient.objects.select_for_update().get(pk=patient.pk)
        address = confirmation_address(token, locked)
        if not same_address(address, locked.email):
            # The address they asked for, from its mailbox: now the chart's (the old one is told).
            locked.email, locked.email_requested = address, ""
            locked._change_reason = "Contact email changed by the patient, confirmed from the new address"  # type: ignore[attr-defined]
            locked.save(update_fields=["email", "email_requested"])
            patient.email, patient.email_requested = address, ""
        locked.email_confirmed = locked.email
        locked.email_confirmed_at = now
        locked._change_reason = "Contact email confirmed by the patient"  # type: ignore[attr-defined]
        locked.save(update_fields=["email_confirmed", "email_confirmed_at"])
    patient.email_confirmed, patient.email_confirmed_at = locked.email_confirmed, now
    return address
