"""{{name}}: a confidential microservice run by mse-home inside an SGX enclave.

The enclave writes the secrets it received where the app reads them:
- SECRETS_PATH: plaintext secrets sent by the SGX operator (`mse home run --secrets`);
- SEALED_SECRETS_PATH: secrets sealed by the code provider, readable only inside this enclave.
They are read when a request needs them, so the module imports without them.
"""

import json
import os

from cryptography.fernet import Fernet
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from flask import Flask, Response, abort

app = Flask(__name__)

SECRETS_MESSAGE = b"message encrypted with the AES key from SECRETS"
SEALED_SECRETS_MESSAGE = b"message encrypted with result_sk from SEALED_SECRETS"


def read_json(env_var: str) -> dict:
    """The JSON secrets file named by `env_var`, or 503 when the enclave has none."""
    path = os.getenv(env_var)
    if not path or not os.path.exists(path):
        abort(503, description=f"{env_var} is not configured")
    with open(path, encoding="utf-8") as f:
        return json.load(f)


@app.get("{{healthcheck}}")
def health():
    """Health check: 200 once the app serves requests."""
    return "OK"


@app.get("/")
def hello():
    """Example endpoint."""
    return "Hello world"


@app.get("/result/secrets")
def result_secrets():
    """A message encrypted with AES-GCM under `aes_key` (hex) from the secrets file.

    Body: nonce (12 bytes) | ciphertext | tag (16 bytes); decrypt with `mse home decrypt --aes HEX`.
    """
    key = bytes.fromhex(read_json("SECRETS_PATH")["aes_key"])
    nonce = os.urandom(12)
    data = nonce + AESGCM(key).encrypt(nonce, SECRETS_MESSAGE, None)
    return Response(data, mimetype="application/octet-stream")


@app.get("/result/sealed_secrets")
def result_sealed_secrets():
    """A Fernet token of a message under `result_sk` from the sealed secrets.

    Decrypt with `mse home decrypt --key FILE` where FILE holds `result_sk`.
    """
    key = read_json("SEALED_SECRETS_PATH")["result_sk"]
    return Response(Fernet(key.encode()).encrypt(SEALED_SECRETS_MESSAGE), mimetype="text/plain")
