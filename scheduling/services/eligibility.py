"""Screening gate: whether a patient may start a course without a prescriber's
documented override. The contraindication list is the clinic's own data."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from clinic.models import CLINICIAN_ROLES
from patients.models import Contraindication, Evaluation, Patient
from scheduling.errors import NotEligible
from scheduling.models import TreatmentPlan


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
    flagged = set(patient.flags.values_list("contraindication_id", flat=True))
    kinds = Contraindication.Kind
    for rule in Contraindication.objects.filter(active=True).order_by("label"):
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
            if rule.pk in flagged:
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
