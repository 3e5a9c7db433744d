#!/usr/bin/env bash
# Make a Docker engine available for mse-home, idempotently.
#
#   scripts/setup-docker.sh          install what is missing, start dockerd if no engine answers, wait for it
#   scripts/setup-docker.sh --check  only report whether an engine answers (exit 0/1), change nothing
#   scripts/setup-docker.sh --stop   stop the dockerd THIS script started (recorded pid), nothing else
#
# What it does, in order:
#   1. installs `docker.io` (and `mmdebstrap`, which builds the base image) with apt when missing;
#   2. if an engine already answers (DOCKER_HOST honoured), stops there: it never restarts or kills a
#      daemon it did not start;
#   3. otherwise starts `dockerd --exec-opt native.cgroupdriver=cgroupfs` in the background (no systemd
#      on these machines, cgroups v1), with a pidfile and a log, and waits until the engine answers.
#
# Environment (all optional):
#   MSE_DOCKERD_LOG       dockerd log file           (default /var/log/mse-home-dockerd.log)
#   MSE_DOCKERD_PIDFILE   dockerd's own pidfile      (default /var/run/docker.pid)
#   MSE_DOCKERD_DATA_ROOT dockerd --data-root        (default: dockerd's own, /var/lib/docker)
#   MSE_DOCKERD_TIMEOUT   seconds to wait for it     (default 30)
#   MSE_SKIP_APT=1        never call apt-get (fail instead when something is missing)
set -euo pipefail

LOG=${MSE_DOCKERD_LOG:-/var/log/mse-home-dockerd.log}
PIDFILE=${MSE_DOCKERD_PIDFILE:-/var/run/docker.pid}
# Our own record of the daemon we started (so --stop never touches someone else's daemon).
STARTED=${PIDFILE%.pid}.mse-home-started
LOCK=${TMPDIR:-/tmp}/mse-home-setup-docker.flock
TIMEOUT=${MSE_DOCKERD_TIMEOUT:-30}

say() { printf 'setup-docker: %s\n' "$*" >&2; }
die() {
  say "error: $*"
  exit 1
}

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO=(sudo); else SUDO=(false); fi
fi

# Debian's 20.10 client is the reference; any docker CLI on PATH talks to the same daemon.
DOCKER_CLI=$(command -v docker || true)
[ -x /usr/bin/docker ] && DOCKER_CLI=/usr/bin/docker

engine_answers() {
  [ -n "$DOCKER_CLI" ] || return 1
  timeout 5 "$DOCKER_CLI" version --format '{{.Server.Version}}' >/dev/null 2>&1
}

is_local_socket() {
  # dockerd is started only for the default local socket; a remote DOCKER_HOST is the user's business.
  [ -z "${DOCKER_HOST:-}" ] || [ "${DOCKER_HOST}" = "unix:///var/run/docker.sock" ] || [ "${DOCKER_HOST}" = "unix:///run/docker.sock" ]
}

apt_install() {
  [ "${MSE_SKIP_APT:-}" = "1" ] && die "missing packages: $* (MSE_SKIP_APT=1 forbids installing them)"
  command -v apt-get >/dev/null 2>&1 || die "missing packages: $* and no apt-get to install them"
  say "installing $* with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  if ! "${SUDO[@]}" apt-get install -y --no-install-recommends "$@" >/dev/null 2>&1; then
    "${SUDO[@]}" apt-get update >/dev/null 2>&1 || die "apt-get update failed"
    "${SUDO[@]}" apt-get install -y --no-install-recommends "$@" >/dev/null || die "apt-get install $* failed"
  fi
}

stop_ours() {
  if [ ! -f "$STARTED" ]; then
    say "no dockerd started by this script is recorded ($STARTED); nothing to stop"
    return 0
  fi
  local pid
  pid=$(cat "$STARTED")
  if [ -n "$pid" ] && [ -r "/proc/$pid/comm" ] && [ "$(cat "/proc/$pid/comm")" = dockerd ]; then
    say "stopping dockerd (pid $pid) started by this script"
    "${SUDO[@]}" kill -TERM "$pid"
    for _ in $(seq 1 100); do
      [ -d "/proc/$pid" ] || break
      sleep 0.1
    done
  else
    say "recorded dockerd (pid $pid) is no longer running"
  fi
  "${SUDO[@]}" rm -f "$STARTED"
}

case "${1:-}" in
  --check)
    if engine_answers; then
      say "engine answers: $("$DOCKER_CLI" version --format 'server {{.Server.Version}}, API {{.Server.APIVersion}}')"
      exit 0
    fi
    say "no Docker engine answers${DOCKER_HOST:+ at $DOCKER_HOST}"
    exit 1
    ;;
  --stop)
    stop_ours
    exit 0
    ;;
  '') ;;
  *) die "unknown argument '$1' (use --check, --stop or nothing)" ;;
esac

# Fast path: nothing to install and an engine answers.
if command -v dockerd >/dev/null 2>&1 && command -v mmdebstrap >/dev/null 2>&1 && engine_answers; then
  say "engine already answers: $("$DOCKER_CLI" version --format 'server {{.Server.Version}}, API {{.Server.APIVersion}}')"
  exit 0
fi

# Serialise concurrent runs (several helpers/CI jobs may call this at once).
exec 9>"$LOCK"
flock -w 120 9 || die "another setup-docker.sh run holds $LOCK"

missing=()
command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
command -v mmdebstrap >/dev/null 2>&1 || missing+=(mmdebstrap)
[ ${#missing[@]} -eq 0 ] || apt_install "${missing[@]}"
[ -n "$DOCKER_CLI" ] || DOCKER_CLI=$(command -v docker || true)
[ -n "$DOCKER_CLI" ] || die "docker client not found after installing docker.io"

if engine_answers; then
  say "engine already answers: $("$DOCKER_CLI" version --format 'server {{.Server.Version}}, API {{.Server.APIVersion}}')"
  exit 0
fi
is_local_socket || die "DOCKER_HOST=$DOCKER_HOST does not answer; start that engine yourself (this script only starts a local dockerd)"

# A dockerd may be alive but still starting (or wedged): wait for it rather than starting a second one.
if [ -f "$PIDFILE" ]; then
  pid=$(cat "$PIDFILE" 2>/dev/null || true)
  if [ -n "$pid" ] && [ -r "/proc/$pid/comm" ] && [ "$(cat "/proc/$pid/comm")" = dockerd ]; then
    say "dockerd (pid $pid) is running but not answering yet; waiting"
    for _ in $(seq 1 $((TIMEOUT * 5))); do
      engine_answers && {
        say "engine answers"
        exit 0
      }
      sleep 0.2
    done
    die "dockerd (pid $pid) runs but does not answer after ${TIMEOUT}s; it was not started by this script, so it is left alone (see its log)"
  fi
fi

args=(--exec-opt native.cgroupdriver=cgroupfs --pidfile "$PIDFILE")
[ -n "${MSE_DOCKERD_DATA_ROOT:-}" ] && args+=(--data-root "$MSE_DOCKERD_DATA_ROOT")
"${SUDO[@]}" mkdir -p "$(dirname "$LOG")"
say "starting dockerd ${args[*]} (log: $LOG)"
# setsid: the daemon must outlive this script and its caller's process group (Ctrl-C in a terminal, CI steps).
# 9>&-: the daemon must not inherit (and hold forever) the lock taken above.
"${SUDO[@]}" setsid dockerd "${args[@]}" >>"$LOG" 2>&1 </dev/null 9>&- &
launcher=$!

for _ in $(seq 1 $((TIMEOUT * 5))); do
  if engine_answers; then
    pid=$(cat "$PIDFILE" 2>/dev/null || echo "$launcher")
    echo "$pid" | "${SUDO[@]}" tee "$STARTED" >/dev/null
    say "engine answers: $("$DOCKER_CLI" version --format 'server {{.Server.Version}}, API {{.Server.APIVersion}}') (dockerd pid $pid)"
    exit 0
  fi
  if ! kill -0 "$launcher" 2>/dev/null; then
    say "dockerd exited during start-up; last lines of $LOG:"
    tail -n 20 "$LOG" >&2 || true
    exit 1
  fi
  sleep 0.2
done
say "dockerd did not answer within ${TIMEOUT}s; last lines of $LOG:"
tail -n 20 "$LOG" >&2 || true
exit 1
