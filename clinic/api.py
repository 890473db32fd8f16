"""The API's shared base (authentication order, roles, pagination, error schema) and the
clinic's configuration endpoints: sites, chairs, staff, opening hours, closures.

Configuration is read by every staff role and written by clinic administrators only."""

from __future__ import annotations

import copy

import django_filters
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from drf_spectacular.utils import extend_schema, extend_schema_field, extend_schema_view
from rest_framework import mixins, serializers, viewsets
from rest_framework.authentication import SessionAuthentication, TokenAuthentication
from rest_framework.pagination import LimitOffsetPagination

from clinic.api_errors import ClinicAutoSchema
from clinic.models import Chair, Closure, OpeningHours, Role, Route, Site, StaffMember
from clinic.permissions import ADMINS, STAFF, Actor, RoleAccess, actor_for

# --- Shared base -------------------------------------------------------------


@extend_schema_field({"type": "string", "pattern": r"^\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?$", "example": "08:00:00"})
class WallClockTimeField(serializers.TimeField):
    """A local wall-clock time without an offset. OpenAPI's `format: time` is RFC 3339's
    full-time, which demands an offset, so the schema says what is really sent."""


class ClinicPagination(LimitOffsetPagination):
    default_limit = 50
    max_limit = 200

    def get_offset(self, request):
        # PostgreSQL's OFFSET is a bigint; a client's 10**30 must be an empty page, not a 500.
        return min(super().get_offset(request), 10**12)


class ClinicAPIMixin:
    """Token first, so an anonymous request is told 401 with `WWW-Authenticate: Token`
    (session authentication alone cannot send a challenge and DRF would answer 403)."""

    authentication_classes = [TokenAuthentication, SessionAuthentication]
    permission_classes = [RoleAccess]
    pagination_class = ClinicPagination
    schema = ClinicAutoSchema()
    access: dict[str, frozenset[str]] = {}
    error_codes: dict[str, tuple[str, ...]] = {}

    @property
    def actor(self) -> Actor:
        return actor_for(self.request)

    def dispatch(self, request, *args, **kwargs):
        # Each request is one transaction: a write is all or nothing, and a statement the
        # database refused (a value out of range) cannot leave the connection aborted for
        # whatever runs after the view (the access log). Inside the transaction the access-log
        # middleware opens for a write, no savepoint is needed: an error rolls back the lot.
        with transaction.atomic(savepoint=not getattr(request, "in_request_transaction", False)):
            return super().dispatch(request, *args, **kwargs)

    def handle_exception(self, exc):
        response = super().handle_exception(exc)
        transaction.set_rollback(True)
        return response


class CleanModelSerializer(serializers.ModelSerializer):
    """Runs the model's own full_clean (clean(), field validators, unique and check
    constraints) so a bad value is a 400 naming the field, never a database error."""

    def validate(self, attrs):
        attrs = super().validate(attrs)
        model = self.Meta.model
        instance = copy.copy(self.instance) if self.instance is not None else model()
        skip = [field.name for field in model._meta.get_fields() if field.many_to_many]
        for name, value in attrs.items():
            if name not in skip:
                setattr(instance, name, value)
        try:
            instance.full_clean(exclude=skip)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.message_dict) from exc
        return attrs

    def _actor_user(self):
        request = self.context.get("request")
        return getattr(request, "user", None)

    def create(self, validated_data):
        # Saved by hand rather than objects.create(), so the history row names the API user.
        model = self.Meta.model
        many = {name: validated_data.pop(name) for name in list(validated_data) if model._meta.get_field(name).many_to_many}
        instance = model(**validated_data)
        instance._history_user = self._actor_user()
        instance._change_reason = "Created through the API"
        instance.save()
        for name, value in many.items():
            getattr(instance, name).set(value)
        return instance

    def update(self, instance, validated_data):
        instance._history_user = self._actor_user()
        instance._change_reason = "Changed through the API"
        return super().update(instance, validated_data)


class AtomicWritesMixin:
    """Each write in its own savepoint, so a refused write leaves the request's connection usable."""

    def perform_create(self, serializer):
        with transaction.atomic():
            serializer.save()

    def perform_update(self, serializer):
        with transaction.atomic():
            serializer.save()

    def perform_destroy(self, instance):
        with transaction.atomic():
            instance.delete()


CONFIG_ACCESS = {
    "list": STAFF,
    "retrieve": STAFF,
    "create": ADMINS,
    "update": ADMINS,
    "partial_update": ADMINS,
    "destroy": ADMINS,
}


class ConfigViewSet(ClinicAPIMixin, AtomicWritesMixin, viewsets.ModelViewSet):
    access = CONFIG_ACCESS
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]
    error_codes = {"destroy": ("409",), "create": ("409",), "partial_update": ("409",)}


# --- Sites -------------------------------------------------------------------


class SiteSerializer(CleanModelSerializer):
    phone = serializers.CharField(max_length=32)

    class Meta:
        model = Site
        fields = ["id", "name", "time_zone", "address", "phone", "max_patients_per_nurse", "slot_step_minutes", "arrival_notes"]

    def to_representation(self, instance):
        data = super().to_representation(instance)
        data["phone"] = str(instance.phone) if instance.phone else ""
        return data


@extend_schema_view(
    list=extend_schema(summary="List sites"),
    retrieve=extend_schema(summary="One site"),
    create=extend_schema(summary="Create a site (clinic admins)"),
    partial_update=extend_schema(summary="Edit a site (clinic admins)"),
)
class SiteViewSet(ConfigViewSet):
    queryset = Site.objects.all()
    serializer_class = SiteSerializer
    http_method_names = ["get", "post", "patch", "head", "options"]  # sites are never deleted
    filterset_fields = ["name", "time_zone"]
    ordering_fields = ["name", "id"]
    ordering = ["name"]


# --- Chairs ------------------------------------------------------------------


class ChairSerializer(CleanModelSerializer):
    equipment = serializers.ListField(child=serializers.ChoiceField(choices=Route.choices), required=False)

    class Meta:
        model = Chair
        fields = ["id", "site", "name", "active", "equipment"]


@extend_schema_view(
    list=extend_schema(summary="List chairs"),
    retrieve=extend_schema(summary="One chair"),
    create=extend_schema(summary="Add a chair (clinic admins)"),
    partial_update=extend_schema(summary="Edit a chair, e.g. take it out of use (clinic admins)"),
)
class ChairViewSet(ConfigViewSet):
    queryset = Chair.objects.all()
    serializer_class = ChairSerializer
    http_method_names = ["get", "post", "patch", "head", "options"]  # deactivate instead of deleting
    filterset_fields = ["site", "active"]
    ordering_fields = ["name", "id", "site"]
    ordering = ["site", "name"]


# --- Staff -------------------------------------------------------------------


class StaffSerializer(serializers.ModelSerializer):
    username = serializers.CharField(source="user.username", read_only=True)
    display_name = serializers.CharField(read_only=True)
    role = serializers.ChoiceField(choices=Role.choices)

    class Meta:
        model = StaffMember
        fields = ["id", "username", "display_name", "role", "sites", "active"]
        read_only_fields = ["id", "username", "display_name"]


class StaffFilter(django_filters.FilterSet):
    site = django_filters.ModelChoiceFilter(field_name="sites", queryset=Site.objects.all())

    class Meta:
        model = StaffMember
        fields = ["role", "active", "site"]


@extend_schema_view(
    list=extend_schema(summary="List staff"),
    retrieve=extend_schema(summary="One staff member"),
    partial_update=extend_schema(summary="Change a staff member's role, sites or active flag (clinic admins)"),
)
class StaffViewSet(ClinicAPIMixin, AtomicWritesMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin,
                   mixins.UpdateModelMixin, viewsets.GenericViewSet):
    """Staff accounts are created in the Django admin (they need a login); the API reads them
    and lets administrators change role, sites and the active flag."""

    queryset = StaffMember.objects.select_related("user").prefetch_related("sites")
    serializer_class = StaffSerializer
    access = CONFIG_ACCESS
    http_method_names = ["get", "patch", "head", "options"]
    filterset_class = StaffFilter
    ordering_fields = ["id", "role", "user__last_name"]
    ordering = ["user__last_name", "user__first_name", "id"]


# --- Opening hours and closures ---------------------------------------------


class OpeningHoursSerializer(CleanModelSerializer):
    opens_at = WallClockTimeField()
    closes_at = WallClockTimeField()

    class Meta:
        model = OpeningHours
        fields = ["id", "site", "weekday", "opens_at", "closes_at"]


@extend_schema_view(
    list=extend_schema(summary="List opening hours"),
    retrieve=extend_schema(summary="One day's opening hours"),
    create=extend_schema(summary="Set a weekday's hours (clinic admins)"),
    partial_update=extend_schema(summary="Change a weekday's hours (clinic admins)"),
    destroy=extend_schema(summary="Close a weekday (clinic admins)"),
)
class OpeningHoursViewSet(ConfigViewSet):
    queryset = OpeningHours.objects.all()
    serializer_class = OpeningHoursSerializer
    filterset_fields = ["site", "weekday"]
    ordering_fields = ["site", "weekday", "id"]
    ordering = ["site", "weekday"]


class ClosureSerializer(CleanModelSerializer):
    class Meta:
        model = Closure
        fields = ["id", "site", "starts_at", "ends_at", "reason"]


class ClosureFilter(django_filters.FilterSet):
    starts_before = django_filters.IsoDateTimeFilter(field_name="starts_at", lookup_expr="lt")
    ends_after = django_filters.IsoDateTimeFilter(field_name="ends_at", lookup_expr="gt")

    class Meta:
        model = Closure
        fields = ["site", "starts_before", "ends_after"]


@extend_schema_view(
    list=extend_schema(summary="List closures (no site = every site)"),
    retrieve=extend_schema(summary="One closure"),
    create=extend_schema(summary="Add a closure (clinic admins)"),
    partial_update=extend_schema(summary="Change a closure (clinic admins)"),
    destroy=extend_schema(summary="Remove a closure (clinic admins)"),
)
class ClosureViewSet(ConfigViewSet):
    queryset = Closure.objects.all()
    serializer_class = ClosureSerializer
    filterset_class = ClosureFilter
    ordering_fields = ["starts_at", "id"]
    ordering = ["starts_at", "id"]
