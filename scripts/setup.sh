#!/usr/bin/env bash
# Prepares a fresh Debian 12 machine (root, Node 20 present) for mse-home: Debian packages, the npm
# dependencies and build, and a running Docker engine. Idempotent: installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

# Debian's Python stack (the scaffolded app and its tests run with /usr/bin/python3), TLS tools, Docker,
# wrk (the load generator of bench/enclave.js), tomli/tomli_w (the peers of the Gramine manifest writer's
# differential test; Gramine's signer uses tomli_w 1.0.0, Debian 12's version).
PACKAGES=(python3 python3-flask python3-fastapi python3-uvicorn python3-cryptography python3-nacl
  python3-pytest python3-requests python3-tomli python3-tomli-w curl openssl ca-certificates docker.io mmdebstrap wrk)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing ${missing[*]}" >&2
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# npm dependencies; `prepare` builds the TypeScript.
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
else
  npm run build --silent
fi

# A Docker engine that answers (started here when none runs).
if [ -f scripts/setup-docker.sh ]; then bash scripts/setup-docker.sh; fi
echo "setup: ready" >&2
