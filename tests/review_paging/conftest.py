from tests.api.conftest import frozen, world, module_world  # noqa: F401
