"""API token authentication: knox tokens, with failed attempts counted per client address."""

from __future__ import annotations

import binascii
import functools
import ipaddress
import logging
from hmac import compare_digest

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest
from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.plumbing import build_bearer_security_scheme_object
from knox.auth import TokenAuthentication
from knox.crypto import hash_token
from knox.models import get_token_model
from knox.settings import CONSTANTS, knox_settings
from rest_framework import exceptions

from clinic.models import StaffMember
from clinic.permissions import attach_staff, staff_site_ids_sql
from clinic.rows import ModelColumns, prepared_execute
from clinic.security.signals import api_token_failed

log = logging.getLogger(__name__)


def client_ip(request: HttpRequest) -> str | None:
    """The client's address, as the access log keeps it (limits count it by client_counted_as).
    X-Forwarded-For is read only as far as our own proxies (DJANGO_TRUSTED_PROXY_COUNT) wrote
    it: anything further left is whatever the client chose to send."""
    count = settings.TRUSTED_PROXY_COUNT
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if count and forwarded:
        addresses = [part.strip() for part in forwarded.split(",") if part.strip()]
        if addresses:
            return _without_port(addresses[-min(count, len(addresses))])
    return _without_port(request.META.get("REMOTE_ADDR") or "") or None


def _without_port(address: str) -> str:
    """Some proxies write the client with its port (198.51.100.7:51234, [2001:db8::1]:443): the
    address alone, so that a new port is not a new client."""
    if address.startswith("[") and "]" in address:
        return address[1 : address.index("]")]
    host, colon, port = address.rpartition(":")
    if colon and "." in host and ":" not in host and port.isdigit():
        return host
    return address


# An IPv6 client is counted by its /64: one subscriber or host is given a whole /64 and can take
# a new address in it for every request, which would make a count per address no limit at all.
IPV6_COUNTED_PREFIX = 64


def _counted_unit(address: str | None) -> ipaddress.IPv4Address | ipaddress.IPv6Network | None:
    """An IPv4 address (an IPv4-mapped IPv6 one too), or an IPv6 address's /64; None: no address."""
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return ip.ipv4_mapped
        return ipaddress.IPv6Network((ip, IPV6_COUNTED_PREFIX), strict=False)
    return ip


def client_counted_as(address: str | None) -> str:
    """The unit a per-client limit counts `address` (client_ip's) under: an IPv4 address as it is
    (an IPv4-mapped IPv6 one too), an IPv6 address as its /64 network."""
    unit = _counted_unit(address)
    return str(unit) if unit is not None else (address or "unknown")


def lockout_client_ip(request: HttpRequest) -> str | None:
    """django-axes' AXES_CLIENT_IP_CALLABLE: the sign-in lockout counts per client as the other
    limits do. Axes keeps an address, so an IPv6 client is named by its /64's first address."""
    unit = _counted_unit(client_ip(request))
    if isinstance(unit, ipaddress.IPv6Network):
        return str(unit.network_address)
    return str(unit) if unit is not None else None  # not an address: axes keeps none (a 500 otherwise)


def _failures_key(ip_address: str) -> str:
    return f"security:bad-token:{client_counted_as(ip_address)}"


class ClinicTokenAuthentication(TokenAuthentication):
    """Knox's token check, with bad tokens counted per client address: once an address has sent
    too many within the cool-off, its bad tokens are refused with 429 instead of 401, so tokens
    cannot be guessed at the API's full request rate. A valid, unexpired token is always served:
    an EHR interface and a mistyped script often share one address behind NAT, and the script's
    mistakes must not lock the interface out."""

    def authenticate(self, request):
        if not self._carries_token(request):
            return None  # another scheme's request (session): nothing to count
        try:
            return super().authenticate(request)
        except exceptions.AuthenticationFailed:
            django_request = request._request
            ip_address = client_ip(django_request) or "unknown"
            failures = self._count_failure(_failures_key(ip_address))
            log.warning("API token refused for %s %s from %s", request.method, django_request.path, ip_address)
            api_token_failed.send(sender=self.__class__, request=django_request, ip_address=ip_address)
            if failures > settings.AUTH_FAILURE_LIMIT:
                raise exceptions.Throttled(
                    wait=settings.AUTH_COOLOFF.total_seconds(),
                    detail="Too many failed sign-in attempts from this address; try again later.",
                ) from None
            raise

    def _count_failure(self, key: str) -> int:
        """This address's bad tokens within the cool-off, this one included."""
        timeout = int(settings.AUTH_COOLOFF.total_seconds())
        cache.add(key, 0, timeout=timeout)
        try:
            return cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.set(key, 1, timeout=timeout)
            return 1

    def authenticate_credentials(self, token: bytes):
        """Knox's check (each token with the key's prefix, digests compared in constant time,
        expired ones deleted, expiry renewed when AUTO_REFRESH is on, the user active), with the
        token, its user, their staff row and the staff member's site ids read in one statement:
        knox's own read and the role check's would be two, and their ORM building costs an API
        request more CPU than the database spends on it."""
        message = "Invalid token."
        try:
            text = token.decode("ascii")  # a knox token is hex: any other byte is a bad token
        except UnicodeDecodeError as exc:
            raise exceptions.AuthenticationFailed(message) from exc
        for auth_token in _tokens_with_their_users(text[: CONSTANTS.TOKEN_KEY_LENGTH]):
            if self._cleanup_token(auth_token):
                continue
            try:
                digest = hash_token(text)
            except (TypeError, binascii.Error) as exc:
                raise exceptions.AuthenticationFailed(message) from exc
            if compare_digest(digest, auth_token.digest):
                if knox_settings.AUTO_REFRESH and auth_token.expiry:
                    self.renew_token(auth_token)
                return self.validate_user(auth_token)
        raise exceptions.AuthenticationFailed(message)

    def _cleanup_token(self, auth_token) -> bool:
        """Knox reads every token of the user on every request to delete the expired ones: one
        more query on the booking hot path. Only the token in hand matters for this request (an
        expired one is refused and deleted); the user's other expired tokens are deleted when a new
        token is issued (clinic.security.services.token_issue)."""
        if auth_token.expiry is not None and auth_token.expiry < timezone.now():
            auth_token.delete()
            return True
        return False

    def _carries_token(self, request) -> bool:
        header = request.META.get("HTTP_AUTHORIZATION", "")
        return header.split(" ", 1)[0].lower() == self.authenticate_header(request).lower()


@functools.cache
def _token_read(vendor: str) -> tuple[str, ModelColumns, ModelColumns, ModelColumns]:
    """The tokens with a key prefix, each with its user, staff row and site ids; built once per vendor."""
    tokens = ModelColumns(get_token_model(), "t")
    users = ModelColumns(get_user_model(), "u")
    staff = ModelColumns(StaffMember, "s")
    sql = (
        f"SELECT {tokens.select}, {users.select}, {staff.select}, {staff_site_ids_sql('s')}"  # noqa: S608 - model tables
        f" FROM {get_token_model()._meta.db_table} t"
        f" JOIN {get_user_model()._meta.db_table} u ON u.id = t.user_id"
        f" LEFT JOIN {StaffMember._meta.db_table} s ON s.user_id = u.id"
        " WHERE t.token_key = %s"
    )
    return sql, tokens, users, staff


def _tokens_with_their_users(token_key: str) -> list:
    sql, tokens, users, staff = _token_read(connection.vendor)
    with connection.cursor() as cursor:
        prepared_execute(cursor, sql, [token_key])
        rows = cursor.fetchall()
    found = []
    for row in rows:
        auth_token = tokens.load(row)
        user = users.load(row, tokens.width)
        auth_token._state.fields_cache["user"] = user
        offset = tokens.width + users.width
        attach_staff(user, staff.load(row, offset), row[offset + staff.width])
        found.append(auth_token)
    return found


class ClinicTokenScheme(OpenApiAuthenticationExtension):
    target_class = "clinic.security.authentication.ClinicTokenAuthentication"
    name = "tokenAuth"

    def get_security_definition(self, auto_schema):
        return build_bearer_security_scheme_object(
            header_name="Authorization", token_prefix=self.target.authenticate_header(None)
        )
