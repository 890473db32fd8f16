"""DRF's request-rate throttles, counting an anonymous client as the project's other limits do: by
the address our own proxies saw (client_ip, never an X-Forwarded-For the client wrote itself),
an IPv6 client by its /64 (client_counted_as). A signed-in user is counted by their id, as DRF does."""

from __future__ import annotations

from typing import Any

from rest_framework.throttling import AnonRateThrottle, UserRateThrottle

from clinic.security.authentication import client_counted_as, client_ip


class _ClientIdent:
    def get_ident(self, request: Any) -> str:
        return client_counted_as(client_ip(request))


class ClientAnonRateThrottle(_ClientIdent, AnonRateThrottle):
    pass


class ClientUserRateThrottle(_ClientIdent, UserRateThrottle):
    pass
