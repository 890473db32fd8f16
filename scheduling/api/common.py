"""What the scheduling endpoints share: idempotent booking POSTs, the plan's If-Match
version, and the appointment's representation."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from clinic.api_errors import IdempotencyKeyReused, PreconditionRequired
from clinic.api_fields import FieldPrototypesMixin
from clinic.permissions import FieldVisibilityMixin
from scheduling.models import Appointment, IdempotencyRecord

IDEMPOTENCY_HEADER = OpenApiParameter(
    name="Idempotency-Key",
    type=OpenApiTypes.STR,
    location=OpenApiParameter.HEADER,
    required=False,
    description=(
        "Any unique string (a UUID) chosen by the client. A retry with the same key and body returns the first "
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

MAX_KEY_LENGTH = 200


def _fingerprint(request: Request) -> str:
    body = json.dumps(request.data, sort_keys=True, cls=DjangoJSONEncoder, default=str)
    raw = f"{request.method} {request.path}\n{body}"
    return hashlib.sha256(raw.encode()).hexdigest()


def _replay(record: IdempotencyRecord, fingerprint: str) -> Response:
    if record.request_fingerprint != fingerprint:
        raise IdempotencyKeyReused(
            "This Idempotency-Key was already used with a different request; use a new key for a new booking."
        )
    return Response(record.response_body, status=record.response_status, headers={"Idempotent-Replayed": "true"})


def idempotent(request: Request, perform: Callable[[], Response]) -> Response:
    """Run `perform` at most once per (user, Idempotency-Key).

    The key's row is claimed first (inserted, not yet committed), so a retry that arrives
    while the first attempt is still running waits on the unique index for it and then
    replays its answer instead of racing it into a booking conflict; if the first attempt
    rolled back, the retry claims the key and tries again. Only successful answers are
    kept: a refused booking changed nothing, and its claim goes with its rollback."""
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return perform()
    key = key.strip()
    if not key or len(key) > MAX_KEY_LENGTH:
        raise serializers.ValidationError({"Idempotency-Key": [f"Use 1 to {MAX_KEY_LENGTH} characters."]})
    fingerprint = _fingerprint(request)
    user = request.user
    # No savepoint: an error anywhere below rolls the whole request back (the claim too).
    with transaction.atomic(savepoint=False):
        claimed = _claim(user.pk, key, fingerprint)
        if claimed is None:
            return _replay(IdempotencyRecord.objects.get(user=user, key=key), fingerprint)
        response = perform()
        if 200 <= response.status_code < 300:
            _fill(claimed, response.status_code, json.dumps(response.data, cls=DjangoJSONEncoder))
        else:
            IdempotencyRecord.objects.filter(pk=claimed).delete()
        return response


def _claim(user_id: int, key: str, fingerprint: str) -> int | None:
    """Insert the key's row, or return None if another request holds it (after waiting for that
    request's transaction to end). The placeholder answer never commits: it is replaced or
    deleted in the same transaction."""
    table = IdempotencyRecord._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (user_id, key, request_fingerprint, response_status, response_body, created_at)"  # noqa: S608 - model table name
            " VALUES (%s, %s, %s, 0, %s, %s) ON CONFLICT (user_id, key) DO NOTHING RETURNING id",
            [user_id, key, fingerprint, "{}", connection.ops.adapt_datetimefield_value(timezone.now())],
        )
        row = cursor.fetchone()
    return row[0] if row else None


def _fill(record_id: int, status: int, body_json: str) -> None:
    """Keep the answer on the claimed row: the body as encoded once, in one plain UPDATE."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {IdempotencyRecord._meta.db_table} SET response_status = %s, response_body = %s WHERE id = %s",  # noqa: S608
            [status, body_json, record_id],
        )


_ETAG = re.compile(r'^\s*(?:W/)?"?(\d{1,9})"?\s*$')


def etag(version: int) -> str:
    return f'"{version}"'


def expected_version(request: Request, body_version: int | None) -> int:
    """The plan version the editor read: If-Match, or the body's `version`; neither is 428."""
    header = request.headers.get("If-Match")
    if header is not None:
        match = _ETAG.match(header)
        if not match:
            raise serializers.ValidationError({"If-Match": ['Send the plan\'s ETag, e.g. "3".']})
        version = int(match.group(1))
        if body_version is not None and body_version != version:
            raise serializers.ValidationError({"version": ["Differs from If-Match; send one version."]})
        return version
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
