from tests.api.conftest import frozen, world  # noqa: F401  (the API's frozen clinic)
