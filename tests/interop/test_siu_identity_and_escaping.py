"""SIU output: patient identity in PID-3 and escaping of free text, checked with hl7apy and hl7."""

from __future__ import annotations

import datetime as dt

import hl7
import pytest
from hl7apy.consts import VALIDATION_LEVEL
from hl7apy.parser import parse_message

from interop.models import SiuMessage
from scheduling import services
from tests.factories import PatientFactory
from tests.scheduling.conftest import NOW

pytestmark = pytest.mark.django_db


def _book(feed, patient, hour):
    clinic = feed.clinic
    return services.appointment_book(
        patient=patient,
        site=clinic.site,
        starts_at=dt.datetime(2026, 3, 3, hour, tzinfo=dt.UTC),
        actor=clinic.front_desk.user,
        now=NOW,
    )


def _pid3(appointment):
    pid = hl7.parse(SiuMessage.objects.get(appointment=appointment, event="S12").payload).segment("PID")
    return str(pid[3][0][0]), str(pid[3][0][3]), str(pid[3][0][4])


def test_two_different_patients_never_share_an_mrn_in_pid_3(feed):
    site = feed.clinic.site
    # A patient registered without an MRN (allowed: Patient.mrn is optional) ...
    no_mrn = PatientFactory(home_site=site, first_name="Nora", last_name="Nomrn", mrn=None)
    # ... and another patient whose real MRN happens to be that patient's row number.
    other = PatientFactory(home_site=site, first_name="Oscar", last_name="Other", mrn=str(no_mrn.pk))
    first = _book(feed, no_mrn, 14)
    second = _book(feed, other, 17)

    # Never the same number under the same authority (what a patient index keys on): the record
    # number is a PI assigned by this system, the MRN an MR under the clinic's MRN authority.
    assert _pid3(first)[:2] != _pid3(second)[:2], (_pid3(first), _pid3(second))
    assert (_pid3(first)[2], _pid3(second)[2]) == ("PI", "MR")


@pytest.mark.parametrize(
    "where",
    ["patient_given", "site_name", "cancel_reason"],
)
def test_an_ampersand_in_free_text_is_escaped_and_the_message_stays_valid(feed, where):
    clinic = feed.clinic
    patient = PatientFactory(home_site=clinic.site, first_name="Anna", last_name="Smith")
    expected = None
    if where == "patient_given":
        patient.first_name = expected = "Mary&Jo"
        patient.save(update_fields=["first_name"])
    if where == "site_name":
        clinic.site.name = expected = "Mind & Body Clinic"
        clinic.site.save(update_fields=["name"])
    appointment = _book(feed, patient, 15)
    event = "S12"
    if where == "cancel_reason":
        services.appointment_cancel(
            appointment=appointment, actor=clinic.front_desk.user, reason="Travel & work", now=NOW
        )
        expected = "Cancelled: Travel & work"
        event = "S15"
    payload = SiuMessage.objects.get(appointment=appointment, event=event).payload

    # The library that built it must read it back under strict validation ...
    parsed = parse_message(payload, find_groups=True, validation_level=VALIDATION_LEVEL.STRICT)
    assert parsed.validate()
    # ... and a receiver must read the text as written, not cut at the '&' (the subcomponent separator).
    message = hl7.parse(payload)
    value = {
        "patient_given": lambda: message.segment("PID")[5][0][1],
        "site_name": lambda: message.segment("MSH")[4][0],
        "cancel_reason": lambda: message.segment("SCH")[6][0][1],
    }[where]()
    raw = str(value)
    # An unescaped '&' is the subcomponent separator: a receiver reads only the text before it.
    assert "&" not in raw, f"{where}: {raw!r} carries a raw '&' (should be \\T\\)"
    assert message.unescape(raw) == expected
