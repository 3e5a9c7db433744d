"""FastAPI test app: reports what the enclave gave it."""
import json
import os

from fastapi import FastAPI
from fastapi.responses import PlainTextResponse

app = FastAPI()


def read_json(var):
    path = os.environ.get(var)
    if not path or not os.path.exists(path):
        return None
    with open(path, encoding="utf-8") as f:
        return json.load(f)


@app.get("/health", response_class=PlainTextResponse)
async def health():
    return "OK"


@app.get("/secrets")
async def secrets():
    return {
        "secrets": read_json("SECRETS_PATH"),
        "sealed_secrets": read_json("SEALED_SECRETS_PATH"),
        "env": {k: os.environ.get(k) for k in ("MODULE_PATH", "KEY_PATH", "HOME")},
        "kind": "asgi",
    }
