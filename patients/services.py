"""Writes to patients. Registration keeps who registered the patient in the history."""

from __future__ import annotations

import datetime as dt
import unicodedata
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import connection, transaction

from clinic.dates import CLINICAL_EARLIEST
from clinic.errors import InvalidInput, InvalidState
from clinic.models import Site
from clinic.permissions import FIELD_READERS, require_prescriber, scope_to_staff
from patients.models import Evaluation, Patient, one_form

# Screening data: only the roles that may read it (clinicians) record it at registration.
CLINICAL_FIELDS = tuple(FIELD_READERS["patient"])


# The namespace of the advisory lock taken on a birth date while a registration or an edit checks
# for a duplicate and writes (pg_advisory_xact_lock's two-key form: this, then the date's ordinal).
IDENTITY_LOCK_NAMESPACE = 0x50617469


def identity_name_key(name: str) -> str:
    """A name as the one-chart-per-person check compares it: accents left out ("Jose Nunez" typed
    on a keyboard without them is José Núñez), spaces inside collapsed to one ("Mary  Ann" typed
    with two is Mary Ann) and case folded. Only the comparison uses it: names are stored in their
    one form (one_form), accents and all."""
    letters = "".join(c for c in unicodedata.normalize("NFKD", name) if not unicodedata.combining(c))
    return " ".join(letters.split()).casefold()


def _identity_lock(date_of_birth: dt.date) -> None:
    """Holds to the end of the transaction a lock on every registration and edit of someone born
    on `date_of_birth`, so that two desks registering the same person at the same moment take
    turns: the second reads the first's chart once it is committed, and is refused. (SQLite, the
    embedded default, serialises writes already.)"""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [IDENTITY_LOCK_NAMESPACE, date_of_birth.toordinal()])


@transaction.atomic
def patient_duplicate_check(
    *,
    actor: AbstractBaseUser,
    first_name: str,
    last_name: str,
    date_of_birth: dt.date,
    exclude_pk: int | None = None,
    different_person: bool = False,
) -> list[int]:
    """Refuses (409) a chart with the same name and date of birth as another patient's
    (identity_name_key compares the names): it is almost always the same person, and two charts
    for one patient split their history. Registration and every edit of a name or date of birth
    ask it in the transaction that writes, which it locks on the birth date until the commit.
    The refusal names the patient in its message and `details["patient_id"]` only to staff of a
    site of theirs, so the caller can link the chart and name them in the access log.

    Two people can share a name and a birth date: with `different_person` (the desk confirmed,
    having seen the refusal, that the patient before them is someone else) the chart is allowed,
    and the ids of the charts it was confirmed different from are returned for its history. Only
    charts the actor can see can be confirmed different: another site's patient still refuses."""
    _identity_lock(date_of_birth)
    key = (identity_name_key(first_name), identity_name_key(last_name))
    born_that_day = Patient.objects.filter(date_of_birth=date_of_birth).order_by("pk")
    if exclude_pk is not None:
        born_that_day = born_that_day.exclude(pk=exclude_pk)
    duplicates = [
        patient
        for patient in born_that_day.only("pk", "first_name", "last_name", "date_of_birth")
        if (identity_name_key(patient.first_name), identity_name_key(patient.last_name)) == key
    ]
    if not duplicates:
        return []
    staff = getattr(actor, "staff", None)
    visible = scope_to_staff(Patient.objects.filter(pk__in=[p.pk for p in duplicates]), staff) if staff else None
    visible_ids = set(visible.values_list("pk", flat=True)) if visible is not None else {p.pk for p in duplicates}
    named = [patient for patient in duplicates if patient.pk in visible_ids]
    if different_person and len(named) == len(duplicates):
        return [patient.pk for patient in duplicates]
    if not named:
        # Still refused (one person, one chart), but another site's patient is not named to this site's staff.
        raise InvalidState(
            "A patient with this name and date of birth is already registered at another site; "
            "ask clinic-wide staff to give this site access to their chart."
        )
    duplicate = named[0]
    raise InvalidState(
        f"{duplicate.full_name}, born {duplicate.date_of_birth:%-d %b %Y}, is already registered.",
        details={"patient_id": duplicate.pk},
    )


def different_person_reason(action: str, confirmed_different: list[int]) -> str:
    """The history's reason for a chart confirmed as someone else than the charts of the same name
    and date of birth."""
    charts = ", ".join(f"#{pk}" for pk in confirmed_different)
    return f"{action}; confirmed a different person from the patient(s) of the same name and date of birth ({charts})"


@transaction.atomic
def patient_register(
    *,
    actor: AbstractBaseUser,
    now: dt.datetime,
    clinician: bool,
    fields: dict[str, Any],
    different_person: bool = False,
) -> Patient:
    """Register a new patient. The same name and date of birth twice is refused unless the caller
    confirms a different person (patient_duplicate_check): it is almost always the same person,
    and two charts for one patient split their history."""
    if not clinician and any(fields.get(name) for name in CLINICAL_FIELDS):
        raise InvalidInput("Only clinicians can record medications and seizure history.")
    first, last = (one_form(fields[name]) for name in ("first_name", "last_name"))
    confirmed_different = patient_duplicate_check(
        actor=actor,
        first_name=first,
        last_name=last,
        date_of_birth=fields["date_of_birth"],
        different_person=different_person,
    )
    patient = Patient(**{**fields, "first_name": first, "last_name": last})
    if patient.reminder_consent:
        patient.reminder_consent_changed_at = now
    try:
        patient.full_clean()
    except ValidationError as exc:
        raise InvalidInput(" ".join(exc.messages)) from exc
    patient._change_reason = (  # type: ignore[attr-defined]
        different_person_reason("Registered", confirmed_different) if confirmed_different else "Registered"
    )
    patient._history_user = actor  # type: ignore[attr-defined]
    patient.save()
    return patient


def identity_of(patient: Patient) -> tuple[str, str, dt.date]:
    """Who the chart says the patient is, as patient_duplicate_check compares it."""
    return (identity_name_key(patient.first_name), identity_name_key(patient.last_name), patient.date_of_birth)


def identity_changed(patient: Patient, before: tuple[str, str, dt.date]) -> bool:
    """Whether `patient`'s name or date of birth now differs from `before` by more than case and
    spacing: only such an edit can make it a second chart of someone, so correcting a capital on
    one of two charts registered before the rule is not refused."""
    return identity_of(patient) != before


def identity_would_change(patient: Patient, fields: dict[str, Any]) -> bool:
    """Whether `fields` (any of the name and date of birth; those missing stay) would make the
    saved `patient` another person by identity_of: more than case and spacing."""
    edited = Patient(
        **{name: fields.get(name, getattr(patient, name)) for name in ("first_name", "last_name", "date_of_birth")}
    )
    return identity_changed(edited, identity_of(patient))


def patient_identity_check(
    *, patient: Patient, fields: dict[str, Any], actor: AbstractBaseUser, different_person: bool = False
) -> list[int]:
    """Registration's rule (patient_duplicate_check) for a chart about to be saved with `fields`: a
    new one, or an edit that changes who the chart says the patient is. The charts confirmed
    different (with `different_person`), for the history; [] when nothing is asked."""
    if patient.pk is not None and not identity_would_change(patient, fields):
        return []
    return patient_duplicate_check(
        actor=actor,
        first_name=fields.get("first_name", patient.first_name),
        last_name=fields.get("last_name", patient.last_name),
        date_of_birth=fields.get("date_of_birth", patient.date_of_birth),
        exclude_pk=patient.pk,
        different_person=different_person,
    )


# What an outside system (the FHIR server) may change on a patient's record.
DEMOGRAPHIC_FIELDS = ("first_name", "last_name", "date_of_birth", "email", "mrn")


@transaction.atomic
def patient_update(*, patient: Patient, actor: AbstractBaseUser, fields: dict[str, Any], reason: str = "") -> Patient:
    """Change a patient's demographics (DEMOGRAPHIC_FIELDS only), validated, with history."""
    unknown = set(fields) - set(DEMOGRAPHIC_FIELDS)
    if unknown:
        raise InvalidInput(f"These cannot be changed here: {', '.join(sorted(unknown))}.")
    # Names in the one form they are stored in, so that the same name in another form is no change.
    fields = {
        name: one_form(value) if name in ("first_name", "last_name") and isinstance(value, str) else value
        for name, value in fields.items()
    }
    changed = [name for name, value in fields.items() if getattr(patient, name) != value]
    before = identity_of(patient)
    for name in changed:
        setattr(patient, name, value if not isinstance(value := fields[name], str) else value.strip())
    if not changed:
        return patient
    if identity_changed(patient, before):
        patient_duplicate_check(
            actor=actor,
            first_name=patient.first_name,
            last_name=patient.last_name,
            date_of_birth=patient.date_of_birth,
            exclude_pk=patient.pk,
        )
    try:
        patient.full_clean(validate_unique=False)
    except ValidationError as exc:
        raise InvalidInput(" ".join(exc.messages)) from exc
    patient._change_reason = reason or "Demographics updated"  # type: ignore[attr-defined]
    patient._history_user = actor  # type: ignore[attr-defined]
    patient.save(update_fields=[*changed, "updated_at"])
    return patient


EVALUATION_FIELDS = (
    "evaluated_on",
    "evaluator_name",
    "evaluator_credentials",
    "diagnosis",
    "icd10_code",
    "systolic_bp",
    "diastolic_bp",
    "heart_rate",
    "cardiac_history",
    "notes",
)


def evaluation_latest_date(*, site: Site, now: dt.datetime) -> dt.date:
    """The latest date an evaluation of a patient whose home site is `site` may carry: today there.
    The clinic's day, not UTC's: late evening in New York is already tomorrow in UTC, and an
    evaluation done that evening must still be recordable. (scheduling's local_day does the
    same, but patients sits below scheduling and may not import it.)"""
    return now.astimezone(site.zone).date()


def evaluation_date_check(*, evaluated_on: dt.date, site: Site, now: dt.datetime) -> None:
    """Refuses an evaluation dated before CLINICAL_EARLIEST (2000: an earlier year is a typo) or
    after today at `site` (the patient's home site). The one place these rules live:
    evaluation_record calls it (the API and the chart page record through it), and so does the
    admin's evaluation form, which saves without going through the service; a change of home
    site asks patient_home_site_check, which holds the patient's evaluations to the same latest
    date at the new site. The refusal names `evaluated_on`, so each caller shows it against the
    date."""
    if evaluated_on < CLINICAL_EARLIEST:
        raise InvalidInput(
            f"The evaluation date {evaluated_on:%-d %b %Y} is before {CLINICAL_EARLIEST:%Y}: check the year; "
            f"evaluations before {CLINICAL_EARLIEST:%Y} are not recorded.",
            details={"field": "evaluated_on"},
        )
    today = evaluation_latest_date(site=site, now=now)
    if evaluated_on > today:
        raise InvalidInput(
            f"The evaluation date {evaluated_on:%-d %b %Y} is in the future: "
            f"today is {today:%-d %b %Y} at {site.name}.",
            details={"field": "evaluated_on"},
        )


def _home_site_locked(patient: Patient) -> Site:
    """The patient's home site as committed, with the patient's row locked to the end of the
    transaction: a change of home site and an evaluation recorded at the same moment take turns,
    so neither is judged against a site the other is about to change or an evaluation it cannot
    see yet. The lock takes the patient's row alone: joined to its site, a row another transaction
    moved to a new site while this one waited would be re-checked against the old site's row, and
    found no more."""
    home_site_id = Patient.objects.select_for_update().values_list("home_site_id", flat=True).get(pk=patient.pk)
    return patient.home_site if patient.home_site_id == home_site_id else Site.objects.get(pk=home_site_id)


def evaluation_record(
    *, patient: Patient, actor: AbstractBaseUser, now: dt.datetime, fields: dict[str, Any], reason: str = ""
) -> Evaluation:
    """Records the mental-health evaluation that precedes treatment, from the chart page or the API.
    A diagnosis is a prescriber's to put on the chart: anyone else is refused here whatever the
    caller checked. An evaluation dated before 2000 or after today at the patient's home site is
    refused too (evaluation_date_check), the home site as it stands when the row is written (the
    caller's `patient` may have been read before a move). The history keeps who recorded it and
    `reason`, where it was recorded from."""
    require_prescriber(actor, "Recording an evaluation")
    evaluation = Evaluation(
        patient=patient, recorded_by_id=actor.pk, **{name: fields[name] for name in EVALUATION_FIELDS if name in fields}
    )
    try:
        evaluation.full_clean()
    except ValidationError as exc:
        raise InvalidInput(" ".join(exc.messages)) from exc
    evaluation._change_reason = reason or "Evaluation recorded"  # type: ignore[attr-defined]
    evaluation._history_user = actor  # type: ignore[attr-defined]
    with transaction.atomic():
        evaluation_date_check(evaluated_on=evaluation.evaluated_on, site=_home_site_locked(patient), now=now)
        evaluation.save()
    return evaluation


def patient_home_site_check(*, patient: Patient, site: Site, now: dt.datetime) -> None:
    """Refuses making `site` the home site of `patient` (already registered) while one of the
    patient's evaluations is dated after today there: evaluation_date_check judges "today" at the
    home site, so an evaluation dated today in Auckland is tomorrow for a New York patient and the
    move would leave a chart the rule refuses. Every path that changes a home site asks this before
    writing (the API's patient PATCH, the patient admin); the move is possible once that date has
    come at the new site, or after the evaluation's date is corrected.

    Call it in the transaction that writes the new home site: it locks the patient's row until
    then, as evaluation_record does, so an evaluation recorded at the same moment is either seen
    here or judged at the new site. The refusal names `home_site`, the evaluation and its date,
    not its diagnosis: the front desk and clinic administrators, who may move a patient, do not
    read evaluations."""
    if site.pk == patient.home_site_id:
        return
    _home_site_locked(patient)
    latest = evaluation_latest_date(site=site, now=now)
    blocking = patient.evaluations.filter(evaluated_on__gt=latest).order_by("-evaluated_on", "-pk").first()
    if blocking is None:
        return
    raise InvalidInput(
        f"{patient.full_name}'s home site cannot become {site.name} yet: their evaluation dated "
        f"{blocking.evaluated_on:%-d %b %Y} would be in the future there (today is {latest:%-d %b %Y} at "
        f"{site.name}). Change the home site once that date has come there, or correct the evaluation's date.",
        details={"field": "home_site", "evaluation_id": blocking.pk, "evaluated_on": blocking.evaluated_on.isoformat()},
    )
