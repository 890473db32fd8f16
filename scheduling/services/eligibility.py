"""Screening gate: whether a patient may start a course without a prescriber's
documented override. The contraindication list is the clinic's own data."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.db.models import Exists, OuterRef

from clinic.models import CLINICIAN_ROLES, Site
from patients.models import Contraindication, Evaluation, Patient, PatientFlag
from scheduling.errors import NotEligible
from scheduling.models import OPEN_PLAN_STATUSES, TreatmentPlan


@dataclass
class Eligibility:
    reasons: list[str] = field(default_factory=list)
    # One per reason, stable while the reason stands (a re-measured blood pressure is the same
    # reason): "evaluation", or "rule:<the contraindication's code>".
    keys: list[str] = field(default_factory=list)

    @property
    def eligible(self) -> bool:
        return not self.reasons

    def _add(self, key: str, reason: str) -> None:
        self.keys.append(key)
        self.reasons.append(reason)

    def not_overridden(self, plan: TreatmentPlan) -> list[str]:
        """The reasons the plan's override, if any, was not given for."""
        if not plan.eligibility_override_by_id:
            return list(self.reasons)
        covers = plan.eligibility_override_covers
        if covers is None:  # recorded before overrides named what they covered
            return []
        return [reason for key, reason in zip(self.keys, self.reasons, strict=True) if key not in covers]


def patient_eligibility(*, patient: Patient, on: dt.date) -> Eligibility:
    """Every reason the screening data says no, in words a clinician reads."""
    result = Eligibility()
    evaluation = Evaluation.objects.filter(patient=patient).order_by("-evaluated_on", "-pk").first()
    if evaluation is None:
        result._add("evaluation", "No mental-health evaluation with a diagnosis is on file.")
    kinds = Contraindication.Kind
    # The clinic's rules and whether this patient is flagged for each, in one read (every booking asks).
    rules = (
        Contraindication.objects.filter(active=True)
        .annotate(flagged=Exists(PatientFlag.objects.filter(patient=patient, contraindication=OuterRef("pk"))))
        .order_by("label")
    )
    for rule in rules:
        key = f"rule:{rule.code}"
        threshold = rule.threshold
        if rule.kind == kinds.MIN_AGE and threshold is not None:
            age = patient.age_on(on)
            if age < threshold:
                result._add(key, f"{rule.label}: {age} years old (under {threshold}).")
        elif rule.kind == kinds.SEIZURE_HISTORY:
            if patient.seizure_history:
                result._add(key, f"{rule.label}.")
        elif rule.kind == kinds.FLAG:
            if rule.flagged:
                result._add(key, f"{rule.label}.")
        elif evaluation is not None and threshold is not None:
            measured: dict[str, int | None] = {
                kinds.MAX_SYSTOLIC: evaluation.systolic_bp,
                kinds.MAX_DIASTOLIC: evaluation.diastolic_bp,
                kinds.MAX_HEART_RATE: evaluation.heart_rate,
            }
            value = measured.get(rule.kind)
            if value is not None and value > threshold:
                result._add(key, f"{rule.label}: {value} at screening (limit {threshold}).")
    return result


def require_eligible(*, plan: TreatmentPlan, now: dt.datetime, actor: object = None) -> None:
    """Refuses while screening gives a reason that no override on the plan was given for. The reasons
    are health data: a clinician (or no one in particular: a task) is told them; the front desk is
    told that a prescriber's screening decision is needed, as the chart shows it nothing more."""
    eligibility = patient_eligibility(patient=plan.patient, on=now.astimezone(plan.site.zone).date())
    blocking = eligibility.not_overridden(plan)
    staff = getattr(actor, "staff", None) if actor is not None else None
    if blocking and actor is not None and (staff is None or staff.role not in CLINICIAN_ROLES):
        raise NotEligible(
            "The patient's screening needs a prescriber's decision before this can be booked; "
            "a clinician can see why on the patient's chart.",
            details={},
        )
    if blocking:
        overridden = bool(plan.eligibility_override_by_id)
        raise NotEligible(
            (
                "The screening found something new since the prescriber's override; it needs a new override: "
                if overridden
                else "The patient's screening does not allow booking without a prescriber's override: "
            )
            + " ".join(blocking),
            details={"reasons": blocking},
        )


def require_eligible_for_a_single_session(
    *, patient: Patient, site: Site, now: dt.datetime, actor: object = None
) -> None:
    """A session booked without a plan is still a ketamine infusion: the screening holds for it
    as for a course. It has no override of its own: the prescriber's override on the patient's
    open plan covers it when it covers every reason; else the patient is booked within a plan
    whose override does. The reasons are for clinicians, as in require_eligible."""
    eligibility = patient_eligibility(patient=patient, on=now.astimezone(site.zone).date())
    open_plan = TreatmentPlan.objects.filter(patient=patient, status__in=OPEN_PLAN_STATUSES).first()
    blocking = eligibility.not_overridden(open_plan) if open_plan is not None else eligibility.reasons
    if not blocking:
        return
    staff = getattr(actor, "staff", None) if actor is not None else None
    if actor is not None and (staff is None or staff.role not in CLINICIAN_ROLES):
        raise NotEligible(
            "The patient's screening needs a prescriber's decision before this can be booked; "
            "a clinician can see why on the patient's chart.",
            details={},
        )
    raise NotEligible(
        "The patient's screening does not allow a session without a prescriber's override, and no override "
        "on the patient's open plan covers it: book it within a plan whose override does. " + " ".join(blocking),
        details={"reasons": blocking},
    )
