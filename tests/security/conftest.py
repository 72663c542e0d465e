from tests.api.conftest import api  # noqa: F401 (the API over a seeded store, one token per role)
