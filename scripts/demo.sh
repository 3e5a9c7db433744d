#!/usr/bin/env bash
# The main job: the code provider's side of the MSE Home tutorial, with the real CLI, end to end.
# (The operator's side, spawn → evidence → run → test, is added with the enclave and sim platform.)
set -euo pipefail
cd "$(dirname "$0")/.."
MSE="node $(pwd)/bin/mse.js"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/mse-demo.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"
step() { printf '\n== %s\n' "$*" >&2; }

step "scaffold: a new app project"
$MSE home scaffold demo_app

step "keygen: an X25519 key pair standing in for the enclave's key"
$MSE home keygen --x25519 --output enclave.key

step "seal: secrets_to_seal.json for that key"
$MSE home seal --secrets demo_app/secrets_to_seal.json --receiver-public-key enclave.key.pub --output .

step "unseal: what the enclave does with it"
$MSE home unseal --input secrets_to_seal.json.sealed --private-key enclave.key --output unsealed.json
cmp unsealed.json demo_app/secrets_to_seal.json

step "encrypt + decrypt: a result under result_sk (Fernet)"
/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["result_sk"], end="")' demo_app/secrets_to_seal.json > result_sk.key
printf 'the result of a confidential computation' > result.txt
$MSE home encrypt --input result.txt --key result_sk.key --output result.fernet
$MSE home decrypt --key result_sk.key --output - result.fernet
echo >&2
step "done"
