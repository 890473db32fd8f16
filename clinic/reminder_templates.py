"""The reminder templates a clinic administrator writes (ReminderPolicy's subject, body and text
message): what they may use, the engine that compiles them, and the check that one renders
before it is saved.

A template is checked where it is saved (the admin and the API both reach ReminderPolicy.clean)
and compiled by the same engine when a reminder is sent (scheduling.reminders.rendering), so
what was accepted renders, and nothing else does: a template stored before a rule came in gives
way to the built-in wording at send time, and the policy's admin pages say why
(ReminderPolicy.template_problems). The engine knows no template files and no
URL names: `{% include %}`, `{% extends %}`, `{% url %}`, `{% load %}`, `{% debug %}` and
`{% csrf_token %}` are unknown to it, so a reminder can neither fail on a missing file nor show
the project's own templates or the context's internals to a patient."""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from typing import Any

from django.template import Context, Engine, Library, Template, TemplateSyntaxError, defaultfilters, defaulttags
from django.template.base import Lexer, TokenType
from django.utils import timezone

# No loop tag: the context holds only words and dates, and nested loops over a text would make
# one reminder cost minutes to write.
SAFE_TAGS = ("comment", "filter", "firstof", "if", "now", "spaceless", "templatetag", "verbatim", "with")
# None of these can make a text longer than a fixed multiple of its input (urlencode, escape,
# join, add and the padding filters can, exponentially when chained through `with`).
SAFE_FILTERS = (
    "capfirst",
    "cut",
    "date",
    "default",
    "default_if_none",
    "divisibleby",
    "first",
    "last",
    "length",
    "lower",
    "pluralize",
    "slice",
    "striptags",
    "time",
    "timesince",
    "timeuntil",
    "title",
    "truncatechars",
    "truncatewords",
    "upper",
    "wordcount",
    "wordwrap",
    "yesno",
)

register = Library()
register.tags = {name: defaulttags.register.tags[name] for name in SAFE_TAGS}
register.filters = {name: defaultfilters.register.filters[name] for name in SAFE_FILTERS}


class ReminderTemplateEngine(Engine):
    # Engine puts its default_builtins (every tag and filter, the loader tags) before any given.
    default_builtins = [__name__]


_ENGINE = ReminderTemplateEngine(loaders=[], libraries={}, autoescape=False)

# The names message_context (scheduling.reminders.rendering) gives every reminder template.
CONTEXT_NAMES = frozenset(
    {
        "patient_first_name",
        "site_name",
        "site_address",
        "site_phone",
        "protocol",
        "local_start",
        "local_end",
        "time_zone",
        "zone_note",
        "preparation_notes",
        "confirm_url",
        "cancel_url",
        "released_with_plan",
    }
)
# Tags a template may not use, by name, for a message that says so rather than the compiler's
# "did you forget to load this tag?".
_REFUSED_TAGS = (frozenset(defaulttags.register.tags) | {"include", "extends", "block", "load", "ssi"}) - frozenset(
    SAFE_TAGS
)


def compile_reminder_template(source: str) -> Template:
    """`source` compiled with the reminder engine (TemplateSyntaxError if it does not compile)."""
    return _ENGINE.from_string(source)


def sample_context(*, site_name: str, site_address: str, site_phone: str, time_zone: str) -> dict[str, Any]:
    """A reminder's context (CONTEXT_NAMES) with made-up patient and session values, the site's own."""
    zone = zoneinfo.ZoneInfo(time_zone)
    # Fixed, so the check never depends on the day it runs.
    starts = dt.datetime(2030, 1, 15, 9, 30, tzinfo=zone)
    return {
        "patient_first_name": "Alex",
        "site_name": site_name,
        "site_address": site_address,
        "site_phone": site_phone,
        "protocol": "infusion",
        "local_start": starts,
        "local_end": starts + dt.timedelta(hours=2),
        "time_zone": zone.key,
        "zone_note": "",
        "preparation_notes": "Arrange for someone to drive you home.",
        "confirm_url": "https://clinic.example/r/confirm/sample",
        "cancel_url": "https://clinic.example/r/cancel/sample",
        "released_with_plan": "",
    }


# Django's words for a filter the engine does not know: one of its own (refused here) or a typo.
_REFUSED_FILTER = re.compile(r"Invalid filter: '(?P<name>[^']+)'")


def reminder_template_problem(source: str, context: dict[str, Any], zone: zoneinfo.ZoneInfo) -> str | None:
    """Why `source` cannot be a reminder template, or None: it uses a tag not allowed here, does
    not compile, or raises when rendered with `context` in `zone` (as a reminder is rendered)."""
    try:
        for token in Lexer(source).tokenize():
            name = token.contents.split()[0] if token.token_type == TokenType.BLOCK and token.contents else ""
            if name in _REFUSED_TAGS:
                allowed = ", ".join(sorted(SAFE_TAGS))
                return f"{{% {name} %}} cannot be used in a reminder template; its tags are {allowed}."
        template = compile_reminder_template(source)
    except TemplateSyntaxError as exc:
        refused = _REFUSED_FILTER.fullmatch(str(exc))
        if refused and refused["name"] in defaultfilters.register.filters:
            allowed = ", ".join(sorted(SAFE_FILTERS))
            return f"|{refused['name']} cannot be used in a reminder template; its filters are {allowed}."
        return f"Not a valid template: {exc}"
    try:
        with timezone.override(zone):
            template.render(Context(context, autoescape=False))
    except Exception as exc:  # whatever a render raises would put the site's reminders in the built-in wording
        return f"This template cannot be rendered: {exc}"
    return None
