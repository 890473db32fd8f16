"""What the scheduling endpoints share: idempotent booking POSTs, the plan's If-Match
version, and the appointment's representation."""

from __future__ import annotations

import json
import re
from collections.abc import Callable

from django.core.serializers.json import DjangoJSONEncoder
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from clinic.api_errors import PreconditionRequired
from clinic.api_fields import FieldPrototypesMixin
from clinic.audit import patients_shown
from clinic.permissions import FieldVisibilityMixin
from scheduling.models import Appointment
from scheduling.services.idempotency import KEY_RULE, KeptAnswer, Replay, key_is_valid, request_fingerprint, run_once

IDEMPOTENCY_HEADER = OpenApiParameter(
    name="Idempotency-Key",
    type=OpenApiTypes.STR,
    location=OpenApiParameter.HEADER,
    required=False,
    description=(
        "Any unique string (a UUID; printable ASCII, at most 200 characters) chosen by the client. A retry with the same key and body returns the first "
        "successful response and books nothing twice; the same key with a different body answers 422."
    ),
)
IF_MATCH_HEADER = OpenApiParameter(
    name="If-Match",
    type=OpenApiTypes.STR,
    location=OpenApiParameter.HEADER,
    required=False,
    description='The plan\'s ETag as read (e.g. "3"). Required unless the body carries `version`.',
)

# The answer's side: a plan read or changed carries its version as the ETag to send back.
ETAG_HEADER = OpenApiParameter(
    name="ETag",
    type=OpenApiTypes.STR,
    location=OpenApiParameter.HEADER,
    response=[200, 201],
    description='The plan\'s version as an entity tag (e.g. "4"): send it back as If-Match with the next change.',
)


# What a replay repeats of the first answer's headers, besides its status and body.
REPLAYED_HEADERS = ("Location", "ETag")


def _fingerprint(request: Request) -> str:
    body = json.dumps(request.data, sort_keys=True, cls=DjangoJSONEncoder, default=str)
    return request_fingerprint(request.method or "", request.path, body.encode())


def idempotent(request: Request, perform: Callable[[], Response]) -> Response:
    """Run `perform` at most once per (user, Idempotency-Key): a retry with the same body gets the
    first successful answer back (scheduling.services.idempotency); only successful answers are
    kept, a refused booking changed nothing."""
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return perform()
    key = key.strip()
    if not key_is_valid(key):
        raise serializers.ValidationError({"Idempotency-Key": [KEY_RULE]})

    def keep(response: Response) -> KeptAnswer | None:
        if not 200 <= response.status_code < 300:
            return None
        headers = {name: response[name] for name in REPLAYED_HEADERS if response.has_header(name)}
        return KeptAnswer(response.status_code, json.dumps(response.data, cls=DjangoJSONEncoder), headers)

    answer = run_once(user_id=request.user.pk, key=key, fingerprint=_fingerprint(request), perform=perform, keep=keep)
    if isinstance(answer, Replay):
        # The replay shows what the first answer showed: its patients are named in the access log.
        patients_shown(request, _patients_in(answer.body))
        return Response(answer.body, status=answer.status, headers={**answer.headers, "Idempotent-Replayed": "true"})
    return answer


def _patients_in(body: object) -> set[int]:
    """The patient ids a kept answer shows (its `patient` fields, at any depth)."""
    found: set[int] = set()
    if isinstance(body, dict):
        for name, value in body.items():
            if name == "patient" and isinstance(value, int) and not isinstance(value, bool):
                found.add(value)
            else:
                found |= _patients_in(value)
    elif isinstance(body, list):
        for item in body:
            found |= _patients_in(item)
    return found


_ETAG = re.compile(r'^\s*(?:W/)?"?(\d{1,9})"?\s*$')


# A version no plan has: what an If-Match of weak tags only stands for (it never matches).
NO_VERSION = 0


def etag(version: int) -> str:
    return f'"{version}"'


def expected_version(request: Request, body_version: int | None, current: int) -> int | None:
    """The plan version the editor read: If-Match, or the body's `version`; neither is 428.

    If-Match is read as RFC 9110 §13.1.1 has it: `*` holds for any current version (None: the
    change is not tied to one, unless the body names one), and a list of tags holds when the plan's
    `current` version is one of them (the version returned is then that one; otherwise the first,
    which the service refuses as stale)."""
    header = request.headers.get("If-Match")
    if header is not None:
        if header.strip() == "*":
            return body_version
        versions = []
        for tag in header.split(","):
            if not tag.strip():
                continue  # an empty list element is ignored (RFC 9110 §5.6.1.2)
            match = _ETAG.match(tag)
            if not match:
                raise serializers.ValidationError({"If-Match": ['Send the plan\'s ETag, e.g. "3", or several, or *.']})
            if tag.strip().startswith("W/"):
                continue  # If-Match compares strongly: a weak tag matches nothing (RFC 9110 §13.1.1)
            versions.append(int(match.group(1)))
        if not versions:
            versions = [NO_VERSION]
        if body_version is not None:
            if body_version not in versions:
                raise serializers.ValidationError({"version": ["Differs from If-Match; send one version."]})
            return body_version
        return current if current in versions else versions[0]
    if body_version is not None:
        return body_version
    raise PreconditionRequired()


# --- Appointments -------------------------------------------------------------


class AppointmentSerializer(FieldVisibilityMixin, FieldPrototypesMixin, serializers.ModelSerializer):
    visibility_kind = "appointment"

    patient_name = serializers.CharField(source="patient.full_name", read_only=True)
    chair_name = serializers.CharField(source="chair.name", read_only=True)
    nurse_name = serializers.SerializerMethodField()
    notes = serializers.CharField(
        read_only=True, allow_null=True, help_text="Clinical notes: clinicians only, else null."
    )
    rule_override_reason = serializers.CharField(
        read_only=True, allow_null=True, help_text="Why a plan-rule break was accepted: clinicians only, else null."
    )

    class Meta:
        model = Appointment
        fields = [
            "id",
            "patient",
            "patient_name",
            "plan",
            "sequence",
            "phase",
            "induction_round",
            "site",
            "chair",
            "chair_name",
            "nurse",
            "nurse_name",
            "starts_at",
            "ends_at",
            "status",
            "ride_home",
            "notes",
            "rule_override_reason",
            "cancellation_reason",
            "cancelled_at",
            "confirmed_at",
            "checked_in_at",
            "in_chair_at",
            "completed_at",
        ]
        read_only_fields = fields

    def get_nurse_name(self, appointment: Appointment) -> str | None:
        nurse = appointment.nurse
        return nurse.display_name if nurse is not None else None


APPOINTMENT_RELATED = ("patient", "chair", "nurse__user")
