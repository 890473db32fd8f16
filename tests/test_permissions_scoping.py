"""`clinic.permissions.scope_serializer`: the scoped querysets it keeps between requests are
handed out as fresh clones, so evaluating one never leaves rows behind for the next request."""

from __future__ import annotations

import pytest

from clinic.models import Role
from clinic.permissions import _SCOPED_QUERYSETS, Actor, scope_serializer
from scheduling.api.appointments import BookSerializer
from tests.factories import ChairFactory, SiteFactory, StaffFactory

pytestmark = pytest.mark.django_db


def test_a_cached_scoped_queryset_is_never_evaluated_in_place():
    site = SiteFactory()
    chair = ChairFactory(site=site)
    staff = StaffFactory(role=Role.FRONT_DESK, sites=[site])
    actor = Actor(role=staff.role, staff=staff)

    first = scope_serializer(BookSerializer(data={"chair": chair.pk}), actor).fields["chair"].queryset
    assert list(first) == [chair]  # evaluated in place (not through DRF's get_queryset())
    added = ChairFactory(site=site)
    second = scope_serializer(BookSerializer(data={"chair": added.pk}), actor).fields["chair"].queryset

    assert set(second) == {chair, added}  # not the first request's rows, kept
    assert all(cached._result_cache is None for cached in _SCOPED_QUERYSETS.values())
