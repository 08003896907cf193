#!/usr/bin/env bash
# Installs (Debian 12, as root) and starts what Zencast needs, when absent:
# PostgreSQL, Redis, NATS with JetStream, ffmpeg, and Chromium with node for the
# browser tests. Idempotent: on a machine where they
# already run, it only checks them. Also creates the `zencast` database role.
set -euo pipefail

say() { printf 'setup: %s\n' "$*"; }
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
wait_port() {
  for _ in $(seq 1 100); do port_open "$1" && return 0; sleep 0.2; done
  say "nothing answers on port $1 after 20 s"; return 1
}

command -v cargo >/dev/null || { say "Rust is missing: install it with rustup (https://rustup.rs) first"; exit 1; }

missing=()
command -v pg_ctlcluster >/dev/null || missing+=(postgresql)
command -v redis-server >/dev/null || missing+=(redis-server)
command -v nats-server >/dev/null || missing+=(nats-server)
command -v cc >/dev/null || missing+=(build-essential)
# The render worker drives the system ffmpeg (nothing is ever downloaded); its
# audio-only card and name labels need a font.
command -v ffmpeg >/dev/null || missing+=(ffmpeg)
[ -e /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || missing+=(fonts-dejavu-core)
# The web client's browser tests drive the system Chromium from node (playwright-core);
# no tool downloads a browser of its own.
command -v chromium >/dev/null || missing+=(chromium)
command -v chromedriver >/dev/null || missing+=(chromium-driver)
command -v node >/dev/null || missing+=(nodejs)
command -v npm >/dev/null || missing+=(npm)
if ((${#missing[@]})); then
  say "installing ${missing[*]}"
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"
fi

# PostgreSQL: the event log.
if ! port_open 5432; then
  version=$(ls /etc/postgresql | sort -V | tail -n 1)
  say "starting PostgreSQL $version"
  pg_ctlcluster --skip-systemctl-redirect "$version" main start
  wait_port 5432
fi
# A login role that can create databases (zencast creates its database, and each
# test run its own), with a password so it works with trust or password auth.
runuser -u postgres -- psql -qtAc "SELECT 1 FROM pg_roles WHERE rolname = 'zencast'" | grep -q 1 ||
  runuser -u postgres -- psql -qc "CREATE ROLE zencast LOGIN CREATEDB PASSWORD 'zencast'"

# Redis: the room-state projection (rebuildable from the log, so no persistence).
if ! port_open 6379; then
  say "starting Redis"
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/zencast.log
  wait_port 6379
fi

# NATS with JetStream: the event stream and signaling.
if ! port_open 4222; then
  say "starting nats-server with JetStream"
  mkdir -p /var/lib/nats-server
  start-stop-daemon --start --oknodo --background --exec "$(command -v nats-server)" -- \
    -a 127.0.0.1 -p 4222 -js -sd /var/lib/nats-server -l /var/log/nats-server.log
  wait_port 4222
fi
say "PostgreSQL, Redis and NATS are up"
