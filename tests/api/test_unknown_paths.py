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


@pytest.mark.django_db
def test_csrf_failure_under_api_answers_403_in_the_error_shape(personas):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(personas.front_desk.user)
    # The schema view is GET-only; a form POST without a token fails the CSRF check in the middleware.
    response = client.post("/api/docs/", {"x": "1"})
    assert response.status_code in (403, 405)
    assert_error_shape(response, response.status_code)


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
