"""System checks: the embedded default refuses an SQLite too old for the booking path; every
writable relation of the API's serializers (nested serializers' too), and every list filter
naming rows, has a site rule (clinic.permissions)."""

from __future__ import annotations

import io
import sqlite3
from types import SimpleNamespace

import pytest
from django.contrib.auth.models import Group, User
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.urls import get_resolver
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework import generics, serializers

from clinic import checks, permissions
from clinic.api import StaffSerializer
from clinic.models import Chair
from clinical.api import LogFilterSerializer, RecoveryInputSerializer
from scheduling.api.appointments import BookSerializer, MoveSerializer

CONNECTIONS = {"embedded": SimpleNamespace(vendor="sqlite"), "default": SimpleNamespace(vendor="postgresql")}


def test_an_old_sqlite_is_refused_with_what_to_do(monkeypatch):
    monkeypatch.setattr(checks, "connections", CONNECTIONS)
    monkeypatch.setattr(sqlite3, "sqlite_version_info", (3, 31, 1))
    monkeypatch.setattr(sqlite3, "sqlite_version", "3.31.1")
    errors = checks.sqlite_new_enough(databases=["default", "embedded"])
    assert [error.id for error in errors] == ["clinic.E001"]
    assert "3.31.1" in errors[0].msg and "3.35" in errors[0].msg


def test_this_sqlite_and_postgresql_pass(monkeypatch):
    monkeypatch.setattr(checks, "connections", CONNECTIONS)
    assert sqlite3.sqlite_version_info >= checks.SQLITE_MINIMUM
    assert checks.sqlite_new_enough(databases=["default", "embedded"]) == []


# --- Every writable relation of the API has a site rule ----------------------------------------


def test_the_check_command_refuses_an_api_relation_whose_model_lost_its_site_rule(monkeypatch):
    # RecoveryInputSerializer.side_effects (an action's input, not a viewset's serializer_class)
    # names clinical.SideEffect, which every site shares; without that rule the API must not start.
    monkeypatch.setattr(permissions, "UNSCOPED", permissions.UNSCOPED - {"clinical.SideEffect"})
    with pytest.raises(SystemCheckError, match=r"RecoveryInputSerializer\.side_effects .*clinical\.SideEffect"):
        call_command("check", stdout=io.StringIO(), stderr=io.StringIO())


class GroupPickSerializer(serializers.Serializer):
    """Relations to a model no site rule covers (auth.Group), and two the check lets pass."""

    group = serializers.PrimaryKeyRelatedField(queryset=Group.objects.all())
    groups = serializers.PrimaryKeyRelatedField(queryset=Group.objects.all(), many=True)
    shown_group = serializers.PrimaryKeyRelatedField(read_only=True)  # never looked up
    chair = serializers.PrimaryKeyRelatedField(queryset=Chair.objects.all())  # clinic.Chair: its site


class UserGroupsSerializer(serializers.ModelSerializer):
    """A ModelSerializer's relation holds the model's manager: auth.User.groups, many."""

    class Meta:
        model = User
        fields = ["username", "groups"]


class NeedsAnArgumentSerializer(serializers.Serializer):
    def __init__(self, site, *args, **kwargs):
        super().__init__(*args, **kwargs)


def test_each_writable_relation_to_a_model_without_a_site_rule_is_an_error():
    errors = checks.relations_without_site_rule([GroupPickSerializer, UserGroupsSerializer])
    assert [error.id for error in errors] == ["clinic.E002"] * 3
    assert [error.msg.split(" relates to ")[0] for error in errors] == [
        "tests.test_checks.GroupPickSerializer.group",
        "tests.test_checks.GroupPickSerializer.groups",
        "tests.test_checks.UserGroupsSerializer.groups",
    ]
    assert all("auth.Group, which has no site rule" in error.msg for error in errors)
    assert all("SITE_PATHS, PATIENT_PATHS, or UNSCOPED" in error.hint for error in errors)
    assert errors[0].obj is GroupPickSerializer


class ChairPickSerializer(serializers.Serializer):
    chair = serializers.PrimaryKeyRelatedField(queryset=Chair.objects.all())  # clinic.Chair: its site


class PicksSerializer(serializers.Serializer):
    picks = GroupPickSerializer(many=True)


class NestedGroupsSerializer(serializers.Serializer):
    """Relations without a site rule inside nested serializers, one, many=True and two deep; the
    read-only nested one is never read from a body."""

    pick = GroupPickSerializer()
    picks = GroupPickSerializer(many=True)
    deeper = PicksSerializer()
    seat = ChairPickSerializer(many=True)
    shown = GroupPickSerializer(read_only=True)


def test_a_relation_without_a_site_rule_in_a_nested_serializer_is_an_error_naming_its_path():
    errors = checks.relations_without_site_rule([NestedGroupsSerializer])
    assert [error.id for error in errors] == ["clinic.E002"] * 6
    assert [error.msg.split(" relates to ")[0] for error in errors] == [
        f"tests.test_checks.NestedGroupsSerializer.{path}"
        for path in [
            "pick.group",
            "pick.groups",
            "picks.group",
            "picks.groups",
            "deeper.picks.group",
            "deeper.picks.groups",
        ]
    ]
    assert all("auth.Group, which has no site rule" in error.msg for error in errors)
    assert all(error.obj is NestedGroupsSerializer for error in errors)


class ListFieldsSerializer(serializers.Serializer):
    """A ListField of relations and a ListField of serializers hold relations a body names too."""

    groups = serializers.ListField(child=serializers.PrimaryKeyRelatedField(queryset=Group.objects.all()))
    picks = serializers.ListField(child=GroupPickSerializer())


def test_a_relation_without_a_site_rule_held_in_a_list_field_is_an_error():
    errors = checks.relations_without_site_rule([ListFieldsSerializer])
    assert [error.msg.split(" relates to ")[0] for error in errors] == [
        f"tests.test_checks.ListFieldsSerializer.{path}" for path in ["groups", "picks.group", "picks.groups"]
    ]


def test_a_serializer_the_check_cannot_build_is_an_error_not_a_pass():
    errors = checks.relations_without_site_rule([NeedsAnArgumentSerializer])
    assert [error.id for error in errors] == ["clinic.E003"]
    assert "NeedsAnArgumentSerializer" in errors[0].msg


def test_the_apis_serializers_all_have_site_rules_and_the_check_reads_no_database():
    # No `db` mark: a query would fail the test.
    found = checks.api_serializers(get_resolver().url_patterns)
    # Viewsets' serializer_class (StaffSerializer: a many-relation), actions' inputs (Book, Move,
    # Recovery) and a filter a view scopes by hand (LogFilterSerializer).
    assert {StaffSerializer, BookSerializer, MoveSerializer, RecoveryInputSerializer, LogFilterSerializer} <= set(found)
    assert checks.relations_without_site_rule(found) == []
    assert checks.api_relations_have_site_rules() == []


# --- Every list filter that names rows has a site rule ------------------------------------------


class GroupListView(generics.ListAPIView):
    """A filter naming rows of a model no site rule covers (auth.Group), made from filterset_fields."""

    queryset = User.objects.all()
    filterset_fields = ["groups", "username"]


class UnscopedBackendView(generics.ListAPIView):
    """Filters with django-filter's own backend, which narrows nothing."""

    queryset = Chair.objects.all()
    filter_backends = [DjangoFilterBackend]
    filterset_fields = ["site"]


class FiltersFromTheRequestView(generics.ListAPIView):
    """filterset_fields with no class-level queryset: its filters cannot be built to look."""

    filterset_fields = ["site"]

    def get_queryset(self):
        return Chair.objects.all()


def test_a_filter_naming_rows_without_a_site_rule_or_through_an_unscoped_backend_is_an_error():
    errors = checks.filters_without_site_rule([GroupListView, UnscopedBackendView, FiltersFromTheRequestView])
    assert [error.id for error in errors] == ["clinic.E005", "clinic.E004", "clinic.E006"]
    assert "GroupListView filter 'groups' names auth.Group rows" in errors[0].msg
    assert "UnscopedBackendView filters with DjangoFilterBackend" in errors[1].msg
    assert errors[2].obj is FiltersFromTheRequestView


def test_the_apis_filters_all_have_site_rules_and_the_check_reads_no_database():
    # No `db` mark: a query would fail the test.
    assert checks.api_filters_have_site_rules() == []


def test_the_sms_warning_is_left_out_when_every_site_sends_no_texts(db, settings):
    """clinic.W011 warns that text reminders go to the log; a clinic whose every reminder policy has
    text messages off sends none, so `check --deploy --database default` (which may read the
    policies) does not tell it to set up an SMS provider. Without the database it cannot know."""
    from clinic.checks import messages_reach_patients
    from clinic.models import ReminderPolicy
    from tests.factories import SiteFactory

    settings.SMS_BACKEND = "scheduling.reminders.sms.ConsoleSmsBackend"
    SiteFactory(), SiteFactory()
    assert ReminderPolicy.objects.count() == 2

    def ids(**kwargs):
        return [warning.id for warning in messages_reach_patients(**kwargs)]

    assert "clinic.W011" in ids(databases=["default"]), "texts on: the warning stands"
    ReminderPolicy.objects.update(sms_enabled=False)
    assert "clinic.W011" not in ids(databases=["default"])
    assert "clinic.W011" in ids(), "without the database it cannot know"
    ReminderPolicy.objects.filter(pk=ReminderPolicy.objects.first().pk).update(sms_enabled=True)
    assert "clinic.W011" in ids(databases=["default"])
