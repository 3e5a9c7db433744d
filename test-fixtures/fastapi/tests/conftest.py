import json
import os

import pytest


@pytest.fixture(scope="session")
def url() -> str:
    return os.getenv("TEST_REMOTE_URL", "http://localhost:5000").rstrip("/")


def _load(var: str):
    path = os.getenv(var)
    if not path:
        pytest.skip(f"{var} is not set")
    assert os.path.isabs(path), f"{var} must be an absolute path, got {path}"
    with open(path, encoding="utf-8") as f:
        return json.load(f)


@pytest.fixture(scope="session")
def secrets():
    return _load("TEST_SECRET_JSON")


@pytest.fixture(scope="session")
def sealed_secrets():
    return _load("TEST_SEALED_SECRET_JSON")
