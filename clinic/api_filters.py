"""The API's filter backend: django-filter's, with every filter that names rows by id narrowed
to what the asker may see.

A module of its own, loaded by DRF's settings (DEFAULT_FILTER_BACKENDS) while
rest_framework.generics is still being defined: it must not import DRF's views or viewsets."""

from __future__ import annotations

from typing import Any, ClassVar

import django_filters
from django.template import loader
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework.exceptions import ValidationError
from rest_framework.filters import OrderingFilter

from clinic.permissions import actor_for, scope_filterset


class ScopedFilterBackend(DjangoFilterBackend):
    """django-filter's backend, with every filter that names rows by id narrowed to what the
    asker may see (scope_filterset): another site's patient is the same 400 as a missing one.
    The default filter backend of every view, so a new FilterSet is covered without a base class."""

    # The FilterSet a view's `filterset_fields` make is built once per view and model, not per
    # request: scope_filterset keeps its filters' scoped querysets by the class's own querysets.
    _generated: ClassVar[dict[tuple[type, type], type | None]] = {}

    def get_filterset_class(self, view: Any, queryset: Any = None) -> Any:
        if getattr(view, "filterset_class", None) or queryset is None:
            return super().get_filterset_class(view, queryset)
        key = (type(view), queryset.model)
        if key not in self._generated:
            self._generated[key] = super().get_filterset_class(view, queryset)
        return self._generated[key]

    def get_filterset(self, request: Any, queryset: Any, view: Any, *, whole: bool = False) -> Any:
        filterset = super().get_filterset(request, queryset, view)
        if filterset is not None and not whole:
            _refuse_what_cannot_be_honoured(request, filterset)
        return scope_filterset(filterset, actor_for(request), whole=whole)

    def to_html(self, request: Any, queryset: Any, view: Any) -> str | None:
        # The browsable API's filter form lists every choice of every filter, named or not.
        filterset = self.get_filterset(request, queryset, view, whole=True)
        if filterset is None:
            return None
        return loader.get_template(self.template).render({"filter": filterset}, request)


# Query parameters every list reads besides its filters (ordering, paging, the browsable API's format).
LIST_PARAMETERS = frozenset({"ordering", "limit", "offset", "format", "paging", "cursor"})
_BOOLEANS = frozenset({"true", "false", "1", "0"})


def _refuse_what_cannot_be_honoured(request: Any, filterset: Any) -> None:
    """A filter the list does not have, or a yes/no filter given something else, is a 400 naming
    it: ignored, it would answer every row (`?patient_id=` for `?patient=`, `?active=yes`)."""
    problems: dict[str, list[str]] = {}
    known = set(filterset.filters) | LIST_PARAMETERS
    for name in request.query_params:
        if name not in known:
            problems[name] = [f"This list has no such filter; filter by {', '.join(sorted(filterset.filters))}."]
    for name, found in filterset.filters.items():
        given = request.query_params.get(name)
        if (
            isinstance(found, django_filters.BooleanFilter)
            and given is not None
            and given.strip().lower() not in _BOOLEANS
        ):
            problems[name] = ["Give true or false."]
    if problems:
        raise ValidationError(problems)


class StrictOrderingFilter(OrderingFilter):
    """DRF's ordering, refusing an ordering it cannot honour (400 naming the fields it can) and
    ending every ordering on the primary key: rows with equal values (the same surname, the same
    start) come in one order on every page, so paging shows each row exactly once."""

    def get_ordering(self, request: Any, queryset: Any, view: Any) -> list[str] | None:
        asked = request.query_params.get(self.ordering_param)
        if asked:
            terms = [term.strip() for term in asked.split(",") if term.strip()]
            valid = self.remove_invalid_fields(queryset, terms, view, request)
            if len(valid) != len(terms):
                fields = sorted(name for name, _label in self.get_valid_fields(queryset, view, {"request": request}))
                raise ValidationError({self.ordering_param: [f"Order by {', '.join(fields)} (- for descending)."]})
            ordering: list[str] | None = valid
        else:
            default = self.get_default_ordering(view)
            ordering = list(default) if default else None
        if ordering and not any(term.lstrip("-") in ("pk", "id") for term in ordering):
            ordering = [*ordering, "pk"]
        return ordering
