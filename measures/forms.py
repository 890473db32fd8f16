from __future__ import annotations

from django import forms

from clinic.form_fields import RefusesControlCharacters
from measures.questions import Questionnaire


class QuestionnaireForm(RefusesControlCharacters, forms.Form):
    """One required radio group per item, named item_1 … item_n."""

    def __init__(self, *args, questionnaire: Questionnaire, **kwargs):
        super().__init__(*args, **kwargs)
        self.questionnaire = questionnaire
        for number, text in enumerate(questionnaire.items, start=1):
            self.fields[f"item_{number}"] = forms.TypedChoiceField(
                label=text,
                choices=questionnaire.choices,
                coerce=int,
                widget=forms.RadioSelect,
                error_messages={"required": "Please choose one answer."},
            )

    def answers(self) -> list[int]:
        return [self.cleaned_data[f"item_{n}"] for n in range(1, len(self.questionnaire.items) + 1)]

    def item_fields(self):
        return [self[f"item_{n}"] for n in range(1, len(self.questionnaire.items) + 1)]
