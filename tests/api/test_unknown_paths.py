import json

import pytest


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/api/v1/sites/-297/day-board/", "/api/v1/nothing-here/", "/api/v2/sites/"])
def test_an_unknown_api_path_answers_404_in_the_error_shape(client, personas, path):
    client.force_login(personas.front_desk.user)
    response = client.get(path)
    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["error"]["code"] == "not_found"


def assert_error_shape(response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    error = response.json()["error"]
    assert set(error) == {"code", "message", "fields", "details"}
    if code is not None:
        assert error["code"] == code
    return error


@pytest.mark.django_db
@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_unsafe_method_on_an_unknown_api_path_answers_404_json_not_a_csrf_page(personas, method):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(personas.front_desk.user)
    response = getattr(client, method)("/api/v1/nothing-here/", data="{}", content_type="application/json")
    assert_error_shape(response, 404, "not_found")


def test_csrf_failure_view_answers_the_error_shape_under_api_and_the_page_elsewhere(rf, settings):
    from django.urls import get_callable

    # Every DRF view and the unknown-path view are CSRF-exempt; the failure view still shapes
    # any CSRF refusal under /api/ (a future non-DRF view) as JSON.
    csrf_failure = get_callable(settings.CSRF_FAILURE_VIEW)
    api = csrf_failure(rf.post("/api/v1/anything/"), reason="CSRF cookie not set.")
    assert api.status_code == 403 and api["Content-Type"].startswith("application/json")
    assert json.loads(api.content)["error"]["code"] == "csrf_failed"
    page = csrf_failure(rf.post("/login/"), reason="CSRF cookie not set.")
    assert page.status_code == 403 and page["Content-Type"].startswith("text/html")


@pytest.mark.django_db
@pytest.mark.parametrize("content_type", ["application/json", "application/x-www-form-urlencoded"])
def test_a_body_over_the_upload_limit_answers_413_in_the_error_shape(personas, settings, content_type):
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(personas.front_desk.user)
    body = "x" * (5 * 1024 * 1024)
    response = client.generic("POST", "/api/v1/appointments/", body, content_type=content_type)
    assert_error_shape(response, 413, "request_too_large")


@pytest.mark.django_db
def test_a_non_integer_path_id_answers_404_in_the_error_shape(personas):
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(personas.nurse.user)
    for path in (
        "/api/v1/clinical/controlled-substance-log/null,null/correct/",
        "/api/v1/appointments/17.5/",
        "/api/v1/appointments/abc/",
        "/api/v1/plans/99999999999999999999999/",
        "/api/v1/sites/99999999999999999999999/free-slots/",
        "/api/v1/patients/99999999999999999999999/outcomes/",
    ):
        response = client.post(path, {}, format="json") if path.endswith("correct/") else client.get(path)
        assert_error_shape(response, 404, "not_found")


@pytest.mark.django_db
def test_wrong_method_on_a_known_api_path_answers_405_in_the_error_shape(personas):
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(personas.front_desk.user)
    response = client.put("/api/v1/appointments/", {}, format="json")
    assert_error_shape(response, 405, "method_not_allowed")


@pytest.mark.django_db
def test_an_unexpected_error_under_api_answers_500_in_the_error_shape(personas, site):
    from unittest import mock

    from rest_framework.test import APIClient

    client = APIClient(raise_request_exception=False)
    client.force_authenticate(personas.front_desk.user)
    with mock.patch("scheduling.api.board.day_board", side_effect=RuntimeError("a bug")):
        response = client.get(f"/api/v1/sites/{site.pk}/day-board/")
    error = assert_error_shape(response, 500, "server_error")
    assert "a bug" not in error["message"]
