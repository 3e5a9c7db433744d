"""fastapi_app: an ASGI app for mse-home's end-to-end tests (see ../README.md).

The enclave writes the secrets where the app reads them: SECRETS_PATH (plaintext, from the operator)
and SEALED_SECRETS_PATH (sealed by the code provider, opened inside the enclave).
"""

import json
import os
import time

from cryptography.fernet import Fernet
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from fastapi import FastAPI, HTTPException
from fastapi.responses import PlainTextResponse, Response

SECRETS_MESSAGE = b"FastAPI result under the AES key from SECRETS"
SEALED_SECRETS_MESSAGE = b"FastAPI result under result_sk from SEALED_SECRETS"


def read_json(env_var: str):
    """The JSON file named by `env_var`, or None when the enclave wrote none."""
    path = os.getenv(env_var)
    if not path or not os.path.exists(path):
        return None
    with open(path, encoding="utf-8") as f:
        return json.load(f)


# Fault switches of the end-to-end tests, from the plaintext secrets, applied at import time.
FAULT = (read_json("SECRETS_PATH") or {}).get("fault") or {}
if FAULT.get("import_delay_s"):
    time.sleep(float(FAULT["import_delay_s"]))
if FAULT.get("crash_on_import"):
    raise RuntimeError("fastapi_app: crash_on_import is set in the secrets")
HEALTH_STATUS = int(FAULT.get("health_status", 200))

app = FastAPI()


@app.get("/health", response_class=PlainTextResponse)
async def health():
    return PlainTextResponse("OK" if HEALTH_STATUS == 200 else "unhealthy", status_code=HEALTH_STATUS)


@app.get("/")
async def hello():
    return {"hello": "FastAPI in an enclave"}


@app.get("/result/secrets")
async def result_secrets():
    """nonce (12) | AES-GCM ciphertext | tag (16) of SECRETS_MESSAGE under `aes_key` (hex) from the secrets."""
    secrets = read_json("SECRETS_PATH")
    if secrets is None:
        raise HTTPException(status_code=503, detail="SECRETS_PATH is not configured")
    key = bytes.fromhex(secrets["aes_key"])
    nonce = os.urandom(12)
    return Response(nonce + AESGCM(key).encrypt(nonce, SECRETS_MESSAGE, None), media_type="application/octet-stream")


@app.get("/result/sealed_secrets")
async def result_sealed_secrets():
    """A Fernet token of SEALED_SECRETS_MESSAGE under `result_sk` from the sealed secrets."""
    sealed = read_json("SEALED_SECRETS_PATH")
    if sealed is None:
        raise HTTPException(status_code=503, detail="SEALED_SECRETS_PATH is not configured")
    token = Fernet(sealed["result_sk"].encode()).encrypt(SEALED_SECRETS_MESSAGE)
    return Response(token, media_type="text/plain")
