"""A small FastAPI (ASGI) app for mse-home's end-to-end tests: it reads the secrets where the enclave puts them."""

import hashlib
import json
import os

from fastapi import FastAPI, HTTPException

app = FastAPI()


def _read(env_var: str) -> dict:
    path = os.getenv(env_var)
    if not path or not os.path.exists(path):
        raise HTTPException(status_code=503, detail=f"{env_var} is not configured")
    with open(path, encoding="utf-8") as f:
        return json.load(f)


@app.get("/health")
async def health() -> dict:
    return {"status": "ok"}


@app.get("/")
async def hello() -> dict:
    return {"message": "Hello from FastAPI", "module_path": os.getenv("MODULE_PATH")}


@app.get("/files")
async def files() -> list:
    """The files of the app directory: the code as packaged (.mseignore applied)."""
    root = os.getenv("MODULE_PATH", ".")
    return sorted(
        os.path.relpath(os.path.join(d, f), root)
        for d, _, names in os.walk(root)
        for f in names
        if "__pycache__" not in d
    )


@app.get("/secrets/digest")
async def secrets_digest() -> dict:
    """SHA-256 of the canonical JSON of each secrets file, so the tests can check what the app sees."""
    out = {}
    for name, var in (("secrets", "SECRETS_PATH"), ("sealed_secrets", "SEALED_SECRETS_PATH")):
        data = _read(var)
        out[name] = hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()
    return out
