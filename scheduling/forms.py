"""Forms for the scheduling pages. They only check the shape of the input;
the rules (conflicts, plan rules, intervals) are the services' job, and their
errors are shown next to the form."""

from __future__ import annotations

import datetime as dt

from django import forms

from clinic.form_fields import ClinicalDateField, RefusesControlCharacters


class DateInput(forms.DateInput):
    input_type = "date"


class DayRangeForm(RefusesControlCharacters, forms.Form):
    """A range of days to look for free times in (the free-slot finder's limit: `max_days`)."""

    max_days = 14
    first_day = ClinicalDateField(label="From", widget=DateInput)
    last_day = ClinicalDateField(label="To", widget=DateInput)

    def clean(self) -> dict:
        data = super().clean()
        first, last = data.get("first_day"), data.get("last_day")
        if first and last:
            if last < first:
                self.add_error("last_day", "The last day must be on or after the first day.")
            elif (last - first).days >= self.max_days:
                self.add_error("last_day", f"Look at {self.max_days} days or fewer at a time.")
        return data


class CourseStartForm(RefusesControlCharacters, forms.Form):
    start_date = ClinicalDateField(
        label="First possible day", widget=DateInput, help_text="The course is planned from this day on."
    )


class UndoCheckInForm(RefusesControlCharacters, forms.Form):
    reason = forms.CharField(label="Why the check-in is undone", max_length=500, required=False, strip=True)


class CancelForm(RefusesControlCharacters, forms.Form):
    reason = forms.CharField(
        label="Reason for cancelling",
        max_length=500,
        strip=True,
        error_messages={"required": "Give a reason for the cancellation."},
    )


class PlanAdjustForm(RefusesControlCharacters, forms.Form):
    """One change to a plan; the reason is kept in the plan's history."""

    PAUSE, RESUME, END, INTERVAL, NEW_INDUCTION = "pause", "resume", "end", "interval", "new_induction"
    REVIEW = "review"
    ACTIONS = [
        (INTERVAL, "Change the maintenance interval"),
        (REVIEW, "Change the review date"),
        (PAUSE, "Pause the plan"),
        (RESUME, "Resume the plan"),
        (END, "End the plan early"),
        (NEW_INDUCTION, "Start a new induction (relapse)"),
    ]

    action = forms.ChoiceField(label="Change", choices=ACTIONS, widget=forms.RadioSelect)
    interval_days = forms.IntegerField(
        label="New maintenance interval (days)", required=False, min_value=1, max_value=365
    )
    review_date = ClinicalDateField(
        label="New review date",
        required=False,
        widget=DateInput,
        help_text="The course stops here: no session after it unless a prescriber accepts one.",
    )
    from_date = ClinicalDateField(
        label="Resume or restart from",
        required=False,
        widget=DateInput,
        help_text="For resuming or a new induction: the first possible day.",
    )
    reason = forms.CharField(
        label="Reason",
        widget=forms.Textarea(attrs={"rows": 2}),
        max_length=1000,
        strip=True,
        error_messages={"required": "Give a reason for this change; it is kept in the plan's history."},
    )
    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1)

    def __init__(self, *args, allowed: list[str] | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if allowed is not None:
            self.offer_only(allowed)

    def offer_only(self, allowed: list[str]) -> None:
        """Offer only the changes in `allowed`, and only their fields: each role sees the changes it
        may make. Also for a form drawn again after a refusal, with what the chart offers now."""
        self.fields["action"].choices = [c for c in self.ACTIONS if c[0] in allowed]
        if self.INTERVAL not in allowed:
            self.fields.pop("interval_days", None)
        if self.REVIEW not in allowed:
            self.fields.pop("review_date", None)
        restarts = [a for a in (self.RESUME, self.NEW_INDUCTION) if a in allowed]
        if "from_date" not in self.fields:
            return
        if not restarts:
            del self.fields["from_date"]
        elif restarts == [self.RESUME]:
            self.fields["from_date"].label = "Resume from"
            self.fields["from_date"].help_text = "The first possible day of the next session."
        elif restarts == [self.NEW_INDUCTION]:
            self.fields["from_date"].label = "Restart from"
            self.fields["from_date"].help_text = "The first possible day of the new induction."

    def clean(self) -> dict:
        data = super().clean()
        action = data.get("action")
        if action == self.INTERVAL and not data.get("interval_days"):
            self.add_error("interval_days", "Give the new interval in days.")
        if action == self.REVIEW and not data.get("review_date"):
            self.add_error("review_date", "Give the new review date.")
        if action in (self.RESUME, self.NEW_INDUCTION) and not data.get("from_date"):
            self.add_error("from_date", "Give the day to restart from.")
        return data


def next_weekday(day: dt.date) -> dt.date:
    while day.weekday() >= 5:
        day += dt.timedelta(days=1)
    return day
