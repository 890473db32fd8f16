"""What every value coming into the API must satisfy, in one place.

- Dates and datetimes fall in a sane clinical range (CLINICAL_EARLIEST..CLINICAL_LATEST): a
  year 9999 start date would overflow date arithmetic (a 500) and a year 1900 one is a typo.
- Datetimes carry a UTC offset or `Z`: a naive one would silently be read as server time.
- Ids are whole numbers: JSON's 17.5 is refused, not truncated to 17.
- No control characters in any string (a trailing NUL, an escape): tab and newlines are fine.
- A write names only fields the endpoint accepts: DRF drops unknown fields silently, so a
  misspelt or unsupported field would look accepted while being ignored.

The field classes here are drop-in replacements for DRF's and django-filter's; the API
modules use them instead of the originals, and CleanModelSerializer maps model fields to them.
"""

from __future__ import annotations

import copy
import datetime as dt
import re
from collections.abc import Mapping
from typing import Any

import django_filters
from django import forms
from django.utils.dateparse import parse_datetime
from rest_framework import serializers

from clinic.dates import BIRTH_EARLIEST, CLINICAL_EARLIEST, CLINICAL_LATEST, in_range, range_message  # noqa: F401

NAIVE_DATETIME_MESSAGE = "Include a UTC offset or Z (e.g. 2026-03-05T15:00:00Z)."
CONTROL_CHARACTER_MESSAGE = "Control characters and unpaired surrogates are not allowed."

# C0 controls except tab, line feed and carriage return; DEL; C1 controls; and lone UTF-16
# surrogates (JSON's "\ud800" decodes to one, and no UTF-8 answer or PostgreSQL text can hold it).
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
_WHOLE_NUMBER = re.compile(r"^[0-9]{1,18}$")


def has_control_characters(text: str) -> bool:
    return bool(_CONTROL.search(text))


def shown_safely(text: str) -> str:
    """`text` with each control character or lone surrogate replaced by U+FFFD, fit to echo back."""
    return _CONTROL.sub("\ufffd", text)


def validate_date_range(
    value: dt.date, *, earliest: dt.date = CLINICAL_EARLIEST, latest: dt.date = CLINICAL_LATEST
) -> dt.date:
    """The one range check (clinic.dates, which the pages use too) every incoming date and datetime goes through."""
    if not in_range(value, earliest=earliest, latest=latest):
        raise serializers.ValidationError(range_message(earliest, latest))
    return value


def _refuse_control_characters(data: Any) -> None:
    if isinstance(data, str) and has_control_characters(data):
        raise serializers.ValidationError(CONTROL_CHARACTER_MESSAGE)


def parse_aware_datetime(text: str) -> dt.datetime | None:
    """The datetime in `text`, None if it is not one; refuses one without an offset."""
    try:
        parsed = parse_datetime(text.strip())
    except ValueError:
        return None
    if parsed is not None and parsed.tzinfo is None:
        raise serializers.ValidationError(NAIVE_DATETIME_MESSAGE)
    return parsed


# --- Serializer fields --------------------------------------------------------


class DateField(serializers.DateField):
    def __init__(
        self, *args: Any, earliest: dt.date = CLINICAL_EARLIEST, latest: dt.date = CLINICAL_LATEST, **kwargs: Any
    ) -> None:
        self.earliest, self.latest = earliest, latest
        super().__init__(*args, **kwargs)

    def to_internal_value(self, value):
        _refuse_control_characters(value)
        return validate_date_range(super().to_internal_value(value), earliest=self.earliest, latest=self.latest)


class DateTimeField(serializers.DateTimeField):
    def to_internal_value(self, value):
        _refuse_control_characters(value)
        if isinstance(value, str):
            parse_aware_datetime(value)
        elif isinstance(value, dt.datetime) and value.tzinfo is None:
            raise serializers.ValidationError(NAIVE_DATETIME_MESSAGE)
        return validate_date_range(super().to_internal_value(value))


def whole_number(data: Any) -> int:
    """An id as sent: a JSON integer or a string of digits; never a float, a bool or 1e3."""
    if isinstance(data, bool):
        raise serializers.ValidationError("Send the id as a whole number.")
    if isinstance(data, int):
        return data
    if isinstance(data, str) and _WHOLE_NUMBER.match(data):
        return int(data)
    raise serializers.ValidationError("Send the id as a whole number.")


def id_or_none(data: Any) -> int | None:
    """The id in `data` if it is one a row can have, else None (the field then says what is
    wrong, or that no such row exists, as for any id beyond a bigint)."""
    try:
        number = whole_number(data)
    except serializers.ValidationError:
        return None
    return number if -(2**63) <= number < 2**63 else None


class PrimaryKeyRelatedField(serializers.PrimaryKeyRelatedField):
    """A relation by id. When the parent serializer has read the row already (its `preloaded`
    maps this field's name to the row, or to None when nothing the caller may see has that
    id), no query is made; otherwise the field's queryset is asked, as DRF does."""

    def to_internal_value(self, data):
        pk = whole_number(data)
        preloaded = getattr(self.parent, "preloaded", None)
        if preloaded is not None and self.field_name in preloaded:
            found = preloaded[self.field_name]
            if found is None or found.pk != pk:
                self.fail("does_not_exist", pk_value=pk)
            return found
        return super().to_internal_value(pk)


# The largest id a field takes: rows' keys are 64-bit (BigAutoField); a larger number would only
# reach the database to fail there, answered without the field's name.
MAX_ID = 2**62


class IdField(serializers.IntegerField):
    """An id in a plain serializer (not a relation): a whole number from 1 to MAX_ID."""

    def __init__(self, **kwargs):
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", MAX_ID)
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        return super().to_internal_value(whole_number(data))


class FieldPrototypesMixin:
    """Builds the serializer's fields once per class instead of once per instance.

    DRF deep-copies every declared field (and a ModelSerializer builds its fields from the
    model) for each serializer it creates: about a millisecond of a booking's CPU for the
    input and the answer. Here each instance gets shallow copies of fields built once, to
    bind to itself; what a request sets on its fields (a scoped queryset) is set on its own
    copies. A class with a field a shallow copy would share in part (a nested serializer, a
    field holding a child field, a mutable default: see `_shareable`) keeps DRF's way."""

    shares_field_prototypes = True

    def get_fields(self):
        cls = type(self)
        prototypes = cls.__dict__.get("_field_prototypes")
        if prototypes is None:
            prototypes = super().get_fields()
            if not all(_shareable(field) for field in prototypes.values()):
                cls._field_prototypes = False
                return prototypes
            cls._field_prototypes = prototypes
        elif prototypes is False:
            return super().get_fields()
        return {name: copy.copy(field) for name, field in prototypes.items()}


def _shareable(field: serializers.Field) -> bool:
    """A field whose shallow copy owns everything a request may change: not a nested
    serializer, not a field holding a child field (a list, a dict, a many-relation: the child
    would be shared, and a scoped queryset set on it would reach the next request), and
    without a mutable default (DRF would deep-copy it per serializer)."""
    if isinstance(field, serializers.BaseSerializer | serializers.ManyRelatedField):
        return False
    if hasattr(field, "child") or hasattr(field, "child_relation"):
        return False
    return not isinstance(getattr(field, "default", None), list | dict | set)


class StrictInputMixin:
    """Refuses fields the serializer does not accept, naming them; read-only fields count as
    not accepted, since the server would ignore them."""

    def to_internal_value(self, data):
        if isinstance(data, Mapping):
            writable = {name for name, field in self.fields.items() if not field.read_only}
            unknown = sorted(str(name) for name in data if name not in writable)
            if unknown:
                raise serializers.ValidationError({name: ["This field is not accepted here."] for name in unknown})
        return super().to_internal_value(data)


class StrictQueryMixin:
    """For a serializer that reads a query string: a parameter the endpoint does not read is a 400
    naming it, since ignored it would answer as if it were not there (`?date_form=` for every day,
    `?sit=2` for every site). `also` names the parameters read elsewhere (paging, the browsable
    API's format)."""

    also: frozenset[str] = frozenset({"format"})

    def to_internal_value(self, data):
        if isinstance(data, Mapping):
            fields = sorted(self.fields)  # type: ignore[attr-defined]
            reads = ", ".join(fields) if fields else "no parameters"
            unknown = sorted(str(name) for name in data if name not in self.fields and name not in self.also)  # type: ignore[attr-defined]
            if unknown:
                raise serializers.ValidationError(
                    {name: [f"This endpoint has no such parameter; it reads {reads}."] for name in unknown}
                )
        return super().to_internal_value(data)  # type: ignore[misc]


class StrictSerializer(StrictInputMixin, serializers.Serializer):
    """A write endpoint's input: unknown fields are refused."""


class ClinicModelFieldMapping:
    """For ModelSerializers: model dates, datetimes and relations map to the strict fields."""

    serializer_related_field = PrimaryKeyRelatedField

    def build_standard_field(self, field_name, model_field):
        field_class, kwargs = super().build_standard_field(field_name, model_field)
        if field_class is serializers.DateTimeField:
            field_class = DateTimeField
        elif field_class is serializers.DateField:
            field_class = DateField
        return field_class, kwargs


# --- Query filters ------------------------------------------------------------


class _AwareIsoDateTimeFormField(forms.DateTimeField):
    def to_python(self, value):
        if value in self.empty_values:
            return None
        if has_control_characters(str(value)):
            raise forms.ValidationError(CONTROL_CHARACTER_MESSAGE)
        try:
            parsed = parse_aware_datetime(str(value))
            if parsed is None:
                raise forms.ValidationError("Enter an ISO 8601 datetime with a UTC offset or Z.")
            return validate_date_range(parsed)
        except serializers.ValidationError as exc:
            raise forms.ValidationError(exc.detail[0]) from exc


class IsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = _AwareIsoDateTimeFormField
