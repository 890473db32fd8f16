"""Admin change pages that never save over someone else's change.

A change page posts back every field it edits, not only those the user touched: an
administrator who opened a patient before the portal saved a new consent would, on saving a
corrected phone number, write the old consent back. So each change page carries, hidden, a
fingerprint of the fields it edits as they were shown (a many-to-many field as its linked ids);
on saving, the row is locked and fingerprinted again, and a difference refuses the save with a
message to reload. The fields the page does not edit (a status, a version) are read again from
the locked row, so the save writes their current values. The lock holds to the commit (the
admin's change view is one transaction), so nothing slips in between the check and the save."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from django import forms
from django.contrib.admin.utils import flatten_fieldsets
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.http import HttpRequest

FINGERPRINT_FIELD = "shown_version"


def edited_fields(form: forms.ModelForm) -> list[str]:
    """The model's fields this change page edits (the rest it shows read-only, or not at all)."""
    opts = form._meta.model._meta
    names = {field.name for field in opts.concrete_fields} | {field.name for field in opts.many_to_many}
    return sorted(name for name in form.fields if name in names)


def row_fingerprint(instance: models.Model, names: list[str]) -> str:
    """A digest of what the row holds in `names`: a column's value, a many-to-many field's linked ids."""
    opts = instance._meta
    values: dict[str, Any] = {}
    for name in names:
        field = opts.get_field(name)
        if field.many_to_many:
            values[name] = sorted(getattr(instance, name).values_list("pk", flat=True))
        else:
            values[name] = getattr(instance, field.attname)
    text = json.dumps(values, sort_keys=True, cls=DjangoJSONEncoder, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


class ChangedSinceShownForm(forms.ModelForm):
    """Mixed into an admin's ModelForm for the change page (ConcurrentEditAdminMixin.get_form).

    The fields the page edits are fingerprinted as shown and compared with the locked row on
    saving; the fields it does not edit are read again from the locked row, so the save writes
    their current values, not those read before the lock."""

    shown_version = forms.CharField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not self.is_bound and self.instance.pk is not None:
            self.initial[FINGERPRINT_FIELD] = row_fingerprint(self.instance, edited_fields(self))

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        model = type(self.instance)
        locked = model._base_manager.select_for_update().filter(pk=self.instance.pk).first()
        if locked is None:
            raise forms.ValidationError(
                f"This {model._meta.verbose_name} was deleted after you opened it; nothing was saved.",
                code="deleted_since_shown",
            )
        edited = edited_fields(self)
        if row_fingerprint(locked, edited) != (cleaned or {}).get(FINGERPRINT_FIELD):
            raise forms.ValidationError(
                f"Someone changed this {model._meta.verbose_name} after you opened it, so your changes were not "
                "saved over theirs. Reload the page to see the current values, then make your change again.",
                code="changed_since_shown",
            )
        for field in model._meta.concrete_fields:
            if field.name not in edited and not field.primary_key:
                setattr(self.instance, field.attname, getattr(locked, field.attname))
        return cleaned


class ConcurrentEditAdminMixin:
    """For a ModelAdmin whose objects can be changed: its change page is ChangedSinceShownForm's."""

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        if obj is not None:
            # The model has no such field: the form is built without it, then given it.
            fields = kwargs["fields"] if "fields" in kwargs else flatten_fieldsets(self.get_fieldsets(request, obj))
            kwargs["fields"] = None if fields is None else [name for name in fields if name != FINGERPRINT_FIELD]
        form = super().get_form(request, obj, change=change, **kwargs)  # type: ignore[misc]
        if obj is None or issubclass(form, ChangedSinceShownForm):
            return form
        return type(form.__name__, (ChangedSinceShownForm, form), {})

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        fieldsets = super().get_fieldsets(request, obj)  # type: ignore[misc]
        if obj is None or any(FINGERPRINT_FIELD in _names(options.get("fields", ())) for _, options in fieldsets):
            return fieldsets
        # In the first fieldset, so the page posts it back (the admin shows only the fieldsets' fields).
        (name, options), *rest = fieldsets
        return [(name, {**options, "fields": [*options.get("fields", ()), FINGERPRINT_FIELD]}), *rest]


def _names(fields: Any) -> list[str]:
    names: list[str] = []
    for field in fields:
        names.extend(field if isinstance(field, list | tuple) else [field])
    return names
