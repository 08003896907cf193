#!/usr/bin/env bash
# Starts the whole system on this machine: dependencies (installed and started
# if absent), the web client, then `zencast up` (migrations, api, outbox relay,
# projector, and the web client at /).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
./scripts/build-web.sh
cargo build --release -p zencast
exec ./target/release/zencast up "$@"
