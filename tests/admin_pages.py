"""Reading an admin page as a browser does: what its form posts is the inputs it draws, as drawn
(not the forms' values in the template context, which hold fields a page may fail to draw)."""

from __future__ import annotations

import re
from html import unescape

_INPUT = re.compile(r"<input\b[^>]*>")
_SELECT = re.compile(r'<select\b[^>]*name="([^"]+)"[^>]*>(.*?)</select>', re.S)
_TEXTAREA = re.compile(r'<textarea\b[^>]*name="([^"]+)"[^>]*>(.*?)</textarea>', re.S)
_ERRORS = re.compile(r'<p class="errornote">.*?</p>|<ul class="errorlist[^"]*"[^>]*>.*?</ul>', re.S)


def _attribute(tag: str, name: str) -> str | None:
    found = re.search(rf'\b{name}="([^"]*)"', tag)
    return unescape(found.group(1)) if found else None


def as_posted(html: str) -> dict[str, object]:
    """What a browser posts for the admin change page's form: its inputs as drawn, buttons left out."""
    start = re.search(r'<form [^>]*id="\w+_form"', html)
    assert start is not None, "no change form on the page"
    form = html[start.start() : html.index("</form>", start.start())]
    data: dict[str, object] = {}
    for tag in _INPUT.findall(form):
        name, kind = _attribute(tag, "name"), _attribute(tag, "type") or "text"
        if not name or kind in ("submit", "button", "file", "image", "reset"):
            continue
        if kind in ("checkbox", "radio"):
            if re.search(r"\bchecked\b", tag):
                data.setdefault(name, []).append(_attribute(tag, "value") or "on")  # type: ignore[union-attr]
            continue
        data[name] = _attribute(tag, "value") or ""
    for name, options in _SELECT.findall(form):
        chosen = [unescape(v) for v in re.findall(r'<option value="([^"]*)"[^>]*\bselected\b', options)]
        if chosen:
            data[name] = chosen if len(chosen) > 1 else chosen[0]
    for name, text in _TEXTAREA.findall(form):
        data[name] = unescape(text.removeprefix("\n"))
    return data


def errors_on(html: str) -> list[str]:
    """The error notes and field errors a page shows, as text."""
    return [" ".join(re.sub(r"<[^>]+>", " ", found).split()) for found in _ERRORS.findall(html)]
