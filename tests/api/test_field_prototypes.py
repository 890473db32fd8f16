"""Serializer fields built once per class (clinic.api_fields.FieldPrototypesMixin): each
serializer still gets fields of its own, bound to itself, so nothing one request sets or
reads (its context, a scoped queryset) reaches another."""

from __future__ import annotations

from scheduling.api.appointments import BookSerializer, CancelResultSerializer
from scheduling.api.common import AppointmentSerializer
from scheduling.models import Appointment
from tests.api.conftest import World

V1 = "/api/v1"


def test_each_serializer_binds_fields_of_its_own(db):
    first, second = AppointmentSerializer(), AppointmentSerializer()
    assert set(first.fields) == set(second.fields) == set(AppointmentSerializer.Meta.fields)
    for name in first.fields:
        assert first.fields[name] is not second.fields[name]
        assert first.fields[name].parent is first and second.fields[name].parent is second
    book_a, book_b = BookSerializer(), BookSerializer()
    book_a.fields["chair"].queryset = book_a.fields["chair"].queryset.none()
    assert book_b.fields["chair"].queryset.model.objects.count() == book_b.fields["chair"].queryset.count()


def test_a_serializer_with_a_nested_one_builds_its_fields_as_drf_does():
    first, second = CancelResultSerializer(), CancelResultSerializer()
    assert first.fields["course_outcome"] is not second.fields["course_outcome"]
    assert first.fields["course_outcome"].parent is first


def test_clinical_notes_follow_each_request_and_not_the_one_before(world: World):
    appointment = Appointment.objects.get(pk=world.appointment_a.pk)
    Appointment.objects.filter(pk=appointment.pk).update(notes="Felt dizzy at 30 minutes")
    url = f"{V1}/appointments/{appointment.pk}/"
    for role, expected in (
        ("nurse", "Felt dizzy at 30 minutes"),
        ("front_desk", None),
        ("prescriber", "Felt dizzy at 30 minutes"),
        ("front_desk", None),
    ):
        response = world.client(role).get(url)
        assert response.status_code == 200, (role, response.content)
        assert response.json()["notes"] == expected, role


def test_a_booking_answer_names_its_own_patient_chair_and_nurse(world: World):
    client = world.client("front_desk")
    answers = []
    for day, hour in ((5, 14), (6, 16)):  # never two infusions on one day
        body = {
            "patient": world.appointment_a.patient_id,
            "site": world.site.pk,
            "starts_at": f"2026-03-{day:02d}T{hour}:00:00Z",
        }
        response = client.post(f"{V1}/appointments/", body, format="json")
        assert response.status_code == 201, response.content
        answers.append(response.json())
    assert answers[0]["id"] != answers[1]["id"]
    for answer in answers:
        stored = Appointment.objects.select_related("chair", "patient").get(pk=answer["id"])
        assert answer["starts_at"] == stored.starts_at.isoformat().replace("+00:00", "Z")
        assert (answer["chair"], answer["chair_name"]) == (stored.chair_id, stored.chair.name)
        assert answer["patient_name"] == stored.patient.full_name


def test_fields_holding_a_child_field_are_never_shared(db):
    from rest_framework import serializers

    from clinic.api_fields import FieldPrototypesMixin
    from clinic.models import Site

    class WithChildren(FieldPrototypesMixin, serializers.Serializer):
        sites = serializers.PrimaryKeyRelatedField(queryset=Site.objects.all(), many=True)
        tags = serializers.ListField(child=serializers.CharField())
        flags = serializers.BooleanField(default=False)

    first, second = WithChildren(), WithChildren()
    assert first.fields["sites"].child_relation is not second.fields["sites"].child_relation
    assert first.fields["tags"].child is not second.fields["tags"].child
    assert WithChildren.__dict__["_field_prototypes"] is False  # DRF's own per-instance copies


def test_an_id_too_large_for_any_row_is_the_usual_does_not_exist(world: World):
    body = {"patient": 10**19, "site": world.site.pk, "starts_at": "2026-03-05T14:00:00Z"}
    response = world.client("front_desk").post(f"{V1}/appointments/", body, format="json")
    assert response.status_code == 400, response.content
    assert "does not exist" in response.json()["error"]["fields"]["patient"][0]
