"""Tests of the FastAPI fixture; `mse home test` runs them against the live enclave."""

import requests
from cryptography.fernet import Fernet
from cryptography.hazmat.primitives.ciphers.aead import AESGCM


def test_hello(url, verify):
    response = requests.get(f"{url}/", verify=verify, timeout=30)
    assert response.status_code == 200
    assert response.json() == {"hello": "FastAPI in an enclave"}


def test_health(url, verify):
    response = requests.get(f"{url}/health", verify=verify, timeout=30)
    assert response.status_code == 200


def test_result_secrets(url, verify, secrets):
    response = requests.get(f"{url}/result/secrets", verify=verify, timeout=30)
    assert response.status_code == 200
    data = response.content
    plain = AESGCM(bytes.fromhex(secrets["aes_key"])).decrypt(data[:12], data[12:], None)
    assert plain == b"FastAPI result under the AES key from SECRETS"


def test_result_sealed_secrets(url, verify, sealed_secrets):
    response = requests.get(f"{url}/result/sealed_secrets", verify=verify, timeout=30)
    assert response.status_code == 200
    plain = Fernet(sealed_secrets["result_sk"].encode()).decrypt(response.content)
    assert plain == b"FastAPI result under result_sk from SEALED_SECRETS"
