"""Every API list answers `?paging=cursor` (by id, and with `ordering=-id`, following `next`) for
every role without a 500 (clinic.api.ClinicCursorPagination)."""

from __future__ import annotations

import pytest
from django.urls import URLResolver, get_resolver

V1 = "/api/v1/"


def _patterns(resolver, prefix=""):
    for p in resolver.url_patterns:
        route = str(p.pattern)
        if isinstance(p, URLResolver):
            yield from _patterns(p, prefix + route)
        else:
            yield prefix + route, p


def _list_urls(world):
    urls = set()
    for route, _pattern in _patterns(get_resolver()):
        if not route.startswith("api/v1/"):
            continue
        if "format" in route or ("(?P" in route and "site_id" not in route):
            continue
        url = "/" + route.replace("^", "").replace("$", "").replace("\\.", ".")
        url = url.replace("<int:site_id>", str(world.site.pk)).replace("(?P<site_id>[^/.]+)", str(world.site.pk))
        if "<" in url or "(?P" in url or "auth/" in url:
            continue
        urls.add(url)
    return sorted(urls)


@pytest.mark.parametrize("role", ["front_desk", "nurse", "clinic_admin", "patient_a"])
def test_every_list_answers_cursor_paging_without_a_500(world, role):
    client = world.client(role)
    broken = {}
    for url in _list_urls(world):
        for query in ("paging=cursor", "paging=cursor&ordering=-id", "paging=cursor&limit=1"):
            response = client.get(f"{url}?{query}")
            if response.status_code >= 500:
                broken[f"{url}?{query}"] = response.status_code
            elif (
                response.status_code == 200
                and response["Content-Type"].startswith("application/json")
                and isinstance(response.json(), dict)
                and response.json().get("next")
            ):
                nxt = client.get(response.json()["next"])
                if nxt.status_code >= 500:
                    broken[response.json()["next"]] = nxt.status_code
    assert not broken, broken
