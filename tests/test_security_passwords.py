"""Password rules: numeric-only and repeated-pattern passwords are refused, ordinary passphrases pass."""

from __future__ import annotations

import pytest
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError


@pytest.mark.parametrize(
    "password", ["aaaaaaaaaaaa", "abababababab", "abcabcabcabc", "111111111111", "zzzzzzzzzzzzzzzz"]
)
def test_repeated_character_passwords_are_refused(password):
    with pytest.raises(ValidationError):
        validate_password(password)


def test_numeric_only_password_is_refused():
    with pytest.raises(ValidationError) as caught:
        validate_password("830264917502")
    assert any(error.code == "password_entirely_numeric" for error in caught.value.error_list)


def test_low_variety_password_is_refused():
    with pytest.raises(ValidationError) as caught:
        validate_password("aabbaabbabab")
    assert any(error.code == "password_too_repetitive" for error in caught.value.error_list)


@pytest.mark.parametrize("password", ["correct-horse-battery", "infusion chair 7 by the window", "Tr4vel-Mug-Kestrel"])
def test_ordinary_passphrases_are_accepted(password):
    validate_password(password)
