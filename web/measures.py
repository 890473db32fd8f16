"""Pages: the patient's questionnaire in the portal, and the outcome section of the
clinician's chart (built here, included by web/chart.py and web/patient.html)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from clinic.audit import patients_shown
from clinic.form_fields import WallClockDateTimeField
from clinic.models import CLINICIAN_ROLES
from clinic.permissions import scope_to_staff
from measures.charts import line_chart
from measures.forms import QuestionnaireForm
from measures.models import Source
from measures.outcomes import PHQ9_REMISSION_BELOW, RESPONSE_REDUCTION_PCT
from measures.questions import PORTAL_QUESTIONNAIRES
from measures.scoring import SPECS, Instrument
from measures.selectors import outcome_summary
from measures.services import answers_are_for, questionnaire_submit
from patients.models import Patient
from scheduling.models import Appointment, TreatmentPlan
from web.access import patient_required, staff_required


@require_http_methods(["GET", "POST"])
@patient_required
def questionnaire(request: HttpRequest, instrument: str) -> HttpResponse:
    patient: Patient = request.patient  # type: ignore[attr-defined]
    form_spec = PORTAL_QUESTIONNAIRES.get(instrument)
    if form_spec is None:
        raise Http404("No such questionnaire.")
    appointment = None
    appointment_id = request.GET.get("appointment") or request.POST.get("appointment")
    if appointment_id:
        if not (appointment_id.isascii() and appointment_id.isdigit()):  # int("²") fails
            raise Http404("No such session.")
        # Filtered by the patient: another patient's session answers 404 like a missing one.
        appointment = get_object_or_404(Appointment.objects.filter(patient=patient), pk=int(appointment_id))
        # From an old reminder's link (the session begun or gone) the answers are today's, not its.
        if not answers_are_for(appointment, now=timezone.now()):
            appointment = None
    form = QuestionnaireForm(request.POST if request.method == "POST" else None, questionnaire=form_spec)
    if request.method == "POST" and form.is_valid():
        response = questionnaire_submit(
            patient=patient,
            instrument=form_spec.instrument.value,
            answers=form.answers(),
            entered_by=request.user,
            source=Source.PORTAL,
            now=timezone.now(),
            appointment=appointment,
        )
        # Sent again (a double click, a second tab, the back button): say what is so.
        if response.resent:
            messages.info(request, "These answers were already sent; your care team will see them once.")
        else:
            messages.success(request, "Thank you: your answers are saved and your care team will see them.")
        return redirect("home")
    context = {"patient": patient, "questionnaire": form_spec, "form": form, "appointment": appointment}
    with timezone.override(patient.zone):
        return render(request, "measures/questionnaire.html", context, status=400 if form.errors else 200)


def chart_section(
    *, patient: Patient, plans: Sequence[TreatmentPlan], appointments: Sequence[Appointment], now: dt.datetime
) -> dict[str, Any]:
    """The context of measures/_chart_section.html; one query on top of what the chart loaded."""
    summary = outcome_summary(patient=patient, now=now, plans=plans, appointments=appointments)
    zone = patient.home_site.zone
    instruments = []
    for instrument in Instrument:
        rows = summary.responses.get(instrument)
        if not rows:
            continue
        spec = SPECS[instrument]
        guides = [(band.lowest, band.label) for band in spec.bands[1:]]
        chart = line_chart(
            values=[(r.completed_at, r.total_score) for r in rows],
            y_max=spec.max_total,
            session_times=summary.session_times,
            guides=guides,
            zone=zone,
        )
        instruments.append(
            {
                "code": instrument.value,
                "name": spec.name,
                "max_total": spec.max_total,
                "rows": list(reversed(rows)),
                "chart": chart,
                "outcome": summary.outcomes[instrument],
                "increase_pct": -(summary.outcomes[instrument].reduction_pct or 0),
            }
        )
    return {
        "summary": summary,
        "instruments": instruments,
        "suggestion_names": [SPECS[i].name for i in summary.suggestion.instruments] if summary.suggestion else [],
        "response_pct": RESPONSE_REDUCTION_PCT,
        "remission_below": PHQ9_REMISSION_BELOW,
    }


# --- Staff entering a questionnaire from the chart (a paper form, or answers by phone) ---


class StaffQuestionnaireForm(QuestionnaireForm):
    completed_at = WallClockDateTimeField(label="Completed at", help_text="In the site's time zone.")
    appointment = forms.ModelChoiceField(
        label="Before session", queryset=Appointment.objects.none(), required=False, empty_label="Not tied to a session"
    )

    def __init__(self, *args: Any, sessions: Sequence[Appointment], zone: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["appointment"].queryset = Appointment.objects.filter(pk__in=[a.pk for a in sessions])
        self.fields["appointment"].label_from_instance = lambda a: f"{a.starts_at.astimezone(zone):%a %-d %b %Y %H:%M}"


@require_http_methods(["GET", "POST"])
@staff_required(frozenset(CLINICIAN_ROLES))
def staff_questionnaire(request: HttpRequest, patient_id: int, instrument: str) -> HttpResponse:
    """A clinician enters a patient's answers; the score is computed as for the portal, source 'staff'."""
    form_spec = PORTAL_QUESTIONNAIRES.get(instrument)
    if form_spec is None:
        raise Http404("No such questionnaire.")
    patient = get_object_or_404(
        scope_to_staff(Patient.objects.select_related("home_site"), request.staff),
        pk=patient_id,  # type: ignore[attr-defined]
    )
    patients_shown(request, [patient.pk])
    now = timezone.now()
    zone = patient.home_site.zone
    sessions = list(
        scope_to_staff(Appointment.objects.all(), request.staff)
        .filter(  # type: ignore[attr-defined]
            patient=patient, starts_at__gte=now - dt.timedelta(days=30), starts_at__lte=now + dt.timedelta(days=7)
        )
        .exclude(status__in=["cancelled"])
        .order_by("-starts_at")[:20]
    )
    # Times typed on the form are the site's wall clock.
    with timezone.override(zone):
        form = StaffQuestionnaireForm(
            request.POST if request.method == "POST" else None,
            questionnaire=form_spec,
            sessions=sessions,
            zone=zone,
            initial={"completed_at": now.astimezone(zone).replace(second=0, microsecond=0, tzinfo=None)},
        )
        status = 200
        if request.method == "POST":
            status = 400
            if form.is_valid():
                try:
                    response = questionnaire_submit(
                        patient=patient,
                        instrument=form_spec.instrument.value,
                        answers=form.answers(),
                        entered_by=request.user,
                        source=Source.STAFF,
                        now=now,
                        completed_at=form.cleaned_data["completed_at"],
                        appointment=form.cleaned_data["appointment"],
                    )
                except ValidationError as exc:
                    for field_name, errors in exc.message_dict.items():
                        form.add_error(field_name if field_name in form.fields else None, errors)
                else:
                    name = SPECS[Instrument(response.instrument)].name
                    if response.resent:
                        messages.info(request, f"This {name} was already saved for {patient.full_name}.")
                    else:
                        messages.success(
                            request,
                            f"{name} saved for {patient.full_name}: "
                            f"{response.total_score} ({response.severity_label}).",
                        )
                    return redirect(reverse("web:patient", args=[patient.pk]) + "#measures")
        context = {"patient": patient, "questionnaire": form_spec, "form": form, "nav": "patients"}
        return render(request, "measures/staff_entry.html", context, status=status)
