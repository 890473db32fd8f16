import pytest

from clinic.models import AccessLog


@pytest.mark.django_db
def test_every_request_by_a_signed_in_user_is_logged(client, personas):
    client.force_login(personas.front_desk.user)
    client.get("/?day=2026-03-02")
    entry = AccessLog.objects.get()
    assert (entry.user, entry.method, entry.path) == (personas.front_desk.user, "GET", "/?day=2026-03-02")
    assert entry.status_code in (200, 302)


@pytest.mark.django_db
def test_anonymous_requests_and_health_checks_are_not_logged(client, personas):
    client.get("/")
    client.force_login(personas.nurse.user)
    client.get("/health/")
    assert not AccessLog.objects.exists()
