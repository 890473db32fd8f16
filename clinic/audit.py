"""The access log's writer, and how a view says which patients its answer showed.

Patient data is health data: every request by a signed-in user, every anonymous read
through a patient's link (calendar feed, reminder links), every refused login and every
list of patients a task mails to staff (the front desk's daily list) or sends to another system
(an SIU message a site's EHR acknowledged) leaves AccessLog rows.
Views name the patients they showed with `patients_shown()`; API views built on
`PatientsShownMixin` do it for their lists and details without further code. A request's
row is written by `access_log_write()` alone, so moving where and when it is written
(batched, after the response) touches one function; a mailed list's rows by
`access_log_write_mailed()`; a message sent to another system by `access_log_write_disclosed()`."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_login_failed
from django.db import connections
from django.db.models import BooleanField, JSONField, QuerySet
from django.db.models.expressions import RawSQL
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse

from clinic.models import AccessLog
from clinic.security.signals import ACCESS_LOG_PATH_ATTRIBUTE, ACCESS_LOG_USERNAME_ATTRIBUTE, api_token_failed
from clinic.validators import without_control_characters

REQUEST_ATTRIBUTE = "accessed_patient_ids"
ANONYMOUS_ATTRIBUTE = "log_anonymous_access"
FAILED_LOGIN_ATTRIBUTE = "access_log_failed_login"

View = TypeVar("View", bound=Callable[..., HttpResponse])


def _django_request(request: Any) -> HttpRequest:
    # A DRF Request wraps the HttpRequest the middleware sees; attributes must land on the latter.
    return getattr(request, "_request", request)


def patients_shown(request: Any, patient_ids: Iterable[int | None]) -> None:
    """Record that the answer to `request` shows these patients (may be called more than once)."""
    django_request = _django_request(request)
    shown: set[int] | None = getattr(django_request, REQUEST_ATTRIBUTE, None)
    if shown is None:
        shown = set()
        setattr(django_request, REQUEST_ATTRIBUTE, shown)
    shown.update(pk for pk in patient_ids if pk is not None)


def patient_ids_of(objects: Iterable[Any]) -> list[int | None]:
    """The patient behind each object: a Patient itself, or anything with a `patient_id`."""
    ids: list[int | None] = []
    for obj in objects:
        if getattr(getattr(obj, "_meta", None), "label", None) == "patients.Patient":
            ids.append(obj.pk)
        else:
            ids.append(getattr(obj, "patient_id", None))
    return ids


def log_anonymous_access(view: View) -> View:
    """Mark a view reachable without login by a patient's secret link: its requests are logged
    even though nobody is signed in. Put it outermost, above the other decorators."""
    setattr(view, ANONYMOUS_ATTRIBUTE, True)
    return view


def client_ip(request: HttpRequest) -> str | None:
    """The address the lockout and the bad-token throttle count against (REMOTE_ADDR, or what
    the nearest of DJANGO_TRUSTED_PROXY_COUNT proxies saw: never an address the caller chose),
    so the access log and the lockout name the same client; None if it is not an address."""
    from clinic.security.authentication import client_ip as counted_address

    try:
        return str(ipaddress.ip_address(counted_address(request) or ""))
    except ValueError:
        return None


def _loggable(text: str, field: str) -> str:
    """`text` as the access log's `field` holds it: control characters replaced (a NUL would fail
    the row after the view had answered and committed its change), cut to the column."""
    limit = AccessLog._meta.get_field(field).max_length
    return without_control_characters(text)[:limit]


def _user_agent(request: HttpRequest) -> str:
    return _loggable(request.META.get("HTTP_USER_AGENT", ""), "user_agent")


def access_log_write(*, request: HttpRequest | None, status_code: int | None, username: str = "") -> AccessLog:
    """The one place an access-log row is written: the request's user, where it came from,
    what it asked, the answer's status and the patients the view said it showed."""
    if request is None:  # a refused authenticate() outside any request (a shell, a command)
        return AccessLog.objects.create(event=AccessLog.Event.LOGIN_FAILED, username=_loggable(username, "username"))
    user = getattr(request, "user", None)
    failed_login = getattr(request, FAILED_LOGIN_ATTRIBUTE, None)
    return AccessLog.objects.create(
        user=user if user is not None and user.is_authenticated else None,
        event=AccessLog.Event.REQUEST if failed_login is None else AccessLog.Event.LOGIN_FAILED,
        method=_loggable(request.method or "", "method"),
        path=_loggable(getattr(request, ACCESS_LOG_PATH_ATTRIBUTE, None) or request.get_full_path(), "path"),
        status_code=status_code,
        username=_loggable(failed_login or getattr(request, ACCESS_LOG_USERNAME_ATTRIBUTE, "") or username, "username"),
        ip_address=client_ip(request),
        user_agent=_user_agent(request),
        patient_ids=sorted(getattr(request, REQUEST_ATTRIBUTE, ())),
    )


# The method of a row that records patient data mailed rather than asked for over HTTP.
MAILED = "EMAIL"


def access_log_write_mailed(*, recipient_ids: Iterable[int], what: str, patient_ids: Iterable[int]) -> list[AccessLog]:
    """Patient data a task mailed to staff: one row per login it went to, saying what was sent
    and the patients it showed, as the page showing them to that login would. No request
    asked for it, so no IP, user agent or status."""
    shown = sorted(set(patient_ids))
    return AccessLog.objects.bulk_create(
        AccessLog(user_id=user_id, method=MAILED, path=what[:500], status_code=None, patient_ids=shown)
        for user_id in sorted(set(recipient_ids))
    )


# The method of a row that records patient data one system sent to another: an HL7 v2 message
# its receiver acknowledged (interop.siu.delivery).
HL7 = "HL7"


def access_log_write_disclosed(*, channel: str, what: str, patient_ids: Iterable[int]) -> AccessLog:
    """Patient data a task sent to another system (a site's EHR) and the system acknowledged:
    one row, with no user (nobody asked), `channel` as its method, what was sent where as its
    path and the patients it carried. Written in the transaction that records the
    acknowledgement, so a message is logged once however often it was sent."""
    return AccessLog.objects.create(
        user=None, method=channel[:8], path=what[:500], status_code=None, patient_ids=sorted(set(patient_ids))
    )


def access_log_naming_patient(rows: QuerySet[AccessLog], patient_id: int) -> QuerySet[AccessLog]:
    """The rows whose `patient_ids` hold this patient: who saw, was mailed or was sent their data.
    PostgreSQL asks its jsonb containment (`@>`); SQLite, which has no JSON `contains` lookup in
    Django, looks through the list's elements with json_each. Both compare whole numbers, never
    text, so patient 1 is not found in a row about 11, 21 or 111."""
    connection = connections[rows.db]
    if connection.vendor != "sqlite":
        return rows.filter(patient_ids__contains=[patient_id])
    quote = connection.ops.quote_name
    field = AccessLog._meta.get_field("patient_ids")
    assert isinstance(field, JSONField) and field.column  # a concrete field has its column
    column = f"{quote(AccessLog._meta.db_table)}.{quote(field.column)}"
    return rows.filter(
        RawSQL(  # noqa: S611 - the table and column come from the model, the patient is a parameter
            f"EXISTS (SELECT 1 FROM json_each({column}) WHERE json_each.value = %s)",  # noqa: S608
            [patient_id],
            output_field=BooleanField(),
        )
    )


def should_log(request: HttpRequest) -> bool:
    user = getattr(request, "user", None)
    signed_in = user is not None and user.is_authenticated
    return (
        signed_in
        or getattr(request, ANONYMOUS_ATTRIBUTE, False)
        or bool(getattr(request, REQUEST_ATTRIBUTE, None))
        or getattr(request, FAILED_LOGIN_ATTRIBUTE, None) is not None
    )


@receiver(user_login_failed, dispatch_uid="clinic.audit.login_failed")
def log_failed_login(sender: Any, credentials: dict[str, Any], request: Any = None, **kwargs: Any) -> None:
    """Django sends this from authenticate() for the login page, DRF's token and Basic logins
    (and knox's); `credentials` is already cleansed of the password.

    Within a request the row is left to the middleware, which writes it after the response,
    outside the view's transaction: an API view rolls its transaction back on the refusal,
    and would take a row written here with it."""
    username = str(credentials.get(get_user_model().USERNAME_FIELD) or credentials.get("username") or "")
    if request is None:
        access_log_write(request=None, status_code=None, username=username)
    else:
        setattr(_django_request(request), FAILED_LOGIN_ATTRIBUTE, username)


@receiver(api_token_failed, dispatch_uid="clinic.audit.api_token_failed")
def log_refused_api_token(sender: Any, request: HttpRequest, **kwargs: Any) -> None:
    """A refused API token is a failed sign-in too; the middleware writes its row after the
    response, outside the view's rolled-back transaction. No username: a token names none."""
    setattr(request, FAILED_LOGIN_ATTRIBUTE, "")


class PatientsShownMixin:
    """For DRF generic views: the objects a list page or a detail serialises are the patients shown."""

    def get_object(self) -> Any:
        obj = super().get_object()  # type: ignore[misc]
        patients_shown(self.request, patient_ids_of([obj]))  # type: ignore[attr-defined]
        return obj

    def get_serializer(self, *args: Any, **kwargs: Any) -> Any:
        if args and args[0] is not None:
            instance = args[0]
            if kwargs.get("many", False):
                if not isinstance(instance, (list, tuple, QuerySet)):
                    instance = list(instance)  # a one-shot iterable must still reach the serializer
                    args = (instance, *args[1:])
                # Iterating a queryset fills its cache, which the serializer then reads: no extra query.
                patients_shown(self.request, patient_ids_of(instance))  # type: ignore[attr-defined]
            else:
                patients_shown(self.request, patient_ids_of([instance]))  # type: ignore[attr-defined]
        return super().get_serializer(*args, **kwargs)  # type: ignore[misc]

    def perform_create(self, serializer: Any) -> None:
        super().perform_create(serializer)  # type: ignore[misc]
        patients_shown(self.request, patient_ids_of([serializer.instance]))  # type: ignore[attr-defined]


class PatientsShownAdminMixin:
    """For a ModelAdmin: its change page and its list (a search's result too) name in the access
    log the patients they show: a `Patient`, a row with `patient_id`, or the patient reached by
    `patient_path` (a session record's "appointment__patient_id", one query per page)."""

    patient_path: str = ""

    def _patient_ids(self, objects: list[Any]) -> list[int | None]:
        if not self.patient_path:
            return patient_ids_of(objects)
        model = self.model  # type: ignore[attr-defined]
        return list(model.objects.filter(pk__in=[o.pk for o in objects]).values_list(self.patient_path, flat=True))

    def get_object(self, request: HttpRequest, object_id: str, from_field: str | None = None) -> Any:
        obj = super().get_object(request, object_id, from_field)  # type: ignore[misc]
        if obj is not None:
            patients_shown(request, self._patient_ids([obj]))
        return obj

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        response = super().changelist_view(request, extra_context)  # type: ignore[misc]
        changelist = (getattr(response, "context_data", None) or {}).get("cl")
        if changelist is not None:
            patients_shown(request, self._patient_ids(list(changelist.result_list)))
        return response
