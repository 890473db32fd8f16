"""The pages' side of the minimum-necessary rule (clinic.permissions.FIELD_READERS), so a
template hides exactly what the API nulls: `{% if request.staff.role|may_see:"plan.attention_reason" %}`."""

from __future__ import annotations

from django import template

from clinic.permissions import may_see_field

register = template.Library()


@register.filter
def may_see(role: str | None, kind_and_field: str) -> bool:
    kind, _, field = kind_and_field.partition(".")
    return may_see_field(role or None, kind, field)


@register.filter
def patient_name(appointment: object, can: dict[str, bool] | None) -> str:
    """Who a session is for, for staff whose role reads patient data (the desk and clinicians:
    `request.can.patient_chart`), as the API's day board and the FHIR server answer; a clinic
    administrator sees the board and the week for their load, not for who comes."""
    if can and can.get("patient_chart"):
        return appointment.patient.full_name  # type: ignore[attr-defined]
    return "A patient"
