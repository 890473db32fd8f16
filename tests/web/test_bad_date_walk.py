"""The bad-date walk: every page of the web URLconf, for every role, with every date input of
every form on it (as the browser would submit it) and every date query parameter its links
carry, set to 0001-01-01, 9999-12-31 and an empty value. A page answers 4xx or shows a form
error, never a 500 and never accepts the date (an empty optional date may be accepted).

Pages and forms are collected from the URLconf and the pages themselves, so a new page or a new
date field is walked without changing this test."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import parse_qsl, urljoin, urlsplit

import pytest
import time_machine
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from scheduling.models import Appointment, AppointmentStatus
from tests.web.conftest import login, make_patient

BAD_DAYS = ["0001-01-01", "9999-12-31", ""]
BAD_TIMES = ["0001-01-01T10:00", "9999-12-31T23:59", ""]
DATE_VALUE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
ERROR_MARKERS = ("field__error", "errorlist", 'role="alert"', "alert--error")
# Parts of the URLconf that are not pages with forms: the API, the admin, sign-in, signed links.
SKIPPED_PREFIXES = ("api/", "admin/", "r/", "health/", "w/", "calendar/", "login", "logout", "password", "account")
ROLES = ["anonymous", "desk", "nurse", "prescriber", "admin", "patient_a"]


@dataclass
class Form:
    action: str
    method: str
    fields: dict[str, str] = field(default_factory=dict)
    dates: list[tuple[str, str, bool]] = field(default_factory=list)  # (name, input type, required)


class Forms(HTMLParser):
    """The forms of a page as a browser submits them: inputs (checked boxes only), the first
    option of each select, textareas (their text is not needed: empty)."""

    def __init__(self, page_url: str) -> None:
        super().__init__()
        self.page_url, self.forms, self.links = page_url, [], []
        self._form: Form | None = None
        self._select: str | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "a" and a.get("href"):
            self.links.append(urljoin(self.page_url, a["href"]))
        if tag == "form":
            self._form = Form(
                action=urljoin(self.page_url, a.get("action") or self.page_url),
                method=(a.get("method") or "get").lower(),
            )
            self.forms.append(self._form)
        if self._form is None or not a.get("name"):
            return
        name = a["name"]
        if tag == "input":
            kind = (a.get("type") or "text").lower()
            if kind in ("date", "datetime-local"):
                self._form.dates.append((name, kind, "required" in a))
                self._form.fields[name] = a.get("value") or ""
            elif kind in ("checkbox", "radio"):
                if "checked" in a or name not in self._form.fields:
                    self._form.fields[name] = a.get("value") or "on"
            elif kind not in ("submit", "button"):
                self._form.fields[name] = a.get("value") or ""
        elif tag == "select":
            self._select = name
            self._form.fields.setdefault(name, "")
        elif tag == "option" and self._select and self._form.fields.get(self._select) == "":
            self._form.fields[self._select] = a.get("value") or ""
        elif tag == "textarea":
            self._form.fields[name] = "Walk"

    def handle_endtag(self, tag):
        if tag == "form":
            self._form = None
        if tag == "select":
            self._select = None


def _page_patterns() -> list[tuple[str, str]]:
    """(route, name) of every named page in the URLconf outside the skipped parts."""
    found = []

    def walk(patterns, prefix="", namespace=""):
        for entry in patterns:
            route = prefix + str(entry.pattern)
            if route.startswith(SKIPPED_PREFIXES):
                continue
            if isinstance(entry, URLResolver):
                inner = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
                walk(entry.url_patterns, route, inner)
            elif isinstance(entry, URLPattern) and entry.name:
                found.append((route, namespace + entry.name))

    walk(get_resolver().url_patterns)
    return found


def _urls(web) -> list[str]:
    values = {
        "patient_id": web.patient_a.pk,
        "appointment_id": web.sessions_a[-1].pk,
        "plan_id": web.plan_a.pk,
        "instrument": "phq9",
    }
    urls = []
    for route, name in _page_patterns():
        params = re.findall(r"<(?:\w+:)?(\w+)>", route)
        if any(param not in values for param in params):
            continue  # an action (slug) or a token: POST-only or signed, no form of its own
        urls.append(reverse(name, kwargs={param: values[param] for param in params}))
    return urls


def _shows_an_error(response) -> bool:
    return response.status_code >= 400 or any(marker in response.content.decode() for marker in ERROR_MARKERS)


def _check(response, *, value: str, required: bool, where: str) -> None:
    assert response.status_code < 500, where
    if value or required:
        assert response.status_code not in (301, 302, 303), f"accepted: {where}"
        assert _shows_an_error(response), f"no error shown: {where}"


def _walk(client, url: str, role: str) -> int:
    """Every date input of every form on the page at `url`, and every date parameter of its links."""
    walked = 0
    page = client.get(url)
    assert page.status_code < 500, url
    if page.status_code != 200 or "html" not in page.get("Content-Type", ""):
        return 0
    parser = Forms(url)
    parser.feed(page.content.decode())
    for form in parser.forms:
        for name, kind, required in form.dates:
            for value in BAD_DAYS if kind == "date" else BAD_TIMES:
                data = {**form.fields, name: value}
                target = urlsplit(form.action).path
                if form.method == "post":
                    response = client.post(target, data)
                else:
                    response = client.get(target, {**dict(parse_qsl(urlsplit(form.action).query)), **data})
                where = f"{role} {form.method} {target} {name}={value!r}"
                _check(response, value=value, required=required, where=where)
                walked += 1
    for link in {link for link in parser.links if urlsplit(link).query}:
        parts = urlsplit(link)
        query = dict(parse_qsl(parts.query))
        for param in [p for p, v in query.items() if DATE_VALUE.match(v)]:
            for value in BAD_DAYS:
                response = client.get(parts.path, {**query, param: value})
                # An empty day means the default day; a wrong one is refused.
                _check(response, value=value, required=False, where=f"{role} GET {parts.path} {param}={value!r}")
                walked += 1
    return walked


@pytest.mark.parametrize("role", ROLES)
def test_every_form_and_date_parameter_refuses_absurd_dates_without_a_500(client, web, role):
    if role != "anonymous":
        login(client, getattr(web, role).user)
    newcomer = make_patient(web.clinic, "newcomer", "Nia", "Newman")  # no plan yet: the new-plan form
    urls = [*_urls(web), reverse("web:plan-new", args=[newcomer.pk])]
    walked = sum(_walk(client, url, role) for url in urls)
    if role in ("desk", "nurse", "prescriber", "patient_a"):
        assert walked, "no date input found: the walk is not walking"


@pytest.mark.parametrize("role", ["nurse", "prescriber"])
def test_the_session_record_forms_refuse_absurd_times_without_a_500(client, web, role):
    """The record's forms (administration, recovery) show once the patient is in the chair."""
    session = web.sessions_a[0]
    with time_machine.travel(session.starts_at + dt.timedelta(minutes=20), tick=False):
        Appointment.objects.filter(pk=session.pk).update(
            status=AppointmentStatus.IN_CHAIR, checked_in_at=session.starts_at, in_chair_at=session.starts_at
        )
        login(client, getattr(web, role).user)
        assert _walk(client, reverse("clinical:session", args=[session.pk]), role) >= 6
