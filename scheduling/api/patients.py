"""The patients API with the one answer that needs scheduling's facts: eligibility.

patients.api cannot ask scheduling (it is the floor below), so the viewset the API
registers under /patients/ is this subclass, which adds the action."""

from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.response import Response

from clinic.permissions import CLINICIANS
from patients import api as patients_api
from scheduling.services import patient_eligibility


class EligibilitySerializer(serializers.Serializer):
    eligible = serializers.BooleanField()
    reasons = serializers.ListField(child=serializers.CharField())


class PatientViewSet(patients_api.PatientViewSet):
    access = {**patients_api.PatientViewSet.access, "eligibility": CLINICIANS}

    @extend_schema(
        summary="Whether the screening allows booking without an override (clinicians)", responses=EligibilitySerializer
    )
    @action(detail=True, methods=["get"])
    def eligibility(self, request, pk=None):
        patient = self.get_object()
        # The clinic's day (the home site's), as the chart and the booking gate judge it.
        result = patient_eligibility(patient=patient, on=timezone.localdate(timezone.now(), patient.home_site.zone))
        return Response(EligibilitySerializer({"eligible": result.eligible, "reasons": result.reasons}).data)
