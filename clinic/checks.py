"""System checks: what the embedded default needs from the SQLite it finds, and that every
relation a request to the API can name (in a body or a list filter) is narrowed to the asker's sites."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from typing import Any, cast

from django.core.checks import Error, Tags, Warning, register
from django.db import connections

from clinic.permissions import ADD_A_SITE_RULE, all_writable_relations, has_site_rule

# INSERT ... ON CONFLICT ... RETURNING (the idempotency claim) and RETURNING from a bulk
# insert (history rows keyed by the new ids) need 3.35; Django itself accepts 3.31.
SQLITE_MINIMUM = (3, 35)


@register("database")
def sqlite_new_enough(
    app_configs: object = None, databases: Iterable[str] | None = None, **kwargs: object
) -> list[Error]:
    errors = []
    for alias in databases or ():
        connection = connections[alias]
        if connection.vendor != "sqlite":
            continue
        import sqlite3

        if sqlite3.sqlite_version_info < SQLITE_MINIMUM:
            errors.append(
                Error(
                    f"SQLite {sqlite3.sqlite_version} is too old for this application "
                    f"(bookings need {'.'.join(map(str, SQLITE_MINIMUM))} or newer).",
                    hint="Use a Python built with a newer SQLite, or set DATABASE_URL to PostgreSQL.",
                    id="clinic.E001",
                )
            )
    return errors


@register(Tags.security, Tags.urls)
def api_relations_have_site_rules(app_configs: object = None, **kwargs: object) -> list[Error]:
    """scope_serializer refuses, at the request, a relation to a model without a site rule
    (rather than leave it open to every site); this finds such a field before anyone sends it."""
    from django.urls import get_resolver

    return relations_without_site_rule(api_serializers(get_resolver().url_patterns))


def api_serializers(patterns: Iterable) -> list[type]:
    """The serializer classes of the DRF views under `patterns`: each view's serializer_class and
    every serializer its module names. The inputs of actions (`self._valid(BookSerializer)`) are
    not attributes of the view, but a view module holds its serializers or imports them by name."""
    from rest_framework.serializers import BaseSerializer
    from rest_framework.views import APIView

    found: dict[type, None] = {}
    for view in _views(patterns):
        if not issubclass(view, APIView):
            continue
        named = [getattr(view, "serializer_class", None), *vars(sys.modules[view.__module__]).values()]
        for value in named:
            # DRF's own classes are bases (ListSerializer cannot even be built without a child).
            ours = isinstance(value, type) and not value.__module__.startswith("rest_framework.")
            if ours and issubclass(value, BaseSerializer):
                found.setdefault(value)
    return sorted(found, key=lambda cls: (cls.__module__, cls.__qualname__))


def _views(patterns: Iterable) -> Iterator[type]:
    from django.urls import URLResolver

    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _views(pattern.url_patterns)
        else:
            view = getattr(pattern.callback, "cls", None)  # set by APIView.as_view() and ViewSet.as_view()
            if view is not None:
                yield view


def relations_without_site_rule(serializer_classes: Iterable[type]) -> list[Error]:
    """An error for each writable relation (a many-relation's child too, and those of nested
    serializers at any depth, named by their dotted path) whose model has no site rule, and for
    each serializer whose fields, nested ones' included, cannot be built to look (fail closed)."""
    from rest_framework.serializers import ModelSerializer

    errors = []
    for serializer_class in serializer_classes:
        name = f"{serializer_class.__module__}.{serializer_class.__qualname__}"
        if issubclass(serializer_class, ModelSerializer) and not hasattr(serializer_class, "Meta"):
            continue  # a base (CleanModelSerializer): DRF refuses to build one without a Meta
        try:
            relations = list(all_writable_relations(cast("Any", serializer_class)()))
        except Exception as exc:  # whatever stops the look, the check fails closed
            errors.append(
                Error(
                    f"{name}: its fields could not be built to check its relations ({exc!r}).",
                    hint="Let the serializer be built without arguments, as the system check does.",
                    obj=serializer_class,
                    id="clinic.E003",
                )
            )
            continue
        for path, relation in relations:
            queryset = relation.queryset
            if queryset is not None and not has_site_rule(queryset.model):
                errors.append(
                    Error(
                        f"{name}.{path} relates to {queryset.model._meta.label}, which has no site rule: "
                        "scope_serializer would refuse it (a 500) rather than let staff name another site's row.",
                        hint=ADD_A_SITE_RULE,
                        obj=serializer_class,
                        id="clinic.E002",
                    )
                )
    return errors


@register(Tags.security, Tags.urls)
def api_filters_have_site_rules(app_configs: object = None, **kwargs: object) -> list[Error]:
    """scope_filterset refuses, at the request, a filter naming rows of a model without a site
    rule; this finds one before anyone sends it, and a view whose filters nothing narrows."""
    from django.urls import get_resolver

    return filters_without_site_rule(_views(get_resolver().url_patterns))


def filters_without_site_rule(views: Iterable[type]) -> list[Error]:
    """An error for each view that filters with django-filter but not through ScopedFilterBackend
    (clinic.E004), for each filter naming rows of a model without a site rule (clinic.E005), and
    for each view whose filters cannot be built to look (clinic.E006: fail closed)."""
    from django_filters.rest_framework import DjangoFilterBackend
    from rest_framework.generics import GenericAPIView

    from clinic.api_filters import ScopedFilterBackend

    errors = []
    for view in views:
        if not issubclass(view, GenericAPIView):
            continue
        name = f"{view.__module__}.{view.__qualname__}"
        for backend in view.filter_backends:
            if not issubclass(backend, DjangoFilterBackend):
                continue
            if not issubclass(backend, ScopedFilterBackend):
                errors.append(
                    Error(
                        f"{name} filters with {backend.__qualname__}, which lets a filter name another site's rows.",
                        hint="Filter with clinic.api_filters.ScopedFilterBackend (the default filter backend).",
                        obj=view,
                        id="clinic.E004",
                    )
                )
                continue
            filterset_class = backend().get_filterset_class(view(), getattr(view, "queryset", None))
            if filterset_class is None and getattr(view, "filterset_fields", None):
                # Made from the request's queryset: the check cannot build it, so it fails closed.
                errors.append(
                    Error(
                        f"{name} has filterset_fields but no class-level queryset to build its filters from.",
                        hint="Give the view a `queryset` or a `filterset_class`.",
                        obj=view,
                        id="clinic.E006",
                    )
                )
            for field_name, filter_ in getattr(filterset_class, "base_filters", {}).items():
                queryset = getattr(filter_, "queryset", None)
                if queryset is None or callable(queryset):
                    continue  # a callable is handed the request; scope_filterset checks what it gives
                if not has_site_rule(queryset.model):
                    errors.append(
                        Error(
                            f"{name} filter {field_name!r} names {queryset.model._meta.label} rows, which have no "
                            "site rule: scope_filterset would refuse it (a 500) rather than let staff name "
                            "another site's row.",
                            hint=ADD_A_SITE_RULE,
                            obj=view,
                            id="clinic.E005",
                        )
                    )
    return errors


# Backends that keep messages on this machine (the log, a file, memory): fine to try the stack out,
# but in production the patients get nothing and their health data lands in the logs.
LOCAL_EMAIL_BACKENDS = {
    "django.core.mail.backends.console.EmailBackend",
    "django.core.mail.backends.filebased.EmailBackend",
    "django.core.mail.backends.locmem.EmailBackend",
    "django.core.mail.backends.dummy.EmailBackend",
}
LOCAL_SMS_BACKENDS = {
    "scheduling.reminders.sms.ConsoleSmsBackend",
    "scheduling.reminders.sms.FileSmsBackend",
    "scheduling.reminders.sms.MemorySmsBackend",
}


def _texts_off_everywhere(databases: object) -> bool:
    """Whether every site's reminder policy has text messages off, when the check may read the
    database (`check --deploy --database default`); False when it may not (it cannot know)."""
    if not databases or "default" not in databases:  # type: ignore[operator]
        return False
    from django.db import DatabaseError

    from clinic.models import ReminderPolicy

    try:
        return ReminderPolicy.objects.exists() and not ReminderPolicy.objects.filter(sms_enabled=True).exists()
    except DatabaseError:  # not migrated yet: nothing to go on
        return False


@register(Tags.security, deploy=True)
def messages_reach_patients(app_configs: object = None, databases: object = None, **kwargs: object) -> list[Warning]:
    """`check --deploy`: reminders go to a mail server and an SMS provider, not to the log. A clinic
    that sends no text messages (every site's policy has them off) is not told about SMS when the
    check reads the database (`--database default`)."""
    from django.conf import settings

    found = []
    if settings.EMAIL_BACKEND in LOCAL_EMAIL_BACKENDS:
        found.append(
            Warning(
                f"EMAIL_URL gives {settings.EMAIL_BACKEND}: reminder emails are not sent; they are written "
                "to the log or a file, with the patients' names and session times.",
                hint="Set EMAIL_URL to the clinic's mail server, e.g. smtp+tls://user:password@smtp.example.com:587.",
                id="clinic.W010",
            )
        )
    if settings.SMS_BACKEND in LOCAL_SMS_BACKENDS and not _texts_off_everywhere(databases):
        found.append(
            Warning(
                f"SMS_BACKEND is {settings.SMS_BACKEND}: text reminders are not sent; they are written to the "
                "log or a file, with the patients' phone numbers and session times.",
                hint="Set TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and TWILIO_FROM_NUMBER (or SMS_BACKEND). A clinic "
                "that sends no text messages turns them off in each site's reminder policy and runs the check "
                "with --database default, which then sees that.",
                id="clinic.W011",
            )
        )
    return found


@register(Tags.security, deploy=True)
def links_reach_patients(app_configs: object = None, **kwargs: object) -> list[Warning]:
    """`check --deploy`: links in reminders and calendar feeds name the clinic's address, not this machine."""
    import ipaddress
    from urllib.parse import urlparse

    from django.conf import settings

    host = urlparse(settings.SITE_URL).hostname or ""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        local = host == "localhost" or host.endswith(".localhost")
    else:
        mapped = getattr(address, "ipv4_mapped", None) or address
        local = mapped.is_loopback or mapped.is_unspecified
    if local:
        return [
            Warning(
                f"SITE_URL is {settings.SITE_URL}: the confirm, cancel and questionnaire links in reminders and "
                "the calendar feeds would point at the patient's own machine.",
                hint="Set SITE_URL to the address patients reach the clinic at, e.g. https://clinic.example.com.",
                id="clinic.W012",
            )
        ]
    return []
