"""Form fields the pages share.

A ``datetime-local`` input carries a wall-clock time and no offset. Django reads it in the current
time zone and refuses a time that occurs twice (the night the clocks go back) or not at all (the
night they go forward), so a page that pre-fills "now" at 01:30 on the November night refused its
own value. Here a time the page itself filled in inside the repeated hour carries which of the two
it is (a hidden companion input, kept only while the visible time is unchanged); a time typed
there is the latest occurrence that has already come; a time inside the spring-forward gap is
refused with a message that says why and what to enter instead."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from clinic.api_fields import CONTROL_CHARACTER_MESSAGE, has_control_characters
from clinic.dates import CLINICAL_EARLIEST, CLINICAL_LATEST, in_range, range_message

LOCAL_INPUT_FORMAT = "%Y-%m-%dT%H:%M"


def wall_clock_instant(naive: dt.datetime, zone: dt.tzinfo) -> dt.datetime | None:
    """`naive` read on `zone`'s wall clock, as a UTC instant (an aware time inside the repeated hour compares unequal
    to every other zone's, PEP 495): the first occurrence of a repeated time, None for a time
    the clocks skip (it does not survive the round trip through UTC)."""
    candidate = naive.replace(tzinfo=zone, fold=0)
    if candidate.astimezone(dt.UTC).astimezone(zone).replace(tzinfo=None) != naive:
        return None
    return candidate.astimezone(dt.UTC)


def skipped_time_error(naive: dt.datetime, zone: dt.tzinfo) -> ValidationError:
    """The refusal of a time `zone`'s clocks skip (the night they go forward)."""
    return ValidationError(
        "%(time)s does not exist in %(zone)s: the clocks went forward that night. Enter the time an hour later.",
        code="nonexistent_time",
        params={"time": naive.strftime("%d %b %Y %H:%M"), "zone": zone},
    )


# A device clock a little ahead of the server's still records "now" as now.
RECORDING_CLOCK_SKEW = dt.timedelta(minutes=1)


def _latest_past_occurrence(naive: dt.datetime, zone: dt.tzinfo, first: dt.datetime) -> dt.datetime:
    """`first`, or the second occurrence of a time the clocks repeat (the night they go back) when
    that one has already come: a time being recorded is read as the latest one not in the future."""
    second = naive.replace(tzinfo=zone, fold=1).astimezone(dt.UTC)
    if second != first and second <= timezone.now() + RECORDING_CLOCK_SKEW:
        return second
    return first


def _repeated(naive: dt.datetime, zone: dt.tzinfo) -> bool:
    """Whether `naive` happens twice on `zone`'s wall clock (the hour the clocks go back)."""
    first, second = naive.replace(tzinfo=zone, fold=0), naive.replace(tzinfo=zone, fold=1)
    return first.utcoffset() != second.utcoffset() and wall_clock_instant(naive, zone) is not None


class WallClockInput(forms.DateTimeInput):
    """A datetime-local input; inside the repeated hour, with the offset of the occurrence it shows."""

    input_type = "datetime-local"
    template_name = "clinic/widgets/wall_clock.html"
    SUFFIX = "__occurrence"

    def get_context(self, name: str, value: Any, attrs: dict[str, Any] | None) -> dict[str, Any]:
        if isinstance(value, str) and (parsed := _parse(value)) is not None and timezone.is_aware(parsed):
            value = timezone.make_naive(parsed)  # a re-shown post: the wall-clock time, its fold kept
        context = super().get_context(name, value, attrs)
        if isinstance(value, dt.datetime) and timezone.is_naive(value):
            zone = timezone.get_current_timezone()
            if _repeated(value, zone):
                offset = value.replace(tzinfo=zone).strftime("%z")
                context["widget"]["occurrence"] = f"{value.strftime(LOCAL_INPUT_FORMAT)}|{offset[:3]}:{offset[3:]}"
        return context

    def value_from_datadict(self, data: Any, files: Any, name: str) -> Any:
        text = super().value_from_datadict(data, files, name)
        shown, _, offset = str(data.get(name + self.SUFFIX) or "").partition("|")
        if isinstance(text, str) and offset and text.strip() == shown:
            return text.strip() + offset  # the occurrence the page showed, while the time is unchanged
        return text


def _parse(text: str) -> dt.datetime | None:
    try:
        return parse_datetime(text.strip())
    except ValueError:
        return None


class WallClockDateTimeField(forms.DateTimeField):
    """A time something happened, typed on the site's wall clock (the current time zone). Also held to
    the clinical date range (clinic.dates), as every date a page accepts. On the night the clocks go
    back, a time in the repeated hour is its latest occurrence that has already come (01:10 typed at
    01:20 EST is 01:10 EST); a time the clocks skip is refused."""

    widget = WallClockInput(format=LOCAL_INPUT_FORMAT)

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("input_formats", [LOCAL_INPUT_FORMAT])
        super().__init__(**kwargs)

    def to_python(self, value: Any) -> dt.datetime | None:
        if value in self.empty_values:
            return None
        if isinstance(value, dt.datetime):
            parsed: dt.datetime | None = value
        else:
            text = str(value).strip()
            try:
                parsed = parse_datetime(text)
            except ValueError:
                parsed = None
            if parsed is None:
                parsed = forms.fields.BaseTemporalField.to_python(self, text)
        assert parsed is not None
        if timezone.is_aware(parsed):
            return parsed
        zone = timezone.get_current_timezone()
        try:
            aware = wall_clock_instant(parsed, zone)
        except OverflowError:  # year 9999 in a zone west of UTC
            raise ValidationError(range_message(), code="out_of_range") from None
        if aware is None:
            raise skipped_time_error(parsed, zone)
        return _latest_past_occurrence(parsed, zone, aware)

    def validate(self, value: dt.datetime | None) -> None:
        super().validate(value)
        if value is not None and not in_range(value):
            raise ValidationError(range_message(), code="out_of_range")


class SiteClockSplitDateTimeField(forms.SplitDateTimeField):
    """The admin's date and time boxes for a time on a site's wall clock: a form that knows the site
    only once its own fields are read (a closure's, a shift's) takes the time as typed, with no zone,
    and reads it on that site's clock itself (clinic.admin.SiteClockForm). Django's own field would
    read it on the server's clock (UTC), a day's closure landing hours off the day."""

    def compress(self, data_list: list[Any]) -> dt.datetime | None:
        if not data_list:
            return None
        day, clock = data_list
        if day in self.empty_values:
            raise ValidationError(self.error_messages["invalid_date"], code="invalid_date")
        if clock in self.empty_values:
            raise ValidationError(self.error_messages["invalid_time"], code="invalid_time")
        return dt.datetime.combine(day, clock)


class ClinicalDateField(forms.DateField):
    """A page's date field, held to the clinical range (`earliest`/`latest` to change it)."""

    def __init__(
        self, *args: Any, earliest: dt.date = CLINICAL_EARLIEST, latest: dt.date = CLINICAL_LATEST, **kwargs: Any
    ) -> None:
        self.earliest, self.latest = earliest, latest
        super().__init__(*args, **kwargs)

    def validate(self, value: dt.date | None) -> None:
        super().validate(value)
        if value is not None and not in_range(value, earliest=self.earliest, latest=self.latest):
            raise forms.ValidationError(range_message(self.earliest, self.latest), code="out_of_range")


class RefusesControlCharacters:
    """For a page's form: no text it reads may hold a control character (an escape, a bell, a
    backspace; tab and line breaks are fine), the rule the API holds for every string
    (clinic.api.refuse_control_characters). Put it before `forms.Form` among the bases."""

    def clean(self) -> dict[str, Any]:
        data: dict[str, Any] = super().clean()  # type: ignore[misc]
        for name, value in list(data.items()):
            if isinstance(value, str) and has_control_characters(value):
                self.add_error(name, CONTROL_CHARACTER_MESSAGE)  # type: ignore[attr-defined]
        return data
