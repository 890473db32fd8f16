"""Admin change pages that never save over someone else's change.

A change page posts back every field it edits, not only those the user touched: an
administrator who opened a patient before the portal saved a new consent would, on saving a
corrected phone number, write the old consent back. So each change page carries, hidden, a
fingerprint of the fields it edits as the page showed them (a many-to-many field as its linked
ids; a disabled field, such as a password hash, is not an edit); on saving, the row (and those
links) is locked and fingerprinted again, and a difference refuses the save with a message to
reload. The fields the page does not edit (a status, a version) are read again from the locked
row, so the save writes their current values. Each inline row the page shows carries its own
fingerprint and is checked the same way (a row ticked for deletion too); a row nobody touched is
not saved again. The locks hold to the commit (the admin's change view is one transaction, and
history's "Revert" page is given one), so nothing slips in between the check and the save. A list
page's editable columns (list_editable) are checked the same way, row by row: a row whose posted
values differ from the stored ones is saved only if the row is as the page showed it."""

from __future__ import annotations

import hashlib
import json
from typing import Any, ClassVar

from django import forms
from django.contrib.admin.utils import flatten_fieldsets
from django.core.exceptions import NON_FIELD_ERRORS
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models, router, transaction
from django.forms.models import InlineForeignKeyField
from django.http import HttpRequest

FINGERPRINT_FIELD = "shown_version"
_HISTORY_PAGE = "_clinic_history_revert_page"


def edited_fields(form: forms.ModelForm) -> list[str]:
    """The model's fields this change page edits (the rest it shows read-only, or not at all). An
    inline row's id and its parent's key are not edits (its formset adds them after the form is
    built, so they are left out on both sides)."""
    opts = form._meta.model._meta
    names = {field.name for field in opts.concrete_fields if not field.primary_key}
    names |= {field.name for field in opts.many_to_many}
    return sorted(
        name
        for name, field in form.fields.items()
        # A disabled field (a login's password hash) is shown, never taken from the post.
        if name in names and not isinstance(field, InlineForeignKeyField) and not field.disabled
    )


def row_values(instance: models.Model, names: list[str] | None = None) -> dict[str, Any]:
    """What the row holds (in `names`, or all of it): each column's value, each many-to-many
    field's linked ids."""
    opts = instance._meta
    values: dict[str, Any] = {field.name: getattr(instance, field.attname) for field in opts.concrete_fields}
    for field in opts.many_to_many:
        if names is None or field.name in names:
            values[field.name] = sorted(getattr(instance, field.name).values_list("pk", flat=True))
    return values


def fingerprint(values: dict[str, Any], names: list[str]) -> str:
    """A digest of `values` in `names`."""
    text = json.dumps({name: values[name] for name in names}, sort_keys=True, cls=DjangoJSONEncoder, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _as_stored(value: Any) -> Any:
    """A form's cleaned value as row_values holds it: a row as its id, rows as their sorted ids."""
    if isinstance(value, models.Model):
        return value.pk
    if isinstance(value, (models.QuerySet, list, tuple)) and all(isinstance(v, models.Model) for v in value):
        return sorted(v.pk for v in value)
    return value


def row_fingerprint(instance: models.Model, names: list[str]) -> str:
    return fingerprint(row_values(instance, names), names)


class _FingerprintField(forms.CharField):
    """The hidden fingerprint: never a change of its own, so an inline row nobody edited is not saved."""

    widget = forms.HiddenInput

    def __init__(self) -> None:
        super().__init__(required=False)

    def has_changed(self, initial: Any, data: Any) -> bool:
        return False


class ChangedSinceShownForm(forms.ModelForm):
    """Mixed into an admin's ModelForm for the change page (ConcurrentEditAdminMixin.get_form).

    The fields the page edits are fingerprinted as shown and compared with the locked row on
    saving; the fields it does not edit are read again from the locked row, so the save writes
    their current values, not those read before the lock."""

    shown_version = _FingerprintField()
    # Set on the form of history's "Revert" page, which shows an older copy: its fingerprint is
    # of the row as stored when the page is built, not of the copy shown.
    fingerprint_stored_row = False
    # Set on a list page's row forms: every row of the page is posted, and only a row whose posted
    # values differ from the stored ones is saved, so only such a row is checked (and locked).
    checked_only_when_changed = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not self.is_bound and self.instance.pk is not None:
            source = self.instance
            if self.fingerprint_stored_row:
                source = type(source)._base_manager.filter(pk=source.pk).first() or source
            # The values as shown, taken now (a change committed while the page is drawn must not be
            # fingerprinted as what it showed); the fields, when it is drawn (an inline's formset
            # adds its own after this).
            shown = row_values(source)
            self.initial[FINGERPRINT_FIELD] = lambda: fingerprint(shown, edited_fields(self))

    def has_changed(self) -> bool:
        if not super().has_changed():
            return False
        # A list row the user left as the page showed it is not theirs to save, even when it has
        # changed since: its posted values are those shown (fingerprinted the same way).
        if self.checked_only_when_changed and hasattr(self, "cleaned_data"):
            names = edited_fields(self)
            posted = {name: _as_stored(self.cleaned_data.get(name)) for name in names}
            return fingerprint(posted, names) != self.cleaned_data.get(FINGERPRINT_FIELD)
        return True

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if self.instance.pk is None or self.instance._state.adding:
            return cleaned  # a new row (an inline's extra form): nothing shown could have changed
        if self.checked_only_when_changed and not self.has_changed():
            return cleaned  # a list row posted as it is stored, or as it was shown: not saved
        model = type(self.instance)
        locked = model._base_manager.select_for_update().filter(pk=self.instance.pk).first()
        if locked is None:
            raise forms.ValidationError(
                f"This {model._meta.verbose_name} was deleted after you opened it; nothing was saved.",
                code="deleted_since_shown",
            )
        edited = edited_fields(self)
        for name in edited:
            field = model._meta.get_field(name)
            if field.many_to_many:
                # The links too, to the commit: one removed meanwhile must not be written back.
                links = field.remote_field.through._base_manager.select_for_update()
                list(links.filter(**{field.m2m_field_name(): locked.pk}).values_list("pk"))
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


def _pair_refused_rows(response: Any) -> None:
    """A refused list page is drawn again by pairing the rows read now with the rows posted, place
    by place; a row whose change moved it (its position, the order's column) would show another
    row's values and error. Each posted row is drawn beside its own entry instead."""
    changelist = (getattr(response, "context_data", None) or {}).get("cl")
    formset = getattr(changelist, "formset", None)
    if formset is None or not formset.is_bound or formset.is_valid():
        return
    changelist.result_list = [form.instance for form in formset.forms]


def _without_fingerprint(model_admin: Any, request: HttpRequest, obj: Any, kwargs: dict[str, Any]) -> None:
    """The fields a form is built with, less the fingerprint (the model has no such field: the form
    is built without it, then given it)."""
    fields = kwargs["fields"] if "fields" in kwargs else flatten_fieldsets(model_admin.get_fieldsets(request, obj))
    kwargs["fields"] = None if fields is None else [name for name in fields if name != FINGERPRINT_FIELD]


def _with_fingerprint(fieldsets: Any, shown: bool) -> list:
    """`fieldsets` with the fingerprint in the first one when the page can save (the admin posts
    only the fieldsets' fields), and nowhere when it only shows the row."""
    cleaned = [
        (name, {**options, "fields": [f for f in options.get("fields", ()) if f != FINGERPRINT_FIELD]})
        for name, options in fieldsets
    ]
    if not shown or not cleaned:
        return cleaned
    (name, options), *rest = cleaned
    return [(name, {**options, "fields": [*options["fields"], FINGERPRINT_FIELD]}), *rest]


class ConcurrentEditAdminMixin:
    """For a ModelAdmin whose objects can be changed: its change page (and history's "Revert" page)
    is ChangedSinceShownForm's."""

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        if obj is not None:
            _without_fingerprint(self, request, obj, kwargs)
        form = super().get_form(request, obj, change=change, **kwargs)  # type: ignore[misc]
        if obj is None:
            return form
        attributes = {"fingerprint_stored_row": getattr(request, _HISTORY_PAGE, False)}
        return type(
            form.__name__,
            (ChangedSinceShownForm, form) if not issubclass(form, ChangedSinceShownForm) else (form,),
            attributes,
        )

    # The list page posts each row's fingerprint when it has editable columns.
    change_list_template: ClassVar[Any] = "admin/concurrent_change_list.html"

    def get_changelist_form(self, request: HttpRequest, **kwargs: Any) -> Any:
        form = super().get_changelist_form(request, **kwargs)  # type: ignore[misc]
        return type(form.__name__, (ChangedSinceShownForm, form), {"checked_only_when_changed": True})

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> Any:
        if request.method != "POST" or not self.list_editable or "_save" not in request.POST:  # type: ignore[attr-defined]
            return super().changelist_view(request, extra_context)  # type: ignore[misc]
        model = self.model  # type: ignore[attr-defined]
        # The admin validates the rows before its own transaction; the locks need one around both.
        with transaction.atomic(using=router.db_for_write(model)):
            # Every posted row locked at once, in id order: each row's check locks it again, in the
            # page's order, and two pages listing the same rows in other orders would deadlock.
            posted = [value for key, value in request.POST.items() if key.endswith("-id") and value.isdigit()]
            list(model._base_manager.select_for_update().filter(pk__in=posted).order_by("pk").values_list("pk"))
            response = super().changelist_view(request, extra_context)  # type: ignore[misc]
        _pair_refused_rows(response)
        return response

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        fieldsets = super().get_fieldsets(request, obj)  # type: ignore[misc]
        if obj is None:
            return fieldsets
        return _with_fingerprint(fieldsets, self.has_change_permission(request, obj))  # type: ignore[attr-defined]

    def history_form_view(self, request: HttpRequest, object_id: str, version_id: str, extra_context: Any = None):
        # django-simple-history's "Revert" page saves outside a transaction; the lock needs one.
        setattr(request, _HISTORY_PAGE, True)
        with transaction.atomic(using=router.db_for_write(self.model)):  # type: ignore[attr-defined]
            return super().history_form_view(request, object_id, version_id, extra_context)  # type: ignore[misc]


class ConcurrentEditInlineMixin:
    """For an inline whose rows can be changed: each row shown carries its fingerprint, and saving
    the page refuses a row changed since (an inline row is posted back as shown, like the page)."""

    def get_formset(self, request: HttpRequest, obj: Any = None, **kwargs: Any) -> Any:
        _without_fingerprint(self, request, obj, kwargs)
        formset = super().get_formset(request, obj, **kwargs)  # type: ignore[misc]
        if not issubclass(formset.form, ChangedSinceShownForm):
            formset.form = type(formset.form.__name__, (ChangedSinceShownForm, formset.form), {})
        if not issubclass(formset, _DeletionCheckedFormSet):
            formset = type(formset.__name__, (_DeletionCheckedFormSet, formset), {})
        return formset

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        fieldsets = super().get_fieldsets(request, obj)  # type: ignore[misc]
        return _with_fingerprint(fieldsets, self.has_change_permission(request, obj))  # type: ignore[attr-defined]


class _DeletionCheckedFormSet(forms.BaseModelFormSet):
    """A formset ignores the errors of a row ticked for deletion, and deletes it: a row changed since
    the page was drawn must not be deleted unseen either."""

    def clean(self) -> None:
        super().clean()
        for form in self.forms:
            if (
                self.can_delete
                and self._should_delete_form(form)
                and form.has_error(NON_FIELD_ERRORS, "changed_since_shown")
            ):
                raise forms.ValidationError(
                    f"Someone changed a {form._meta.model._meta.verbose_name} you ticked for deletion after you "
                    "opened the page; nothing was saved. Reload the page and decide again.",
                    code="changed_since_shown",
                )
