"""The API's shared base (authentication order, roles, pagination, error schema) and the
clinic's configuration endpoints: sites, chairs, staff, opening hours, closures, shifts and
each site's reminder policy.

Configuration is read by every staff role (the reminder policy by clinic administrators
only) and written by clinic administrators only, each at the sites they work at."""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Mapping
from typing import Any

import django_filters
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils.http import parse_etags
from drf_spectacular.utils import extend_schema, extend_schema_field, extend_schema_view
from rest_framework import mixins, serializers, viewsets
from rest_framework.authentication import SessionAuthentication
from rest_framework.exceptions import MethodNotAllowed, NotFound, PermissionDenied
from rest_framework.pagination import CursorPagination, LimitOffsetPagination
from rest_framework.permissions import SAFE_METHODS

from clinic import api_fields
from clinic.api_errors import ClinicAutoSchema, Conflict, PreconditionFailed
from clinic.api_fields import (
    CONTROL_CHARACTER_MESSAGE,
    ClinicModelFieldMapping,
    StrictInputMixin,
    has_control_characters,
    shown_safely,
)
from clinic.audit import PatientsShownMixin
from clinic.errors import DomainError
from clinic.models import (
    Chair,
    Closure,
    OpeningHours,
    ReminderPolicy,
    Role,
    Route,
    Shift,
    Site,
    StaffMember,
    check_shift_period,
)
from clinic.permissions import (
    ADMINS,
    STAFF,
    Actor,
    RoleAccess,
    actor_for,
    scope_serializer,
    scope_to_actor,
    site_ids,
    works_at,
)
from clinic.security.authentication import ClinicTokenAuthentication

# --- Shared base -------------------------------------------------------------


class ChangedSinceRead(DomainError):
    """A write sent with If-Match whose tag is not the resource's current ETag: someone changed it
    after the client read it, so this change is not made over theirs (RFC 9110 §13.1.1)."""

    code = "changed_since_read"
    http_status = 412


def representation_etag(representation: Any) -> str:
    """A strong entity tag for a representation: a digest of its JSON (keys sorted), so it changes
    exactly when what a GET answers changes, for any model, with no version column."""
    text = json.dumps(representation, sort_keys=True, separators=(",", ":"), cls=DjangoJSONEncoder, default=str)
    return '"' + hashlib.sha256(text.encode()).hexdigest()[:32] + '"'


EMPTY_IF_MATCH = {"If-Match": ["The header is empty: send the ETag you read, or leave it out."]}


def if_match_tags(header: str) -> list[str]:
    """The strong tags an If-Match lists, `["*"]` for `*`. Weak tags are left out, since If-Match
    compares strongly and a weak tag matches nothing (RFC 9110 §13.1.1); empty list elements are
    ignored (§5.6.1.2). A header naming no tag at all, or an element that is not an entity tag,
    is a 400: a client that meant a condition must not have its change made unconditionally."""
    elements = [element.strip() for element in header.split(",") if element.strip()]
    if not elements:
        raise serializers.ValidationError(EMPTY_IF_MATCH)
    tags = parse_etags(header)
    if tags != ["*"] and len(tags) != len(elements):
        # The plans' own tags are read by their endpoints (`"3"`, or 3 unquoted); here a tag is quoted.
        raise serializers.ValidationError({"If-Match": ['Send entity tags as ETag gave them, e.g. "5f2c…", or *.']})
    return [tag for tag in tags if not tag.startswith("W/")]


@extend_schema_field({"type": "string", "pattern": r"^\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?$", "example": "08:00:00"})
class WallClockTimeField(serializers.TimeField):
    """A local wall-clock time without an offset. OpenAPI's `format: time` is RFC 3339's
    full-time, which demands an offset, so the schema says what is really sent."""


def _whole_number(raw: str) -> bool:
    """ASCII digits only: str.isdigit() also takes "²" and "①", which int() refuses."""
    raw = raw.strip()
    return raw.isascii() and raw.isdigit()


def _checked_limit(request, name: str, most: int) -> None:
    # A page size that is no number is a 400 naming it, not the default page.
    raw = request.query_params.get(name)
    if raw is not None and not (_whole_number(raw) and int(raw) >= 1):
        raise serializers.ValidationError({name: [f"Give a whole number from 1 to {most}."]})


CURSOR_ORDERINGS = ("id", "-id")


class ClinicCursorPagination(CursorPagination):
    """Pages that hold their place (`?paging=cursor`): the list goes by id (or `-id`), and each
    `next` link names the last id shown, so a row added or removed before it does not shift the
    later pages, as it would with an offset. By id only: DRF's cursor places a page by the first
    ordering term alone (ties by an offset, capped at 1000 rows, and a related term not at all),
    and an id is unique, never a patient's name, and checked as a number. No count."""

    page_size = 50
    max_page_size = 200
    page_size_query_param = "limit"

    def get_page_size(self, request):
        _checked_limit(request, self.page_size_query_param, self.max_page_size)
        return super().get_page_size(request)

    def get_ordering(self, request, queryset, view):
        asked = request.query_params.get("ordering")
        if asked is None:
            return ("id",)
        if asked.strip() not in CURSOR_ORDERINGS:
            raise serializers.ValidationError(
                {"ordering": ["Cursor pages go by id: leave ordering out, or give id or -id."]}
            )
        return (asked.strip(),)

    def decode_cursor(self, request):
        cursor = super().decode_cursor(request)
        if cursor is not None and cursor.position is not None and not _whole_number(str(cursor.position)):
            raise NotFound(self.invalid_cursor_message)  # a cursor this server did not write
        return cursor


class ClinicPagination(LimitOffsetPagination):
    """Offset pages (`limit`, `offset`, with a `count`) unless the client asks for cursor pages
    (`paging=cursor`, then the `cursor` each `next` link carries): ClinicCursorPagination."""

    default_limit = 50
    max_limit = 200
    paging_query_param = "paging"
    _cursor: ClinicCursorPagination | None = None

    def paginate_queryset(self, queryset, request, view=None):
        paging = request.query_params.get(self.paging_query_param, "offset")
        if paging not in ("offset", "cursor"):
            raise serializers.ValidationError({self.paging_query_param: ["Give offset (the default) or cursor."]})
        by_cursor = paging == "cursor" or ClinicCursorPagination.cursor_query_param in request.query_params
        if not by_cursor:
            return super().paginate_queryset(queryset, request, view)
        if self.offset_query_param in request.query_params:
            raise serializers.ValidationError(
                {self.offset_query_param: ["Cursor pages take no offset; follow `next`."]}
            )
        self._cursor = ClinicCursorPagination()
        return self._cursor.paginate_queryset(queryset, request, view)

    def get_paginated_response(self, data):
        if self._cursor is not None:
            return self._cursor.get_paginated_response(data)
        return super().get_paginated_response(data)

    def get_paginated_response_schema(self, schema):
        answer = super().get_paginated_response_schema(schema)
        # A cursor page (`paging=cursor`) has no count.
        answer["required"] = [name for name in answer.get("required", []) if name != "count"]
        answer["properties"]["count"]["description"] = "Offset pages only: cursor pages carry no count."
        return answer

    def get_schema_operation_parameters(self, view):
        return [
            *super().get_schema_operation_parameters(view),
            {
                "name": self.paging_query_param,
                "required": False,
                "in": "query",
                "description": "offset (the default: `count`, `limit`, `offset`) or cursor (pages by id that hold "
                "their place while rows are added: follow `next`; no `count`; `ordering` id or -id only).",
                "schema": {"type": "string", "enum": ["offset", "cursor"]},
            },
            {
                "name": ClinicCursorPagination.cursor_query_param,
                "required": False,
                "in": "query",
                "description": "The place a cursor page's `next` or `previous` link carries.",
                "schema": {"type": "string"},
            },
        ]

    def get_limit(self, request):
        _checked_limit(request, self.limit_query_param, self.max_limit)
        return super().get_limit(request)

    def get_offset(self, request):
        raw = request.query_params.get(self.offset_query_param)
        if raw is not None and not _whole_number(raw):
            raise serializers.ValidationError({self.offset_query_param: ["Give a whole number from 0."]})
        # PostgreSQL's OFFSET is a bigint; a client's 10**30 must be an empty page, not a 500.
        return min(super().get_offset(request), 10**12)


class ClinicAPIMixin(PatientsShownMixin):
    """Token first, so an anonymous request is told 401 with `WWW-Authenticate: Token`
    (session authentication alone cannot send a challenge and DRF would answer 403).
    Lists and details name the patients they answered for the access log (PatientsShownMixin)."""

    authentication_classes = [ClinicTokenAuthentication, SessionAuthentication]
    # Path ids are integers PostgreSQL can hold; anything else (17.5, null,null) matches no
    # route and answers 404 in the error shape, never a ValueError or an out-of-range 400.
    lookup_value_regex = r"[0-9]{1,18}"
    permission_classes = [RoleAccess]
    pagination_class = ClinicPagination
    schema = ClinicAutoSchema()
    access: dict[str, frozenset[str]] = {}
    error_codes: dict[str, tuple[str, ...]] = {}
    # Whether its writes read If-Match (the plans: their version is the ETag). Elsewhere a write
    # sent with If-Match is refused (412) rather than applied as if the condition held.
    honours_if_match: bool | frozenset[str] = False  # or the names of the actions that read it
    # Whether each detail answer carries the ETag of its representation (`representation_etag`)
    # and each write to one object (an update, a delete, an action on it) sent with If-Match is
    # made only when that tag still holds, checked with the object's row locked until the write
    # commits. Without If-Match a write goes ahead as before.
    representation_etags = False

    @property
    def actor(self) -> Actor:
        return actor_for(self.request)

    def filter_queryset(self, queryset):
        # Every list and every get_object() passes here: rows at a site the staff member does not
        # work at (or another patient's) are filtered out, so they answer 404 like missing ones.
        return super().filter_queryset(scope_to_actor(queryset, self.actor))

    def representation(self, obj: Any) -> Any:
        """What a GET of this object answers, whose digest is its ETag (an action reading another
        serializer for its URL overrides this)."""
        return self.get_serializer(obj).data

    def get_object(self):
        return self.held_to_if_match(self.read_object())

    def read_object(self):
        """The object of a detail URL, scoped to the asker and named in the access log, with no
        If-Match check (an idempotent retry reads it this way, then checks in its first run)."""
        return super().get_object()

    def held_to_if_match(self, obj):
        """`obj` if the write's If-Match holds for it: its row is locked first (to the commit, so
        nobody changes it between the check and this write) and read again, and the tag compared
        is of that fresh read. Without a conditional If-Match, `obj` as it is."""
        tags = self._conditional_tags()
        if tags is None:
            return obj
        # Locked on its own by id: the list filters a detail URL may carry (DISTINCT) cannot take
        # FOR UPDATE. NO KEY: rows that only refer to it (a new shift for a staff member) need not wait.
        model = type(obj)
        list(model._base_manager.select_for_update(no_key=True).filter(pk=obj.pk).values_list("pk"))
        fresh = self.get_queryset().get(pk=obj.pk)
        current = representation_etag(self.representation(fresh))
        if current not in tags:
            raise ChangedSinceRead(
                "This was changed after you read it, so your change was not made over the new version. "
                "Read it again (its ETag is in `details.current_etag`) and apply your change to what is there now.",
                details={"current_etag": current},
            )
        return fresh

    def _conditional_tags(self) -> list[str] | None:
        """The tags a write's If-Match lists, when this object's write is conditional; None when
        it is not (a read, no If-Match, `*`, or a viewset whose tags are its own versions)."""
        if not self.representation_etags or self.request.method in SAFE_METHODS:
            return None
        header = self.request.headers.get("If-Match")
        if header is None:
            return None
        tags = if_match_tags(header)
        return None if tags == ["*"] else tags

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        if (
            self.representation_etags
            and request.method != "OPTIONS"  # the metadata is not the object's representation
            and self._is_detail()
            and 200 <= response.status_code < 300
            and isinstance(getattr(response, "data", None), Mapping)
            and not response.has_header("ETag")
        ):
            response["ETag"] = representation_etag(response.data)
        return response

    def get_serializer(self, *args, **kwargs):
        return scope_serializer(super().get_serializer(*args, **kwargs), self.actor)

    def scoped_input(self, serializer_class, **kwargs) -> dict:
        """Validate the request body with `serializer_class`, its related fields narrowed to the actor's sites."""
        serializer = scope_serializer(serializer_class(data=self.request.data, **kwargs), self.actor)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data

    def dispatch(self, request, *args, **kwargs):
        # Each request is one transaction: a write is all or nothing, and a statement the
        # database refused (a value out of range) cannot leave the connection aborted for
        # whatever runs after the view (the access log). Inside the transaction the access-log
        # middleware opens for a write, no savepoint is needed: an error rolls back the lot.
        with transaction.atomic(savepoint=not getattr(request, "in_request_transaction", False)):
            return super().dispatch(request, *args, **kwargs)

    def initial(self, request, *args, **kwargs):
        # A method this route does not have is 405, not the 403 the role check would give it.
        method = request.method.lower()
        if method not in self.http_method_names or not hasattr(self, method):
            raise MethodNotAllowed(request.method)
        super().initial(request, *args, **kwargs)
        # After authentication and the role check, so a stranger is told 401/403 first.
        refuse_control_characters(request)
        if_match = request.headers.get("If-Match")
        if request.method in SAFE_METHODS or if_match is None:
            return
        if not if_match.strip():
            raise serializers.ValidationError(EMPTY_IF_MATCH)
        # `*` holds for any resource that exists (RFC 9110 §13.1.1), with or without an ETag.
        if if_match.strip() == "*" or self._honours_if_match():
            return
        if self.representation_etags and self._is_detail():
            if_match_tags(if_match)  # a malformed header is a 400 before anything is read
            return
        raise PreconditionFailed()

    def _is_detail(self) -> bool:
        return (self.lookup_url_kwarg or self.lookup_field) in self.kwargs

    def _honours_if_match(self) -> bool:
        honours = self.honours_if_match
        if isinstance(honours, bool):
            return honours
        return getattr(self, "action", None) in honours

    def handle_exception(self, exc):
        response = super().handle_exception(exc)
        transaction.set_rollback(True)
        return response


def _strings_with_control_characters(value: Any, path: str) -> list[str]:
    if isinstance(value, str):
        return [path] if has_control_characters(value) else []
    if isinstance(value, Mapping):
        found = []
        for key, item in value.items():
            name = f"{path}.{key}" if path else str(key)
            found += [name] if has_control_characters(str(key)) else _strings_with_control_characters(item, name)
        return found
    if isinstance(value, list | tuple):
        return [
            hit
            for index, item in enumerate(value)
            for hit in _strings_with_control_characters(item, f"{path}[{index}]")
        ]
    return []


def refuse_control_characters(request) -> None:
    """No string anywhere in the body or the query may hold a control character (a NUL, an
    escape); parsers and PostgreSQL would otherwise accept, truncate or choke on them."""
    hits = _strings_with_control_characters(request.data, "")
    for key in request.query_params:
        for value in request.query_params.getlist(key):
            if has_control_characters(key) or has_control_characters(value):
                hits.append(key)
    if hits:
        # A name may itself hold the character: it is shown with U+FFFD in its place.
        raise serializers.ValidationError({shown_safely(name): [CONTROL_CHARACTER_MESSAGE] for name in hits})


class CleanModelSerializer(StrictInputMixin, ClinicModelFieldMapping, serializers.ModelSerializer):
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
        many = {
            name: validated_data.pop(name) for name in list(validated_data) if model._meta.get_field(name).many_to_many
        }
        instance = model(**validated_data)
        instance._history_user = self._actor_user()
        instance._change_reason = "Created through the API"
        instance.save()
        for name, value in many.items():
            getattr(instance, name).set(value)
        return instance

    def change_reason(self) -> str:
        """The history's reason for an edit through the API."""
        return "Changed through the API"

    def update(self, instance, validated_data):
        instance._history_user = self._actor_user()
        instance._change_reason = self.change_reason()
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


def require_clinic_wide(actor: Actor, message: str) -> None:
    """Refuse (403, `message`) a change that holds at every site to anyone but clinic-wide staff."""
    if not (actor.staff is not None and actor.staff.all_sites):
        raise PermissionDenied(message)


class ConfigViewSet(ClinicAPIMixin, AtomicWritesMixin, viewsets.ModelViewSet):
    access = CONFIG_ACCESS
    representation_etags = True
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]
    error_codes = {"destroy": ("409",), "create": ("409",), "partial_update": ("409",)}


# --- Sites -------------------------------------------------------------------


class SiteSerializer(CleanModelSerializer):
    phone = serializers.CharField(max_length=32)

    class Meta:
        model = Site
        fields = [
            "id",
            "name",
            "time_zone",
            "address",
            "phone",
            "max_patients_per_nurse",
            "setups_per_nurse",
            "placement_policy",
            "slot_step_minutes",
            "arrival_notes",
            "country",
            "subdivision",
        ]

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

    def perform_create(self, serializer):
        # The administrator who opens a site works there; otherwise a site-bound administrator
        # could create a site and then never see it again.
        with transaction.atomic():
            site = serializer.save()
            staff = self.actor.staff
            if staff is not None and not staff.all_sites:
                staff.sites.add(site)


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


class StaffSerializer(StrictInputMixin, ClinicModelFieldMapping, serializers.ModelSerializer):
    username = serializers.CharField(source="user.username", read_only=True)
    display_name = serializers.CharField(read_only=True)
    role = serializers.ChoiceField(choices=Role.choices)

    class Meta:
        model = StaffMember
        fields = ["id", "username", "display_name", "role", "sites", "all_sites", "active"]
        # Clinic-wide access is granted in the Django admin, never by a site's administrator.
        read_only_fields = ["id", "username", "display_name", "all_sites"]

    def to_representation(self, instance):
        data = super().to_representation(instance)
        # A reader sees only their own sites (another site's id answers 404 or 400 to them): a
        # colleague's other sites are not named, only those they share.
        readable = site_ids(actor_for(self.context["request"]).staff)
        if readable is not None:
            data["sites"] = [pk for pk in data["sites"] if pk in readable]
        return data


class StaffFilter(django_filters.FilterSet):
    site = django_filters.ModelChoiceFilter(
        field_name="sites",  # for the schema: the method reads all_sites too
        queryset=Site.objects.all(),
        method="works_at_site",
        help_text="Who works at this site: its own staff and the clinic-wide staff.",
    )

    class Meta:
        model = StaffMember
        fields = ["role", "active", "site"]

    def works_at_site(self, queryset, name, value):
        # Clinic-wide staff work at every site (works_at, the booking engine and shifts count them).
        listed = StaffMember.sites.through.objects.filter(staffmember_id=OuterRef("pk"), site_id=value.pk)
        return queryset.filter(Q(all_sites=True) | Exists(listed))


@extend_schema_view(
    list=extend_schema(summary="List staff"),
    retrieve=extend_schema(summary="One staff member"),
    partial_update=extend_schema(summary="Change a staff member's role, sites or active flag (clinic admins)"),
)
class StaffViewSet(
    ClinicAPIMixin,
    AtomicWritesMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """Staff accounts are created in the Django admin (they need a login); the API reads them
    and lets administrators change role, sites and the active flag."""

    queryset = StaffMember.objects.select_related("user").prefetch_related("sites")
    serializer_class = StaffSerializer
    access = CONFIG_ACCESS
    representation_etags = True
    http_method_names = ["get", "patch", "head", "options"]
    filterset_class = StaffFilter
    ordering_fields = ["id", "role", "user__last_name"]
    ordering = ["user__last_name", "user__first_name", "id"]

    def perform_update(self, serializer):
        # `sites` names only the editor's sites (the field is scoped): the member's other
        # sites are not the editor's to take away.
        editor_sites = site_ids(self.actor.staff)
        member = serializer.instance
        if member.pk == self.actor.staff.pk and serializer.validated_data.get("role", member.role) != member.role:
            # Administrators see no patient data; a clinical role is granted by someone else.
            raise PermissionDenied("You cannot change your own role; another administrator does that.")
        reaches_beyond = editor_sites is not None and (
            member.all_sites or any(site.pk not in editor_sites for site in member.sites.all())
        )
        if reaches_beyond and {"role", "active"} & set(serializer.validated_data):
            # A role or the active flag holds at every site the member works at: a site's
            # administrator changes them only for staff of their own sites alone.
            raise PermissionDenied(
                "This staff member also works at sites you do not administer: only clinic-wide "
                "staff change their role or active flag."
            )
        kept = []
        if "sites" in serializer.validated_data and editor_sites is not None:
            kept = [site for site in serializer.instance.sites.all() if site.pk not in editor_sites]
        with transaction.atomic():
            member = serializer.save()
            if kept:
                member.sites.add(*kept)


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
        # `chair`: one of the site's chairs out of use for the period, the rest of the site open.
        fields = ["id", "site", "chair", "starts_at", "ends_at", "reason"]
        extra_kwargs = {"chair": {"required": False}}


class ClosureFilter(django_filters.FilterSet):
    starts_before = api_fields.IsoDateTimeFilter(field_name="starts_at", lookup_expr="lt")
    ends_after = api_fields.IsoDateTimeFilter(field_name="ends_at", lookup_expr="gt")

    class Meta:
        model = Closure
        fields = ["site", "chair", "starts_before", "ends_after"]


@extend_schema_view(
    list=extend_schema(summary="List closures (no site = every site; a chair = that chair out of use)"),
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

    def _require_site_unless_clinic_wide(self, serializer) -> None:
        # A closure without a site closes every site: only clinic-wide staff decide that.
        staff = self.actor.staff
        site = serializer.validated_data.get("site", serializer.instance.site if serializer.instance else None)
        if site is None and not (staff is not None and staff.all_sites):
            raise serializers.ValidationError(
                {"site": ["Name one of your sites; only clinic-wide staff close every site."]}
            )

    def perform_create(self, serializer):
        self._require_site_unless_clinic_wide(serializer)
        super().perform_create(serializer)

    def _require_clinic_wide_for_every_site_closure(self, instance: Closure) -> None:
        # Every staff member sees an all-site closure; changing or removing one reopens (or
        # closes) every site, so that too is for clinic-wide staff only.
        if instance.site_id is None:
            require_clinic_wide(self.actor, "Only clinic-wide staff change or remove a closure of every site.")

    def perform_update(self, serializer):
        self._require_clinic_wide_for_every_site_closure(serializer.instance)
        self._require_site_unless_clinic_wide(serializer)
        super().perform_update(serializer)

    def perform_destroy(self, instance):
        self._require_clinic_wide_for_every_site_closure(instance)
        super().perform_destroy(instance)


# --- Shifts ------------------------------------------------------------------


class ShiftSerializer(CleanModelSerializer):
    class Meta:
        model = Shift
        fields = ["id", "staff", "site", "starts_at", "ends_at"]

    def validate(self, attrs):
        staff = attrs.get("staff", getattr(self.instance, "staff", None))
        site = attrs.get("site", getattr(self.instance, "site", None))
        starts_at = attrs.get("starts_at", getattr(self.instance, "starts_at", None))
        ends_at = attrs.get("ends_at", getattr(self.instance, "ends_at", None))
        if staff is not None and not staff.active:
            raise serializers.ValidationError({"staff": ["This staff member is no longer active."]})
        if staff is not None and site is not None and not works_at(staff, site):
            raise serializers.ValidationError({"site": ["This staff member does not work at that site."]})
        if starts_at is not None and ends_at is not None:
            # The period's own rules (ends after it starts, at most MAX_SHIFT_LENGTH) first: a week-long
            # shift is a 400 saying how long a shift may be, not a 409 about the shifts it overlaps.
            try:
                check_shift_period(starts_at, ends_at)
            except DjangoValidationError as exc:
                raise serializers.ValidationError(exc.message_dict) from exc
        if staff is not None and starts_at is not None and ends_at is not None:
            # Checked before the model's own validation so a clash is a 409 that says which shift;
            # the exclusion constraint still refuses a concurrent one.
            clash = (
                Shift.objects.filter(staff=staff, starts_at__lt=ends_at, ends_at__gt=starts_at)
                .exclude(pk=getattr(self.instance, "pk", None))
                .order_by("starts_at")
                .first()
            )
            if clash is not None:
                raise Conflict(self._clash_message(staff, clash))
        return super().validate(attrs)

    def _clash_message(self, staff: StaffMember, clash: Shift) -> str:
        if not works_at(actor_for(self.context["request"]).staff, clash.site_id):
            # A shift at a site the reader does not work at answers 404 to them: its id and hours are not theirs.
            return (
                f"{staff.display_name} already works at another site at that time; shifts of one person cannot overlap."
            )
        return (
            f"{staff.display_name} already works from {clash.starts_at:%Y-%m-%d %H:%M} to "
            f"{clash.ends_at:%Y-%m-%d %H:%M} UTC (shift {clash.pk}); shifts of one person cannot overlap."
        )


class ShiftFilter(django_filters.FilterSet):
    starts_before = api_fields.IsoDateTimeFilter(field_name="starts_at", lookup_expr="lt")
    ends_after = api_fields.IsoDateTimeFilter(field_name="ends_at", lookup_expr="gt")

    class Meta:
        model = Shift
        fields = ["site", "staff", "starts_before", "ends_after"]


@extend_schema_view(
    list=extend_schema(summary="Shifts at your sites"),
    retrieve=extend_schema(summary="One shift"),
    create=extend_schema(summary="Add a shift (clinic admins); an overlap with the person's other shifts is 409"),
    partial_update=extend_schema(summary="Change a shift (clinic admins)"),
    destroy=extend_schema(summary="Remove a shift (clinic admins)"),
)
class ShiftViewSet(ConfigViewSet):
    queryset = Shift.objects.select_related("staff__user", "site")
    serializer_class = ShiftSerializer
    filterset_class = ShiftFilter
    ordering_fields = ["starts_at", "id"]
    ordering = ["starts_at", "id"]


# --- Reminder policy ---------------------------------------------------------


class ReminderPolicySerializer(CleanModelSerializer):
    offsets_hours = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=24 * 14),
        max_length=10,
        help_text="Whole hours before the session, each once, e.g. [72, 24, 2].",
    )
    quiet_hours_start = WallClockTimeField(required=False)
    quiet_hours_end = WallClockTimeField(required=False)

    class Meta:
        model = ReminderPolicy
        fields = [
            "id",
            "site",
            "offsets_hours",
            "email_enabled",
            "sms_enabled",
            "quiet_hours_start",
            "quiet_hours_end",
            "patient_notice_hours",
            "max_attempts",
            "subject_template",
            "body_template",
            "sms_template",
        ]

    def get_fields(self):
        fields = super().get_fields()
        if self.instance is not None:
            fields["site"].read_only = True  # a policy stays with its site
        return fields

    def _renders(self, value: str) -> str:
        # Compiled, then rendered once as a reminder of the policy's site would be (ReminderPolicy.clean).
        policy = self.instance if self.instance is not None else ReminderPolicy()
        problem = policy.template_problem(value)
        if problem is not None:
            raise serializers.ValidationError(problem)
        return value

    validate_subject_template = _renders
    validate_body_template = _renders
    validate_sms_template = _renders


@extend_schema_view(
    list=extend_schema(summary="Reminder policies of your sites (clinic admins)"),
    retrieve=extend_schema(summary="One site's reminder policy (clinic admins)"),
    create=extend_schema(summary="Give a site without one its reminder policy (clinic admins)"),
    partial_update=extend_schema(summary="Change a site's reminder policy (clinic admins)"),
)
class ReminderPolicyViewSet(ConfigViewSet):
    """Changes apply to reminders written from now on (bookings, moves); reminders already
    scheduled keep their times."""

    queryset = ReminderPolicy.objects.all()
    serializer_class = ReminderPolicySerializer
    http_method_names = ["get", "post", "patch", "head", "options"]  # a site always keeps a policy
    access = {name: ADMINS for name in CONFIG_ACCESS}
    filterset_fields = ["site"]
    ordering_fields = ["site", "id"]
    ordering = ["site", "id"]
