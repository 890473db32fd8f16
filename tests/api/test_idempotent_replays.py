"""An Idempotency-Key replay answers what the first answer did and books nothing twice, for that
user only (another user's same key is a fresh attempt); the replay shows the session's patient
again, so the access log names them for it as for the first answer."""

from __future__ import annotations

from clinic.models import AccessLog
from scheduling.models import Appointment, IdempotencyRecord

V1 = "/api/v1"


def _book_body(world) -> dict:
    return {"patient": world.appointment_a.patient_id, "site": world.site.pk, "starts_at": "2026-03-05T15:00:00Z"}


def test_a_replayed_booking_names_its_patient_in_the_access_log(world):
    client = world.client("front_desk")
    first = client.post(f"{V1}/appointments/", _book_body(world), format="json", HTTP_IDEMPOTENCY_KEY="log-1")
    again = client.post(f"{V1}/appointments/", _book_body(world), format="json", HTTP_IDEMPOTENCY_KEY="log-1")
    assert first.status_code == again.status_code == 201
    assert again["Idempotent-Replayed"] == "true"
    rows = list(AccessLog.objects.filter(path=f"{V1}/appointments/", method="POST").order_by("pk"))
    assert [row.patient_ids for row in rows] == [[world.appointment_a.patient_id]] * 2


def test_a_key_replays_for_its_user_only_and_another_body_is_refused(world):
    desk = world.client("front_desk")
    body = _book_body(world)
    first = desk.post(f"{V1}/appointments/", body, format="json", HTTP_IDEMPOTENCY_KEY="same")
    assert first.status_code == 201
    count = Appointment.objects.count()
    assert desk.post(f"{V1}/appointments/", body, format="json", HTTP_IDEMPOTENCY_KEY="same").json() == first.json()
    assert Appointment.objects.count() == count
    other = desk.post(
        f"{V1}/appointments/", {**body, "starts_at": "2026-03-05T17:00:00Z"}, format="json", HTTP_IDEMPOTENCY_KEY="same"
    )
    assert other.status_code == 422
    theirs = world.client("nurse").post(f"{V1}/appointments/", body, format="json", HTTP_IDEMPOTENCY_KEY="same")
    assert theirs.status_code == 409  # a fresh attempt (the patient is booked then), not the desk's answer
    assert "Idempotent-Replayed" not in theirs
    assert IdempotencyRecord.objects.count() == 1
