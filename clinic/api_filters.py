"""The API's filter backend: django-filter's, with every filter that names rows by id narrowed
to what the asker may see.

A module of its own, loaded by DRF's settings (DEFAULT_FILTER_BACKENDS) while
rest_framework.generics is still being defined: it must not import DRF's views or viewsets."""

from __future__ import annotations

from typing import Any, ClassVar

from django.template import loader
from django_filters.rest_framework import DjangoFilterBackend

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
        return scope_filterset(filterset, actor_for(request), whole=whole)

    def to_html(self, request: Any, queryset: Any, view: Any) -> str | None:
        # The browsable API's filter form lists every choice of every filter, named or not.
        filterset = self.get_filterset(request, queryset, view, whole=True)
        if filterset is None:
            return None
        return loader.get_template(self.template).render({"filter": filterset}, request)
