"""A site's free slots and its day board, each in one call."""

from __future__ import annotations

import datetime as dt

from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from clinic import api_fields
from clinic.api import ClinicAPIMixin
from clinic.audit import patient_ids_of, patients_shown
from clinic.models import Chair, Closure, Role, Route, Site, StaffMember
from clinic.permissions import DESK, scope_to_actor
from scheduling.engine import Availability, Slot
from scheduling.engine.placement import Placer
from scheduling.engine.wallclock import day_bounds
from scheduling.selectors import (
    TO_MOVE_HORIZON,
    day_board,
    sessions_to_move,
    site_placement,
    site_snapshot,
    sites_with_schedule,
)
from scheduling.services.core import problem_reason

MAX_SEARCH_DAYS = 31
MAX_SLOTS = 500


class FreeSlotQuerySerializer(api_fields.StrictQueryMixin, serializers.Serializer):
    start_date = api_fields.DateField(help_text="First local day searched.")
    end_date = api_fields.DateField(help_text=f"Last local day searched (at most {MAX_SEARCH_DAYS} days).")
    duration_minutes = serializers.IntegerField(min_value=15, max_value=480)
    route = serializers.ChoiceField(choices=Route.choices, default=Route.IV)
    chair = api_fields.IdField(required=False)
    nurse = api_fields.IdField(required=False)
    limit = serializers.IntegerField(required=False, min_value=1, max_value=MAX_SLOTS, default=200)

    def validate(self, attrs):
        if attrs["end_date"] < attrs["start_date"]:
            raise serializers.ValidationError({"end_date": ["Must not be before start_date."]})
        if (attrs["end_date"] - attrs["start_date"]).days >= MAX_SEARCH_DAYS:
            raise serializers.ValidationError({"end_date": [f"Search at most {MAX_SEARCH_DAYS} days at a time."]})
        return attrs


class FreeSlotSerializer(serializers.Serializer):
    starts_at = api_fields.DateTimeField()
    ends_at = api_fields.DateTimeField()
    chair = serializers.IntegerField()
    nurse = serializers.IntegerField()


class SuggestedSlotSerializer(FreeSlotSerializer):
    why = serializers.CharField(help_text="Why the site's placement policy suggests this time, in words.")


class FreeSlotsSerializer(serializers.Serializer):
    site = serializers.IntegerField()
    duration_minutes = serializers.IntegerField()
    slots = FreeSlotSerializer(many=True)
    truncated = serializers.BooleanField(help_text="More slots exist than `limit`.")
    suggested = SuggestedSlotSerializer(
        allow_null=True,
        help_text="Of the slots listed, the one the site's placement policy (earliest or level) would take.",
    )


def _only(value: int | None) -> list[int] | None:
    return None if value is None else [value]


class FreeSlotsView(ClinicAPIMixin, APIView):
    access = {"get": DESK}

    @extend_schema(
        summary="Free slots at a site: every start, chair and nurse that could take a session",
        parameters=[FreeSlotQuerySerializer],
        responses=FreeSlotsSerializer,
    )
    def get(self, request, site_id: int):
        site = get_object_or_404(scope_to_actor(sites_with_schedule(), self.actor), pk=site_id)
        query = FreeSlotQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        params = query.validated_data
        duration = dt.timedelta(minutes=params["duration_minutes"])
        zone = site.zone
        start, _ = day_bounds(params["start_date"], zone)
        _, end = day_bounds(params["end_date"], zone)
        now = timezone.now()
        availability = Availability(site_snapshot(site=site, start=start, end=end, now=now))
        slots: list[dict] = []
        truncated = False
        day = params["start_date"]
        while day <= params["end_date"] and not truncated:
            for slot in availability.free_slots(
                day,
                duration,
                params["route"],
                chair_ids=_only(params.get("chair")),
                nurse_ids=_only(params.get("nurse")),
                not_before=now,
            ):
                if len(slots) >= params["limit"]:
                    truncated = True
                    break
                slots.append(
                    {"starts_at": slot.start, "ends_at": slot.end, "chair": slot.chair_id, "nurse": slot.nurse_id}
                )
            day += dt.timedelta(days=1)
        suggested = None
        if slots:
            listed = [Slot(s["starts_at"], s["ends_at"], s["chair"], s["nurse"]) for s in slots]
            best = Placer(availability, site_placement(site)).rank(listed, nurse_ids=_only(params.get("nurse")))[0]
            suggested = {
                "starts_at": best.slot.start,
                "ends_at": best.slot.end,
                "chair": best.slot.chair_id,
                "nurse": best.slot.nurse_id,
                "why": best.why,
            }
        body = {
            "site": site.pk,
            "duration_minutes": params["duration_minutes"],
            "slots": slots,
            "truncated": truncated,
            "suggested": suggested,
        }
        return Response(FreeSlotsSerializer(body).data)


class BoardQuerySerializer(api_fields.StrictQueryMixin, serializers.Serializer):
    date = api_fields.DateField(required=False, help_text="Local day; today at the site if left out.")


class BoardEntrySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    patient = serializers.IntegerField(source="patient_id")
    patient_name = serializers.CharField(source="patient.full_name")
    starts_at = api_fields.DateTimeField()
    ends_at = api_fields.DateTimeField()
    status = serializers.CharField()
    nurse = serializers.IntegerField(source="nurse_id", allow_null=True)
    nurse_name = serializers.SerializerMethodField()
    plan = serializers.IntegerField(source="plan_id", allow_null=True)
    sequence = serializers.IntegerField(allow_null=True)
    protocol_name = serializers.SerializerMethodField()
    ride_home = serializers.CharField()
    escort_name = serializers.CharField(source="patient.escort_name")

    def get_nurse_name(self, appointment) -> str | None:
        return appointment.nurse.display_name if appointment.nurse_id else None

    def get_protocol_name(self, appointment) -> str | None:
        return appointment.plan.protocol.name if appointment.plan_id else None


class OutOfUseSerializer(serializers.Serializer):
    starts_at = api_fields.DateTimeField()
    ends_at = api_fields.DateTimeField()
    reason = serializers.CharField()


class BoardChairSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    active = serializers.BooleanField()
    out_of_use = OutOfUseSerializer(
        many=True, help_text="The chair's closures touching the day: nothing is booked in it then."
    )
    appointments = BoardEntrySerializer(many=True)


class DayBoardSerializer(serializers.Serializer):
    site = serializers.IntegerField()
    date = api_fields.DateField()
    time_zone = serializers.CharField()
    nurses_on_shift = serializers.ListField(child=serializers.IntegerField())
    chairs = BoardChairSerializer(many=True)


class DayBoardView(ClinicAPIMixin, APIView):
    access = {"get": DESK}

    @extend_schema(
        summary="The day board: every chair of a site for one local day",
        parameters=[BoardQuerySerializer],
        responses=DayBoardSerializer,
    )
    def get(self, request, site_id: int):
        site = get_object_or_404(scope_to_actor(Site.objects.all(), self.actor), pk=site_id)
        query = BoardQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        day = query.validated_data.get("date") or timezone.now().astimezone(site.zone).date()
        appointments = day_board(site=site, day=day)
        patients_shown(request, patient_ids_of(appointments))
        start, end = day_bounds(day, site.zone)
        nurses = list(
            StaffMember.objects.filter(
                role=Role.NURSE, active=True, shifts__site=site, shifts__starts_at__lt=end, shifts__ends_at__gt=start
            )
            .distinct()
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        by_chair: dict[int, list] = {}
        for appointment in appointments:
            by_chair.setdefault(appointment.chair_id, []).append(appointment)
        chairs = list(Chair.objects.filter(site=site).order_by("name", "pk"))
        out_of_use: dict[int, list[Closure]] = {}
        for closure in Closure.objects.filter(
            site=site, chair__isnull=False, starts_at__lt=end, ends_at__gt=start
        ).order_by("starts_at", "pk"):
            out_of_use.setdefault(closure.chair_id, []).append(closure)  # type: ignore[arg-type]
        # A chair taken out of use today still shows the sessions already in it.
        shown = [c for c in chairs if c.active or c.pk in by_chair]
        body = {
            "site": site.pk,
            "date": day,
            "time_zone": site.time_zone,
            "nurses_on_shift": nurses,
            "chairs": [
                {
                    "id": c.pk,
                    "name": c.name,
                    "active": c.active,
                    "out_of_use": out_of_use.get(c.pk, []),
                    "appointments": by_chair.get(c.pk, []),
                }
                for c in shown
            ],
        }
        return Response(DayBoardSerializer(body).data)


MAX_TO_MOVE_AHEAD = dt.timedelta(weeks=52)


class ToMoveQuerySerializer(api_fields.StrictQueryMixin, serializers.Serializer):
    until = api_fields.DateField(
        required=False,
        help_text=f"Last local day looked at; {TO_MOVE_HORIZON.days} days ahead if left out, at most {MAX_TO_MOVE_AHEAD.days}.",
    )


class SessionToMoveSerializer(BoardEntrySerializer):
    chair = serializers.IntegerField(source="chair_id")
    chair_name = serializers.CharField(source="chair.name")


class ToMoveEntrySerializer(serializers.Serializer):
    session = SessionToMoveSerializer(source="appointment")
    reason = serializers.SerializerMethodField(
        help_text="What no longer fits, for a program (as a booking_conflict's)."
    )
    problem = serializers.CharField(help_text="What no longer fits, in words.")

    def get_reason(self, entry) -> str:
        return problem_reason(entry.problem)


class SessionsToMoveSerializer(serializers.Serializer):
    site = serializers.IntegerField()
    time_zone = serializers.CharField()
    until = api_fields.DateTimeField()
    sessions = ToMoveEntrySerializer(many=True)


class SessionsToMoveView(ClinicAPIMixin, APIView):
    access = {"get": DESK}

    @extend_schema(
        summary="Sessions to move: those booked at a site that its hours, closures, chairs, shifts, ratio or setup limits no longer allow",
        parameters=[ToMoveQuerySerializer],
        responses=SessionsToMoveSerializer,
    )
    def get(self, request, site_id: int):
        site = get_object_or_404(scope_to_actor(sites_with_schedule(), self.actor), pk=site_id)
        query = ToMoveQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        now = timezone.now()
        last = query.validated_data.get("until")
        if last is None:
            until = now + TO_MOVE_HORIZON
        else:
            _, until = day_bounds(last, site.zone)
            if until > now + MAX_TO_MOVE_AHEAD:
                raise serializers.ValidationError({"until": [f"Look at most {MAX_TO_MOVE_AHEAD.days} days ahead."]})
        found = sessions_to_move(site=site, now=now, until=until) if until > now else []
        patients_shown(request, sorted({entry.appointment.patient_id for entry in found}))
        body = {"site": site.pk, "time_zone": site.time_zone, "until": until, "sessions": found}
        return Response(SessionsToMoveSerializer(body).data)
