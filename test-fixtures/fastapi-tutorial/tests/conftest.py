"""Fixtures for testing the app locally (`mse home localtest`) or in its enclave (`mse home test`).

Environment:
- TEST_REMOTE_URL: the app's base URL (default http://localhost:5000).
- TEST_CA_BUNDLE: for https URLs, the certificate file to trust: the enclave's verified `ratls.pem`.
  TLS verification is never disabled; an https URL without it is an error.
- TEST_SECRET_JSON / TEST_SEALED_SECRET_JSON: the secrets files given to the app; the tests that
  need them are skipped when they are not set.
"""

import json
import os

import pytest


@pytest.fixture(scope="session")
def url() -> str:
    return os.getenv("TEST_REMOTE_URL", "http://localhost:5000").rstrip("/")


@pytest.fixture(scope="session")
def verify(url: str):
    """What `requests` should verify the server against."""
    if not url.startswith("https://"):
        return True
    ca = os.getenv("TEST_CA_BUNDLE")
    if not ca:
        pytest.fail("TEST_CA_BUNDLE must name the enclave's certificate (ratls.pem) for an https URL")
    return ca


def _json_from_env(name: str):
    path = os.getenv(name)
    if not path:
        pytest.skip(f"{name} is not set")
    with open(path, encoding="utf-8") as f:
        return json.load(f)


@pytest.fixture(scope="session")
def secrets() -> dict:
    return _json_from_env("TEST_SECRET_JSON")


@pytest.fixture(scope="session")
def sealed_secrets() -> dict:
    return _json_from_env("TEST_SEALED_SECRET_JSON")
