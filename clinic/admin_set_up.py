"""The admin of what a booking is checked against (a site's ratio, hours, chairs, closures, staff
and shifts; protocols' nurse work): once a change is committed, `set_up_changed` names the sites
it touched, so the scheduling app can tell the administrator how many booked sessions no longer
fit (booking checks the set-up of the moment; nothing moves a booked session on its own)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db.models import Model, QuerySet
from django.dispatch import Signal
from django.forms import BaseFormSet, ModelForm
from django.http import HttpRequest

# Sent once per admin request that saved or deleted set-up, after its transaction; kwargs:
# `request`, `site_ids` (a set of site ids, or None for every site).
set_up_changed = Signal()

_TOUCHED = "_set_up_sites"
EVERY_SITE = None


def _touch(request: HttpRequest, site_ids: Iterable[Any] | None) -> None:
    if not hasattr(request, _TOUCHED):
        setattr(request, _TOUCHED, set())
    touched = getattr(request, _TOUCHED)
    if touched is EVERY_SITE:
        return
    if site_ids is EVERY_SITE:
        setattr(request, _TOUCHED, EVERY_SITE)
        return
    touched.update(int(getattr(site, "pk", site)) for site in site_ids if site is not None)


def _site_of(obj: Model, form: ModelForm | None, field: str) -> list[Any]:
    """The site `obj` belongs to now, and the one its form showed (a row moved to another site
    changes both)."""
    return [getattr(obj, f"{field}_id", None), (form.initial.get(field) if form is not None else None)]


class SetUpAdminMixin:
    """For a ModelAdmin whose objects are part of a site's set-up. `set_up_sites` says which sites
    an object (as saved, and as its form showed it) belongs to; by default its `site` field, where
    an empty site means every site (a clinic-wide closure)."""

    set_up_site_field = "site"

    def set_up_sites(self, obj: Model, form: ModelForm | None = None) -> Iterable[Any] | None:
        now, shown = _site_of(obj, form, self.set_up_site_field)
        if now is None or (form is not None and self.set_up_site_field in form.initial and shown is None):
            return EVERY_SITE
        return [now, shown]

    def inline_set_up_sites(self, obj: Model, inline_form: ModelForm) -> Iterable[Any] | None:
        """The sites a changed inline row touches: by default the parent's."""
        return self.set_up_sites(obj)

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)  # type: ignore[misc]
        _touch(request, self.set_up_sites(obj, form))

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        _touch(request, self.set_up_sites(obj))
        super().delete_model(request, obj)  # type: ignore[misc]

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        for obj in queryset:
            _touch(request, self.set_up_sites(obj))
        super().delete_queryset(request, queryset)  # type: ignore[misc]

    def save_formset(self, request: HttpRequest, form: Any, formset: BaseFormSet, change: bool) -> None:
        super().save_formset(request, form, formset, change)  # type: ignore[misc]
        for inline_form in formset.forms:
            if inline_form.has_changed():
                _touch(request, self.inline_set_up_sites(form.instance, inline_form))

    def _announce(self, request: HttpRequest) -> None:
        if not hasattr(request, _TOUCHED):
            return
        site_ids = getattr(request, _TOUCHED)
        delattr(request, _TOUCHED)
        set_up_changed.send(sender=self.model, request=request, site_ids=site_ids)  # type: ignore[attr-defined]

    # The admin's views save inside their own transaction: announced once they return.
    def changeform_view(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        response = super().changeform_view(request, *args, **kwargs)  # type: ignore[misc]
        self._announce(request)
        return response

    def delete_view(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        response = super().delete_view(request, *args, **kwargs)  # type: ignore[misc]
        self._announce(request)
        return response

    def changelist_view(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        response = super().changelist_view(request, *args, **kwargs)  # type: ignore[misc]
        self._announce(request)
        return response

    def history_form_view(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        response = super().history_form_view(request, *args, **kwargs)  # type: ignore[misc]
        self._announce(request)
        return response
