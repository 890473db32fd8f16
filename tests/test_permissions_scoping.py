"""`clinic.permissions.scope_serializer` fails closed: a writable relation to a model with no
site rule is a configuration error, never a field left open to every site, inside a nested
serializer (one or many=True) as at the top, where a relation is narrowed like any other; and
the scoped querysets it keeps between requests are handed out as fresh clones, so evaluating one
never leaves rows behind for the next request."""

from __future__ import annotations

import json

import pytest
from django.apps import apps
from django.contrib.auth.models import Group
from django.core.exceptions import ImproperlyConfigured
from django.http import QueryDict
from rest_framework import serializers

from clinic.models import Chair, Role
from clinic.permissions import (
    _SCOPED_QUERYSETS,
    PATIENT_PATHS,
    SITE_PATHS,
    SPECIAL_RULES,
    UNSCOPED,
    Actor,
    has_site_rule,
    scope_serializer,
    scope_to_staff,
)
from scheduling.api.appointments import BookSerializer
from tests.factories import ChairFactory, SiteFactory, StaffFactory

pytestmark = pytest.mark.django_db


class GroupPickSerializer(serializers.Serializer):
    """Relations to a model no site rule covers (auth.Group), one and many."""

    group = serializers.PrimaryKeyRelatedField(queryset=Group.objects.all(), required=False)
    groups = serializers.PrimaryKeyRelatedField(queryset=Group.objects.all(), many=True, required=False)
    shown = serializers.PrimaryKeyRelatedField(read_only=True)


@pytest.mark.parametrize("clinic_wide", [False, True])
@pytest.mark.parametrize("field", ["group", "groups"])
def test_a_writable_relation_to_a_model_without_a_site_rule_is_refused(clinic_wide, field):
    # Clinic-wide staff see every site's rows anyway, yet they are refused too: whoever sends
    # the field first (a test, an administrator) finds the missing rule.
    staff = StaffFactory(role=Role.CLINIC_ADMIN, all_sites=clinic_wide, sites=[] if clinic_wide else [SiteFactory()])
    group = Group.objects.create(name="Another site's")
    serializer = GroupPickSerializer(data={field: [group.pk] if field == "groups" else group.pk})
    with pytest.raises(ImproperlyConfigured, match=rf"GroupPickSerializer\.{field} .*auth\.Group"):
        scope_serializer(serializer, Actor(role=staff.role, staff=staff))


def test_a_relation_without_a_rule_that_is_not_sent_or_read_only_is_not_looked_up():
    staff = StaffFactory(role=Role.FRONT_DESK, sites=[SiteFactory()])
    serializer = GroupPickSerializer(data={"shown": 1})
    assert scope_serializer(serializer, Actor(role=staff.role, staff=staff)) is serializer


class ChairPickSerializer(serializers.Serializer):
    chair = serializers.PrimaryKeyRelatedField(queryset=Chair.objects.all())


class ChairRowsSerializer(serializers.Serializer):
    rows = ChairPickSerializer(many=True)


class NestedPickSerializer(serializers.Serializer):
    """Relations a body names inside nested serializers, one and many=True, two deep too."""

    pick = GroupPickSerializer(required=False)
    picks = GroupPickSerializer(many=True, required=False)
    seat = ChairPickSerializer(required=False)
    seats = ChairPickSerializer(many=True, required=False)
    deeper = ChairRowsSerializer(required=False)


@pytest.mark.parametrize(
    ("body", "where"),
    [
        ({"pick": {"group": "GROUP"}}, "pick.group"),
        ({"picks": [{"shown": 1}, {"groups": ["GROUP"]}]}, "picks.groups"),
    ],
    ids=["nested", "nested many"],
)
def test_a_writable_relation_without_a_site_rule_in_a_nested_serializer_is_refused(body, where):
    staff = StaffFactory(role=Role.CLINIC_ADMIN, sites=[SiteFactory()])
    group = Group.objects.create(name="Another site's")
    sent = json.loads(json.dumps(body).replace('"GROUP"', str(group.pk)))
    with pytest.raises(ImproperlyConfigured, match=rf"NestedPickSerializer\.{where} .*auth\.Group"):
        scope_serializer(NestedPickSerializer(data=sent), Actor(role=staff.role, staff=staff))


@pytest.mark.parametrize("field", ["seat", "seats", "deeper"])
def test_another_sites_chair_named_in_a_nested_serializer_is_refused_as_missing(field):
    site, elsewhere = SiteFactory(), SiteFactory()
    ours, theirs = ChairFactory(site=site), ChairFactory(site=elsewhere)
    staff = StaffFactory(role=Role.FRONT_DESK, sites=[site])
    actor = Actor(role=staff.role, staff=staff)

    def body(chair):
        if field == "seat":
            return {"seat": {"chair": chair.pk}}
        rows = [{"chair": ours.pk}, {"chair": chair.pk}]
        return {"seats": rows} if field == "seats" else {"deeper": {"rows": rows}}

    assert scope_serializer(NestedPickSerializer(data=body(ours)), actor).is_valid(), "a chair at their site"
    refused = scope_serializer(NestedPickSerializer(data=body(theirs)), actor)
    assert not refused.is_valid()
    assert "does not exist" in json.dumps(refused.errors)


def test_a_nested_chair_sent_as_a_form_is_narrowed_too():
    site, elsewhere = SiteFactory(), SiteFactory()
    theirs = ChairFactory(site=elsewhere)
    staff = StaffFactory(role=Role.FRONT_DESK, sites=[site])
    form = QueryDict(mutable=True)
    form["seat.chair"] = str(theirs.pk)  # DRF's names for a nested serializer's fields in a form
    refused = scope_serializer(NestedPickSerializer(data=form), Actor(role=staff.role, staff=staff))
    assert not refused.is_valid()
    assert "does not exist" in str(refused.errors["seat"]["chair"])


def test_a_nested_relation_without_a_rule_that_is_not_sent_is_not_looked_up():
    site = SiteFactory()
    staff = StaffFactory(role=Role.FRONT_DESK, sites=[site])
    serializer = NestedPickSerializer(data={"seat": {"chair": ChairFactory(site=site).pk}, "picks": [{"shown": 1}]})
    assert scope_serializer(serializer, Actor(role=staff.role, staff=staff)) is serializer


def test_has_site_rule_knows_exactly_the_models_scope_to_staff_narrows():
    staff = StaffFactory(role=Role.FRONT_DESK, sites=[SiteFactory()])
    for label in SITE_PATHS.keys() | PATIENT_PATHS.keys() | SPECIAL_RULES | UNSCOPED:
        model = apps.get_model(label)
        assert has_site_rule(model)
        scope_to_staff(model._default_manager.all(), staff)  # no LookupError
    assert not has_site_rule(Group)
    with pytest.raises(LookupError):
        scope_to_staff(Group.objects.all(), staff)


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
