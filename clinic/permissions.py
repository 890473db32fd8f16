"""Who is asking, and what each role may do through the API.

Every API request resolves its user to one *actor*: an active staff member with
a role, or a patient with a portal account. A signed-in user who is neither gets
403 everywhere. Object-level access is never fetch-then-403: views filter their
querysets by the actor, so another patient's object answers 404 exactly like one
that does not exist.

Staff work at sites (`StaffMember.sites`) and see only what happens there; a staff
member flagged `all_sites` (clinic-wide) sees every site. The role never implies it:
a clinic administrator configures only their own sites unless flagged. What "at a
site" means, in one place (`scope_to_actor`, used by every API view and page):

- a site: itself; chairs, opening hours, shifts, reminder policy, vitals thresholds:
  their site; a closure: its site, and the clinic-wide closures (no site) for everyone;
- an appointment: its chair's site (where the patient actually sits); reminders,
  vitals, clearances, administration, recovery and controlled-substance log entries:
  their appointment's;
- a plan: its site;
- a patient: their home site, OR any site where they have an appointment or a plan
  (a patient from across town booked here is this site's patient too); evaluations,
  flags and questionnaire responses follow their patient;
- a staff member: anyone who shares a site with the viewer, and clinic-wide staff.

A patient actor sees only their own rows; nobody else sees anything.
"""

from __future__ import annotations

import functools
import itertools
import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, cast

from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import ImproperlyConfigured, ObjectDoesNotExist
from django.db import connection
from django.db.models import Exists, Manager, Model, OuterRef, Q, QuerySet
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from clinic.errors import DomainError
from clinic.models import Role, Site, StaffMember
from clinic.rows import ModelColumns, prepared_execute

if TYPE_CHECKING:  # rest_framework.views loads the authentication classes, which import this module
    from rest_framework.views import APIView

PATIENT = "patient"
FRONT_DESK = Role.FRONT_DESK.value
NURSE = Role.NURSE.value
PRESCRIBER = Role.PRESCRIBER.value
CLINIC_ADMIN = Role.CLINIC_ADMIN.value

# Role sets the views name in their `access` tables.
CLINICIANS = frozenset({NURSE, PRESCRIBER})
DESK = frozenset({FRONT_DESK, NURSE, PRESCRIBER})  # run the day: book, move, cancel, check in
STAFF = frozenset({FRONT_DESK, NURSE, PRESCRIBER, CLINIC_ADMIN})
ADMINS = frozenset({CLINIC_ADMIN})
PRESCRIBERS = frozenset({PRESCRIBER})
PATIENTS = frozenset({PATIENT})


@dataclass(frozen=True)
class Actor:
    role: str | None  # a Role value, "patient", or None for nobody we know
    staff: StaffMember | None = None
    patient: Model | None = None  # a patients.Patient (this base layer does not import the app above it)

    @property
    def is_clinician(self) -> bool:
        return self.role in CLINICIANS

    @property
    def is_staff(self) -> bool:
        return self.role in STAFF

    @property
    def is_patient(self) -> bool:
        return self.role == PATIENT


NOBODY = Actor(role=None)


# Minimum necessary, one rule for the web pages and the API: the roles that may read each
# sensitive field, by object. A field not listed here is shown to whoever may see the object;
# for anyone else a listed field is null in the API and absent from the pages.
FIELD_READERS: dict[str, dict[str, frozenset[str]]] = {
    "patient": {
        "medications": CLINICIANS,
        "seizure_history": CLINICIANS,
    },
    "plan": {
        "needs_attention": CLINICIANS,
        "attention_reason": CLINICIANS,
        "eligibility_override_by": CLINICIANS,
        "eligibility_override_reason": CLINICIANS,
        "eligibility_override_at": CLINICIANS,
        "eligibility_override_covers": CLINICIANS,
        "end_reason": CLINICIANS,
    },
    "appointment": {
        "notes": CLINICIANS,  # clinical notes of the session
        "rule_override_reason": CLINICIANS,  # holds clinical reasons ("BP 150/95 accepted")
    },
    # A controlled-substance log line's reason: why an infusion was stopped early or given by another
    # route, why a line was corrected. Clinical text; the register shows others that one was recorded.
    "cs_entry": {"reason": CLINICIANS},
}


def may_see_field(role: str | None, kind: str, field: str) -> bool:
    readers = FIELD_READERS.get(kind, {}).get(field)
    return readers is None or role in readers


def hidden_fields(role: str | None, kind: str) -> frozenset[str]:
    """The listed fields of `kind` that `role` may not read."""
    return frozenset(field for field, readers in FIELD_READERS.get(kind, {}).items() if role not in readers)


def visible_fields(role: str | None) -> dict[str, dict[str, bool]]:
    """For templates: `{% if see.plan.attention_reason %}`."""
    return {
        kind: {field: role in readers for field, readers in fields.items()} for kind, fields in FIELD_READERS.items()
    }


class FieldVisibilityMixin:
    """A serializer that answers null for the fields FIELD_READERS hides from the asking role
    (the view puts it in the context as `role`; without one, every listed field is hidden)."""

    visibility_kind: str = ""

    def to_representation(self, instance: Any) -> dict[str, Any]:
        data = super().to_representation(instance)  # type: ignore[misc]
        for name in hidden_fields(self.context.get("role"), self.visibility_kind):  # type: ignore[attr-defined]
            if name in data:
                data[name] = None
        return data


def staff_site_ids_sql(staff_alias: str) -> str:
    """A scalar subquery: the ids of the sites the staff row `staff_alias` works at, as an
    array (PostgreSQL; NULL for none) or a JSON list (SQLite)."""
    through = StaffMember.sites.through._meta.db_table
    aggregate = "ARRAY_AGG(site_id)" if connection.vendor == "postgresql" else "JSON_GROUP_ARRAY(site_id)"
    return f"(SELECT {aggregate} FROM {through} WHERE staffmember_id = {staff_alias}.id)"  # noqa: S608 - table names


# The ids of the sites a staff member works at, kept on their staff row (the request's own
# instance) once read, so however many checks a request makes ask the database once. Not a
# model field: an attribute of that one instance, read and set only through these two helpers.
_SITE_IDS_ATTR = "_scoped_site_ids"


def _known_site_ids(staff: StaffMember) -> frozenset[int] | None:
    """The site ids kept on `staff`, or None when they have not been read on this instance."""
    ids: frozenset[int] | None = getattr(staff, _SITE_IDS_ATTR, None)
    return ids


def _keep_site_ids(staff: StaffMember, ids: frozenset[int]) -> None:
    setattr(staff, _SITE_IDS_ATTR, ids)


def attach_staff(
    user: AbstractBaseUser, staff: StaffMember | None, linked_site_ids: str | Iterable[int] | None
) -> StaffMember | None:
    """Keep `staff` (None: the user is not staff) and its site ids on `user` for the request,
    so actor_for, site_ids and the services' "works at" checks read nothing more.

    `linked_site_ids` is the column staff_site_ids_sql reads: a list (PostgreSQL), JSON text
    (SQLite), or None for no site."""
    if staff is not None:
        if isinstance(linked_site_ids, str):  # SQLite hands the aggregate back as text
            ids: Iterable[int] | None = json.loads(linked_site_ids)
        else:
            ids = linked_site_ids
        _keep_site_ids(staff, frozenset(ids or ()))
        staff._state.fields_cache["user"] = user
    user._state.fields_cache["staff"] = staff
    return staff


@functools.cache
def _staff_read(vendor: str) -> tuple[str, ModelColumns[StaffMember]]:
    """The staff row with its site ids, by user; built once per database vendor."""
    columns = ModelColumns(StaffMember, "s")
    sql = (
        f"SELECT {columns.select}, {staff_site_ids_sql('s')} FROM {StaffMember._meta.db_table} s"  # noqa: S608
        " WHERE s.user_id = %s"
    )
    return sql, columns


def _staff_with_site_ids(user: AbstractBaseUser) -> StaffMember | None:
    """The user's staff row, with the ids of the sites they work at read in the same statement:
    every scoped look-up of the request then filters on known ids, and the booking service's
    own "works at this site" check reads nothing more. Token authentication reads both with
    the token (clinic.security.authentication), so an API request finds them here."""
    if "staff" in user._state.fields_cache:
        return user._state.fields_cache["staff"]
    sql, columns = _staff_read(connection.vendor)
    with connection.cursor() as cursor:
        prepared_execute(cursor, sql, [user.pk])
        row = cursor.fetchone()
    if row is None:
        return attach_staff(user, None, None)
    return attach_staff(user, columns.load(row), row[columns.width])


# The request's actor, kept on the DRF Request by actor_for (not an attribute DRF declares).
_ACTOR_ATTR = "_clinic_actor"


def actor_for(request: Request) -> Actor:
    """The request's actor, resolved once per request (two queries at most)."""
    cached: Actor | None = getattr(request, _ACTOR_ATTR, None)
    if cached is not None:
        return cached
    user = request.user
    actor = NOBODY
    if user is not None and user.is_authenticated:
        staff = _staff_with_site_ids(user)
        if staff is not None and staff.active:
            actor = Actor(role=staff.role, staff=staff)
        elif staff is None:
            try:
                actor = Actor(role=PATIENT, patient=user.patient)
            except ObjectDoesNotExist:
                actor = NOBODY
        # An inactive staff member stays NOBODY even if a patient row points at the user:
        # a former employee's credentials must not keep opening the API.
    setattr(request, _ACTOR_ATTR, actor)
    return actor


class _RoleTable(Protocol):
    """A view RoleAccess guards: it names the roles allowed for each action."""

    access: Mapping[str, frozenset[str]]


class RoleAccess(BasePermission):
    """Allow the request when the actor's role is in the view's `access` table for the action.

    `access` maps an action name (viewsets), or the lower-case HTTP method of a plain view, or "*"
    to a set of roles. Finer rules (whose object, which site) are the querysets' and services'."""

    message = "Your role does not allow this."

    def has_permission(self, request: Request, view: APIView) -> bool:
        if not (request.user and request.user.is_authenticated):
            return False  # DRF turns this into 401 for anonymous requests
        actor = actor_for(request)
        if actor.role is None:
            return False
        # An HTTP request always has a method (only a bare HttpRequest() built by hand has none).
        assert request.method is not None
        action = getattr(view, "action", None)
        if action == "metadata" and request.method != "OPTIONS":
            # DRF's OPTIONS answer asks again for each write it could describe, with the request's
            # method changed: describe only the writes the role may make. The route's own action for
            # that method (an extra action's, e.g. `start`), else the viewset's standard one.
            routed = (getattr(view, "action_map", None) or {}).get(request.method.lower())
            action = routed or _WRITE_ACTIONS.get(request.method, request.method.lower())
        if not action:
            action = request.method.lower()
        table = cast(_RoleTable, view).access  # every view that lists RoleAccess declares `access`
        if action in ("metadata", "options"):
            # OPTIONS describes the endpoint to any role that may use some of it.
            return actor.role in frozenset().union(*table.values())
        allowed = table.get(action, table.get("*", frozenset()))
        return actor.role in allowed


# The viewset action a write's method stands for when DRF's metadata asks about it.
_WRITE_ACTIONS = {"POST": "create", "PUT": "update"}


# --- Sites: what each staff member may see -----------------------------------

M = TypeVar("M", bound=Model)
S = TypeVar("S")  # what scope_serializer is handed (a serializer) and hands back

# Model label -> the lookup path from a row to the site it belongs to.
SITE_PATHS: dict[str, str] = {
    "clinic.Site": "pk",
    "clinic.Chair": "site",
    "clinic.OpeningHours": "site",
    "clinic.Shift": "site",
    "clinic.ReminderPolicy": "site",
    "clinical.VitalsThresholds": "site",
    "scheduling.TreatmentPlan": "site",
    "scheduling.Appointment": "chair__site",
    "scheduling.Reminder": "appointment__chair__site",
    "scheduling.ReminderAttempt": "reminder__appointment__chair__site",
    "clinical.VitalSigns": "appointment__chair__site",
    "clinical.StartClearance": "appointment__chair__site",
    "clinical.Administration": "appointment__chair__site",
    "clinical.Recovery": "appointment__chair__site",
    "clinical.ControlledSubstanceEntry": "appointment__chair__site",
}
# Model label -> the lookup path from a row to its patient (rows that belong to a patient, not a site).
PATIENT_PATHS: dict[str, str] = {
    "patients.Patient": "pk",
    "patients.Evaluation": "patient",
    "patients.PatientFlag": "patient",
    "measures.QuestionnaireResponse": "patient",
    "scheduling.TreatmentPlan": "patient",
    "scheduling.Appointment": "patient",
    "scheduling.Reminder": "appointment__patient",
    "clinical.ControlledSubstanceEntry": "patient",
}
# Shared by every site, or configuration only clinic administrators reach by role.
UNSCOPED = frozenset({"scheduling.Protocol", "patients.Contraindication", "clinical.SideEffect"})
# Rules of their own in scope_to_staff: closures (the clinic-wide ones have no site), staff (who share a site).
SPECIAL_RULES = frozenset({"clinic.Closure", "clinic.StaffMember"})


def has_site_rule(model: type[Model]) -> bool:
    """Whether scope_to_staff knows how to narrow `model`'s rows to a staff member's sites."""
    label = model._meta.label
    return label in SITE_PATHS or label in PATIENT_PATHS or label in SPECIAL_RULES or label in UNSCOPED


ADD_A_SITE_RULE = "Add one to clinic/permissions.py: SITE_PATHS, PATIENT_PATHS, or UNSCOPED if every site shares it."


def no_site_rule(where: str, model: type[Model]) -> ImproperlyConfigured:
    """The error for a field or filter (`where`) that names rows of a model without a site rule:
    left as it is, it would accept any site's row."""
    return ImproperlyConfigured(f"{where} names {model._meta.label} rows, which have no site rule. {ADD_A_SITE_RULE}")


def site_ids(staff: StaffMember | None) -> frozenset[int] | None:
    """The ids of the sites `staff` works at; None means every site (clinic-wide)."""
    if staff is None or not staff.active:
        return frozenset()
    if staff.all_sites:
        return None
    cached = _known_site_ids(staff)
    if cached is None:
        cached = frozenset(staff.sites.values_list("pk", flat=True))
        _keep_site_ids(staff, cached)  # kept on the request's staff row: asked once, however many checks
    return cached


def works_at(staff: StaffMember | None, site: Site | int | None) -> bool:
    ids = site_ids(staff)
    if ids is None:
        return True
    site_id = site.pk if isinstance(site, Site) else site
    return site_id in ids


# How a patient belongs to a site, one rule per fact, each registered by the app that owns the fact
# (patients: the home site; scheduling: an appointment or a plan there) in its AppConfig.ready().
# This base layer knows the rule's shape, not the apps above it.
PatientSiteRule = Callable[[object], Q]
# What a rule is given: the site ids, known (a frozenset) or as a subquery of site ids.
SiteFilter = frozenset[int] | QuerySet[Any, Any]
PATIENT_SITE_RULES: list[PatientSiteRule] = []


def register_patient_site_rule(rule: PatientSiteRule) -> None:
    """Add `rule(ids) -> Q` on patients: "this patient belongs to one of the sites `ids`"."""
    if rule not in PATIENT_SITE_RULES:
        PATIENT_SITE_RULES.append(rule)


def _patients_at(ids: SiteFilter) -> Q:
    """Patients at these sites: any registered rule (home site, or an appointment or a plan there)."""
    if not PATIENT_SITE_RULES:
        raise LookupError("No patient-site rule is registered; are the patients and scheduling apps installed?")
    return functools.reduce(lambda left, right: left | right, (rule(ids) for rule in PATIENT_SITE_RULES))


def _model_at(model: type[Model], path: str) -> type[Model]:
    """The model a lookup path such as "appointment__patient" ends at ("pk": the model itself)."""
    for name in path.split("__"):
        if name != "pk":
            related = model._meta.get_field(name).related_model
            if related is None:  # PATIENT_PATHS names a field that is not a relation
                raise ImproperlyConfigured(f"{model._meta.label}.{name} in {path!r} is not a relation.")
            model = related
    return model


def sites_of(staff: StaffMember) -> list[Site]:
    """The sites `staff` works at, by name (every site for clinic-wide staff), in one query; none
    for an inactive staff member, clinic-wide or not (as `site_ids` and `_site_filter` say)."""
    if not staff.active:
        _keep_site_ids(staff, frozenset())
        return []
    if staff.all_sites:
        return list(Site.objects.order_by("name"))
    sites = list(staff.sites.order_by("name"))
    _keep_site_ids(staff, frozenset(site.pk for site in sites))
    return sites


def _site_filter(staff: StaffMember | None) -> SiteFilter | None:
    """None for every site, else the site ids: known ones, or a subquery (no query of its own)."""
    if staff is None or not staff.active:
        return frozenset()
    if staff.all_sites:
        return None
    cached = _known_site_ids(staff)
    if cached is not None:
        return cached
    return StaffMember.sites.through.objects.filter(staffmember_id=staff.pk).values("site_id")


def scope_to_staff(queryset: QuerySet[M], staff: StaffMember | None) -> QuerySet[M]:
    """`queryset` narrowed to the sites `staff` works at (see the module docstring for the rules)."""
    ids = _site_filter(staff)
    if ids is None:
        return queryset
    label = queryset.model._meta.label
    if label in SITE_PATHS:
        return queryset.filter(**{f"{SITE_PATHS[label]}__in": ids})
    if label == "clinic.Closure":
        return queryset.filter(Q(site__isnull=True) | Q(site__in=ids))
    if label == "clinic.StaffMember":
        if staff is None:  # the rule names the viewer (Q(pk=staff.pk)): no viewer was, and stays, an error
            raise TypeError("Scoping staff members needs the staff member who asks.")
        shares_a_site = StaffMember.sites.through.objects.filter(staffmember_id=OuterRef("pk"), site_id__in=ids)
        return queryset.filter(Q(all_sites=True) | Q(pk=staff.pk) | Exists(shares_a_site))
    if label in PATIENT_PATHS:
        if label == "patients.Patient":
            return queryset.filter(_patients_at(ids))
        patient_model = _model_at(queryset.model, PATIENT_PATHS[label])
        visible = patient_model._default_manager.filter(_patients_at(ids)).values("pk")
        return queryset.filter(**{f"{PATIENT_PATHS[label]}__in": visible})
    if label in UNSCOPED:
        return queryset
    raise LookupError(f"No site rule for {label}; add one to clinic/permissions.py.")


def scope_to_actor(queryset: QuerySet[M], actor: Actor) -> QuerySet[M]:
    """What `actor` may see of `queryset`: staff their sites' rows, a patient their own rows."""
    if actor.is_staff:
        return scope_to_staff(queryset, actor.staff)
    label = queryset.model._meta.label
    if actor.is_patient and label in PATIENT_PATHS:
        assert actor.patient is not None  # actor_for gives a patient actor its patient (user.patient)
        return queryset.filter(**{PATIENT_PATHS[label]: actor.patient.pk})
    if actor.is_patient and label in UNSCOPED:
        return queryset
    return queryset.none()


# Scoping a related field (a clone, and an Exists or two for patients) is a good part of an API
# write's CPU, and DRF rebuilds it on every request: each serializer deep-copies its declared
# fields, querysets included. A queryset that lives as long as the process (a declared field's,
# or one shared on purpose) is given a token that those copies carry along (deepcopy keeps an
# int; a clone made by filter() does not), and the scoped queryset is kept per (token, staff
# member, their site ids), and each request is handed a clone of it: DRF clones a field's
# queryset for each look-up, but code that iterated `field.queryset` itself (not through
# DRF's get_queryset()) would otherwise fill the kept one's result cache, and every later
# request of that staff member would be shown those rows, stale. A clone copies the query,
# not the rows: a few microseconds, against the scoping it saves.
SCOPE_TOKEN = "_clinic_scope_cache_id"  # noqa: S105 - an attribute name, not a secret
_scope_tokens = itertools.count(1)
_SCOPED_QUERYSETS: dict[tuple, QuerySet] = {}
_SCOPED_QUERYSETS_MAX = 1024


def mark_long_lived(queryset: QuerySet[M]) -> QuerySet[M]:
    """Let scope_serializer cache the scoped form of `queryset`, which must never be changed in place."""
    if SCOPE_TOKEN not in queryset.__dict__:
        queryset.__dict__[SCOPE_TOKEN] = next(_scope_tokens)
    return queryset


def _scoped_for_field(queryset: QuerySet[M], staff: StaffMember) -> QuerySet[M]:
    token = queryset.__dict__.get(SCOPE_TOKEN)
    if token is None:
        return scope_to_staff(queryset, staff)
    ids = _site_filter(staff)
    # A subquery filter (site ids not read yet this request) reads the ids when it runs, so it
    # is the same for every request of this staff member; ids already read are part of the key.
    key = (token, staff.pk, ids if ids is None or isinstance(ids, frozenset) else "subquery")
    scoped = _SCOPED_QUERYSETS.get(key)
    if scoped is None:
        scoped = scope_to_staff(queryset, staff)
        if len(_SCOPED_QUERYSETS) >= _SCOPED_QUERYSETS_MAX:
            _SCOPED_QUERYSETS.clear()
        _SCOPED_QUERYSETS[key] = scoped
    return scoped.all()


def _mark_declared(serializer: object, name: str) -> None:
    """Mark the class-level declared field's queryset, so the next request's copy carries a token."""
    declared = getattr(type(serializer), "_declared_fields", {}).get(name)
    if declared is None:
        return
    queryset = getattr(_held(declared), "queryset", None)
    if isinstance(queryset, QuerySet):
        mark_long_lived(queryset)


def _held(field: Any) -> Any:
    """The field a container field holds, unwrapped at any depth: a many-relation's child
    relation, a many=True serializer's child, a ListField's or DictField's child; else `field`."""
    from rest_framework.fields import DictField, ListField
    from rest_framework.relations import ManyRelatedField
    from rest_framework.serializers import ListSerializer

    while True:
        if isinstance(field, ManyRelatedField):
            field = field.child_relation
        elif isinstance(field, ListSerializer | ListField | DictField) and field.child is not None:
            field = field.child
        else:
            return field


def writable_relations(fields: Mapping[str, Any]) -> Iterator[tuple[str, Any]]:
    """The fields of a serializer a request body names rows by: (name, the field holding the
    queryset, a many-relation's child). What scope_serializer narrows and check clinic.E002 reads.
    Relations inside nested serializers: writable_nested_serializers, all_writable_relations.

    The relation is handed back as Any: drf-stubs declare RelatedField.queryset on the class with
    a Manager in its type, and mypy then takes it for a descriptor (Manager.__get__); it is a
    plain instance attribute, read and set as one."""
    from rest_framework.relations import RelatedField

    for name, field in fields.items():
        if field.read_only:
            continue
        relation = _held(field)
        if isinstance(relation, RelatedField):
            yield name, relation


def writable_nested_serializers(fields: Mapping[str, Any]) -> Iterator[tuple[str, Any, Any]]:
    """The writable fields of a serializer that are serializers themselves: (name, the field,
    the serializer that reads each body sent for it: the field, or a many=True one's child)."""
    from rest_framework.serializers import BaseSerializer

    for name, field in fields.items():
        if field.read_only:
            continue
        nested = _held(field)
        if isinstance(nested, BaseSerializer):
            yield name, field, nested


def all_writable_relations(serializer: Any) -> Iterator[tuple[str, Any]]:
    """Every writable relation of `serializer` and of the serializers nested in it at any depth,
    named by its dotted path from `serializer` ("lines.chair"): what check clinic.E002 reads.
    Builds the serializers' fields, nothing more: no query."""
    yield from writable_relations(serializer.fields)
    for name, _field, nested in writable_nested_serializers(serializer.fields):
        for path, relation in all_writable_relations(nested):
            yield f"{name}.{path}", relation


def scope_serializer(serializer: S, actor: Actor) -> S:
    """Narrow every writable related field of an input serializer to what the actor may see,
    so naming another site's chair, patient or nurse is the same 400 as naming a missing one.
    Relations inside nested serializers (one, or many=True) are narrowed too, at any depth. A
    related model without a site rule is ImproperlyConfigured (a 500), never left open; the
    system check clinic.E002 finds such fields in the API's serializers before anyone sends one.

    A field the request body does not name is never looked up, so it is left as it is; a
    serializer without a body (a form the browsable API draws) is narrowed whole."""
    if not actor.is_staff or not hasattr(serializer, "fields"):
        return serializer
    staff = actor.staff
    assert staff is not None  # actor_for gives a staff actor (a staff role) its staff row
    sent = getattr(serializer, "initial_data", None)
    _scope_fields(serializer, staff, [sent] if isinstance(sent, Mapping) else None, type(serializer).__qualname__)
    return serializer


def _scope_fields(serializer: Any, staff: StaffMember, sent: list[Mapping[str, Any]] | None, where: str) -> None:
    """scope_serializer for one serializer: `sent` holds the bodies it reads (a nested many=True
    serializer reads one per item), None means every field is narrowed; `where` names it in errors."""
    from rest_framework.fields import empty

    for name, relation in writable_relations(serializer.fields):
        if sent is not None and not any(name in body for body in sent):
            continue
        queryset: QuerySet[Any] | Manager[Any] | None = relation.queryset
        if queryset is None:
            continue
        if not has_site_rule(queryset.model):
            # Fail closed: left as it is, the field would accept any site's row. Refused for
            # clinic-wide staff too (nothing narrows them), so the first request finds the gap.
            raise no_site_rule(f"{where}.{name}", queryset.model)
        if isinstance(queryset, QuerySet) and SCOPE_TOKEN not in queryset.__dict__:
            if getattr(serializer, "shares_field_prototypes", False):
                mark_long_lived(queryset)  # the class's own field prototype's queryset
            else:
                _mark_declared(serializer, name)
        # A ModelSerializer's relation holds the model's default manager, not a queryset: scoping
        # reads only its `.model` and calls `.filter()`, which a manager has too (never marked,
        # it is scoped afresh; where nothing narrows it, it is handed back as it is).
        relation.queryset = _scoped_for_field(cast("QuerySet[Any]", queryset), staff)
    for name, field, nested in writable_nested_serializers(serializer.fields):
        nested_sent = None
        if sent is not None:
            # The field's own get_value finds its part of a JSON body and of a form alike
            # ("seat.chair", "seats[0]chair"), as validation will.
            values = [value for body in sent if (value := field.get_value(body)) is not empty]
            if not values:
                continue
            nested_sent = _nested_bodies(values, many=field is not nested)
        _scope_fields(nested, staff, nested_sent, f"{where}.{name}")


def _nested_bodies(values: list[Any], *, many: bool) -> list[Mapping[str, Any]] | None:
    """The bodies a nested serializer reads from what was sent for it (a list's items, when
    many); None, narrow it whole, when something is not a body (the field refuses that anyway)."""
    if many:
        if not all(isinstance(value, list | tuple) for value in values):
            return None
        values = [item for value in values for item in value]
    return values if all(isinstance(value, Mapping) for value in values) else None


def scope_filterset(filterset: S, actor: Actor, *, whole: bool = False) -> S:
    """Narrow every filter of a django-filter FilterSet that names rows by id (ModelChoiceFilter,
    ModelMultipleChoiceFilter: a filter with a `queryset`) to what the actor may see, so
    `?patient=<another site's patient>` is the same 400 as a missing id and a filter cannot tell
    whether an id is in use elsewhere. Staff are narrowed to their sites, a patient to their own
    rows (scope_to_actor). A related model without a site rule is ImproperlyConfigured (a 500).

    A filter the query does not name is never looked up, so it is left as it is, unless `whole`:
    the form the browsable API draws lists every choice of every filter."""
    filters: Mapping[str, Any] | None = getattr(filterset, "filters", None)
    if filters is None:
        return filterset
    named = getattr(filterset, "data", None) or {}
    request = getattr(filterset, "request", None)
    for name, filter_ in filters.items():
        if getattr(filter_, "queryset", None) is None or not (whole or name in named):
            continue
        queryset = filter_.get_queryset(request)  # a callable `queryset=` is handed the request
        if not has_site_rule(queryset.model):
            raise no_site_rule(f"{type(filterset).__qualname__}.{name}", queryset.model)
        if actor.is_staff:
            assert actor.staff is not None  # actor_for gives a staff actor (a staff role) its staff row
            declared = getattr(type(filterset), "base_filters", {}).get(name)
            if declared is not None and isinstance(declared.queryset, QuerySet):
                mark_long_lived(declared.queryset)  # the class's filter: each request's deep copy carries the token
            filter_.queryset = _scoped_for_field(queryset, actor.staff)
        else:
            filter_.queryset = scope_to_actor(queryset, actor)
    return filterset


class OutsideYourSites(DomainError):
    code = "outside_your_sites"
    http_status = 400


def require_works_at(actor_user: AbstractBaseUser | None, site: Site | None) -> None:
    """Refuse to place a session at a site the acting staff member does not work at (a site that
    does not exist included, answered the same, so a refusal does not tell which ids exist).

    Services call this so no caller (API, page, script) can book across sites; a user
    without a staff row (a patient in the portal, the system with no actor) is not staff."""
    staff = getattr(actor_user, "staff", None) if actor_user is not None else None
    if staff is not None and not works_at(staff, site):
        raise OutsideYourSites("You do not work at that site; book and move sessions only at your own sites.")


class PrescribersOnly(DomainError):
    code = "prescriber_only"
    http_status = 403


def is_prescriber(actor_user: AbstractBaseUser | None) -> bool:
    """Whether `actor_user` is an active prescriber (whose decisions `require_prescriber` admits)."""
    staff = getattr(actor_user, "staff", None) if actor_user is not None else None
    return staff is not None and staff.active and staff.role == PRESCRIBER


def require_prescriber(actor_user: AbstractBaseUser | None, decision: str) -> None:
    """Refuse a clinical decision (about a plan, or an evaluation on the chart) unless an active
    prescriber takes it.

    The plan services and `evaluation_record` call this themselves, so a page, API view or script
    that forgets the role check still cannot let the front desk or a nurse restart an induction,
    end a course or put a diagnosis on the chart."""
    if not is_prescriber(actor_user):
        raise PrescribersOnly(f"{decision} is a prescriber's decision.")
