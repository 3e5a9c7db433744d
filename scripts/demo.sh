#!/usr/bin/env bash
# The main job: the MSE Home tutorial, end to end, with the real CLI, a real Docker engine and the
# simulated SGX platform (this machine has no SGX). Each step is named as in the tutorial.
#   code provider: scaffold → localtest → package            → verify → seal           → decrypt
#   SGX operator:                         spawn (→ evidence)          → run → test
# then list / status / logs / stop / restart, and clean-up.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
mse() { node "$ROOT/bin/mse.js" home "$@"; }
WORK="${MSE_DEMO_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/mse-demo.XXXXXX")}"
NAME="mse_demo_$$"
PORT="${MSE_DEMO_PORT:-$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')}"
cleanup() { mse stop --remove "$NAME" >/dev/null 2>&1 || true; [ -n "${MSE_DEMO_KEEP:-}" ] || rm -rf "$WORK"; }
trap cleanup EXIT
step() { if [ -t 2 ] && [ -z "${NO_COLOR:-}" ]; then printf '\n\033[1m== %s\033[0m\n' "$*" >&2; else printf '\n== %s\n' "$*" >&2; fi; }
cd "$WORK"

step "[provider] scaffold: a new Flask app with tests and fresh secrets"
mse scaffold demo_app

step "[provider] localtest: the app and its tests in Docker, no enclave"
mse localtest --project demo_app

step "[provider] package: code, tests, image and mse.toml in one tar"
mse package --project demo_app --output provider
PACKAGE=$(ls provider/package_demo_app_*.tar)

step "[operator] spawn: the package in a (simulated) SGX enclave; evidence.json collected"
mse spawn "$NAME" --package "$PACKAGE" --san localhost --size 2048 --port "$PORT" --output operator

step "[provider] verify: evidence.json offline, against the package (no Docker)"
mse verify --evidence operator/evidence.json --package "$PACKAGE" --output provider --allow-simulation

step "[provider] seal: secrets_to_seal.json for the verified enclave only"
mse seal --secrets demo_app/secrets_to_seal.json --cert provider/ratls.pem --output provider

step "[operator] run: send the secrets (plaintext + sealed) to the enclave"
mse run "$NAME" --secrets demo_app/secrets.json --sealed-secrets provider/secrets_to_seal.json.sealed

step "[operator] test: the app's tests against the live enclave, TLS pinned to its certificate"
mse test "$NAME" --test demo_app/tests --config demo_app/mse.toml --secrets demo_app/secrets.json

step "[operator] results: fetched over TLS pinned to ratls.pem"
curl -sSf --cacert operator/ratls.pem "https://localhost:$PORT/result/secrets" -o result.bin
curl -sSf --cacert operator/ratls.pem "https://localhost:$PORT/result/sealed_secrets" -o result.fernet

step "[provider] decrypt: the results"
AES_KEY=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["aes_key"])' demo_app/secrets.json)
/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["result_sk"], end="")' demo_app/secrets_to_seal.json > result_sk.key
printf '  /result/secrets        → %s\n' "$(mse decrypt --aes "$AES_KEY" --output - result.bin)"
printf '  /result/sealed_secrets → %s\n' "$(mse decrypt --key result_sk.key --output - result.fernet)"

step "[operator] list, status, logs"
mse list
mse status "$NAME"
mse logs "$NAME" | tail -n 5

step "[operator] stop, restart: the enclave keeps its keys, certificate and secrets"
mse stop "$NAME"
mse restart "$NAME"
curl -sSf --cacert operator/ratls.pem "https://localhost:$PORT/" && echo

step "[operator] stop --remove"
mse stop --remove "$NAME"
step "done: the tutorial ran end to end on the simulated platform"
