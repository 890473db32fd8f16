import pytest


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/api/v1/sites/-297/day-board/", "/api/v1/nothing-here/", "/api/v2/sites/"])
def test_an_unknown_api_path_answers_404_in_the_error_shape(client, personas, path):
    client.force_login(personas.front_desk.user)
    response = client.get(path)
    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["error"]["code"] == "not_found"
