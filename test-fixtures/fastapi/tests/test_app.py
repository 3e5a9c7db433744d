import hashlib
import json
import urllib.request


def get(url):
    with urllib.request.urlopen(url, timeout=10) as r:
        return r.status, json.loads(r.read())


def test_health(url):
    assert get(f"{url}/health") == (200, {"status": "ok"})


def test_hello(url):
    status, body = get(f"{url}/")
    assert status == 200
    assert body == {"message": "Hello from FastAPI", "module_path": "/mse-app"}


def test_code_as_packaged(url):
    status, body = get(f"{url}/files")
    assert status == 200
    assert body == ["app.py"]  # notes.md and .mseignore are not packaged


def test_secrets_seen_by_the_app(url, secrets, sealed_secrets):
    status, body = get(f"{url}/secrets/digest")
    assert status == 200
    digest = lambda d: hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()
    assert body == {"secrets": digest(secrets), "sealed_secrets": digest(sealed_secrets)}
