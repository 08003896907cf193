#!/usr/bin/env bash
# Starts the whole system on this machine: dependencies (installed and started
# if absent), then `zencast up` (migrations, api, outbox relay, projector).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
cargo build --release -p zencast
exec ./target/release/zencast up "$@"
