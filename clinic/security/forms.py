"""The sign-in and password forms: Django's, with what anyone may type or send handled in the
clinic's words. Django's text fields refuse a NUL before any look-up (PostgreSQL cannot hold or
compare one); here the refusal names the box and says what to do, and a box shown again holds no
NUL or other control character as sent (replaced by U+FFFD): the page does not carry back what a
browser would show as nothing, or what is not valid in HTML at all."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.forms import AuthenticationForm, PasswordChangeForm, PasswordResetForm, SetPasswordForm
from django.core.validators import ProhibitNullCharactersValidator
from django.forms import BoundField

from clinic.validators import without_control_characters


def null_character_message(label: str) -> str:
    return f"{label} contains a character that is not allowed (a null character). Type it again."


class ShownWithoutControlCharacters(BoundField):
    def value(self) -> Any:
        value = super().value()
        return without_control_characters(value) if isinstance(value, str) else value


class _TypedByAnyone:
    bound_field_class = ShownWithoutControlCharacters
    fields: dict[str, Any]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name, field in self.fields.items():
            message = null_character_message(str(field.label or name.capitalize()))
            field.validators = [
                ProhibitNullCharactersValidator(message=message)
                if isinstance(validator, ProhibitNullCharactersValidator)
                else validator
                for validator in field.validators
            ]


class SignInForm(_TypedByAnyone, AuthenticationForm):
    pass


class ResetLinkForm(_TypedByAnyone, PasswordResetForm):
    pass


class NewPasswordForm(_TypedByAnyone, SetPasswordForm):
    pass


class ChangePasswordForm(_TypedByAnyone, PasswordChangeForm):
    pass
