"""Writes: recording a questionnaire response."""

from __future__ import annotations

import datetime as dt

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction

from measures.models import QuestionnaireResponse, Source
from measures.scoring import ScoringError, score
from patients.models import Patient
from scheduling.models import UPCOMING_STATUSES, Appointment, AppointmentStatus

# A device clock a little ahead of ours is not an error; a date next week is.
FUTURE_TOLERANCE = dt.timedelta(minutes=5)
# The same answers sent again this soon are one questionnaire sent twice (a double click, a second
# tab, the back button), not the patient answering again.
RESEND_WINDOW = dt.timedelta(minutes=10)


def answers_are_for(appointment: Appointment, *, now: dt.datetime) -> bool:
    """Whether a patient's answers sent now count as given for `appointment` (its pre-session
    questionnaire): only before it, booked and not yet begun or checked in and waiting. From an old
    reminder's link they are the patient's answers of today, not that session's baseline."""
    if appointment.status == AppointmentStatus.CHECKED_IN:
        return True
    return appointment.status in UPCOMING_STATUSES and now < appointment.starts_at


def questionnaire_submit(
    *,
    patient: Patient,
    instrument: str,
    answers: object,
    entered_by: AbstractBaseUser,
    source: Source,
    now: dt.datetime,
    completed_at: dt.datetime | None = None,
    appointment: Appointment | None = None,
) -> QuestionnaireResponse:
    """Score and store one response. Invalid input raises ValidationError naming the field.

    The same answers sent again within RESEND_WINDOW (same patient, questionnaire, session and
    source, and the same completion time when one is given) store nothing: the response stored
    the first time is returned, marked `resent`. Different answers are a new response."""
    try:
        result = score(instrument, answers)
    except ScoringError as exc:
        field = "instrument" if "Unknown questionnaire" in str(exc) else "answers"
        raise ValidationError({field: [str(exc)]}) from exc
    explicit_completed_at = completed_at
    completed_at = completed_at or now
    if completed_at.tzinfo is None:
        raise ValidationError({"completed_at": ["Give the time with its time zone."]})
    if completed_at > now + FUTURE_TOLERANCE:
        raise ValidationError({"completed_at": ["A questionnaire cannot be completed in the future."]})
    if appointment is not None and appointment.patient_id != patient.pk:
        raise ValidationError({"appointment": ["This session belongs to another patient."]})
    if source == Source.PORTAL:
        # The patient's own answers are dated when they are sent: a date in the past would make them
        # the course's pre-treatment baseline. (Staff enter paper forms with the day they were filled.)
        if abs(completed_at - now) > FUTURE_TOLERANCE:
            raise ValidationError({"completed_at": ["Your answers are dated when you send them; leave the time out."]})
        if appointment is not None and not answers_are_for(appointment, now=now):
            appointment = None
    answer_list = list(answers)  # type: ignore[call-overload]
    with transaction.atomic():
        # Two sends at once (two tabs) wait for each other here, so the second sees the first.
        Patient.objects.select_for_update(no_key=True).filter(pk=patient.pk).values_list("pk").first()
        earlier = QuestionnaireResponse.objects.filter(
            patient=patient,
            instrument=result.instrument.value,
            appointment=appointment,
            source=source,
            answers=answer_list,
            created_at__gte=now - RESEND_WINDOW,
        )
        if explicit_completed_at is not None:
            earlier = earlier.filter(completed_at=explicit_completed_at)
        first_sent = earlier.order_by("created_at", "pk").first()
        if first_sent is not None:
            first_sent.resent = True
            return first_sent
        response = QuestionnaireResponse(
            patient=patient,
            instrument=result.instrument.value,
            answers=answer_list,
            total_score=result.total,
            severity=result.band.code,
            flags=list(result.flags),
            appointment=appointment,
            completed_at=completed_at,
            entered_by=entered_by,
            source=source,
        )
        response._history_user = entered_by  # type: ignore[attr-defined]
        response._change_reason = f"Questionnaire submitted ({Source(source).label.lower()})"  # type: ignore[attr-defined]
        response.save()
    return response
