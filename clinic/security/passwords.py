"""Password validators beyond Django's own."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _


class RepetitivePasswordValidator:
    """Refuses a password that is one short chunk repeated ("aaaa…", "abab…", "abcabc…") or that uses
    too few different characters: such passwords pass a length rule yet fall to the first guesses."""

    def __init__(self, min_distinct_characters: int = 5) -> None:
        self.min_distinct_characters = min_distinct_characters

    def validate(self, password: str, user: object = None) -> None:
        length = len(password)
        for period in range(1, length // 2 + 1):
            if length % period == 0 and password == password[:period] * (length // period):
                raise ValidationError(
                    _("This password is one short pattern repeated."), code="password_repeated_pattern"
                )
        if len(set(password.lower())) < self.min_distinct_characters:
            raise ValidationError(
                _("This password uses fewer than %(count)d different characters."),
                code="password_too_repetitive",
                params={"count": self.min_distinct_characters},
            )

    def get_help_text(self) -> str:
        return _(
            "Your password can't be a short pattern repeated and must use at least %(count)d different characters."
        ) % {"count": self.min_distinct_characters}
