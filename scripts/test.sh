#!/usr/bin/env bash
# Runs every test against real PostgreSQL, Redis and NATS JetStream (installed
# and started if absent). Each test makes its own database, prefix and keys.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
# A second, independent S3-compatible server for the upload tests (moto, PyPI),
# and the fuzzer the api's contract test runs against /api/openapi.json
# (schemathesis, PyPI).
if ! command -v moto_server >/dev/null; then
  python3 -m pip install --quiet "moto[server]"
  command -v pyenv >/dev/null && pyenv rehash || true
fi
if ! command -v schemathesis >/dev/null; then
  python3 -m pip install --quiet schemathesis
  command -v pyenv >/dev/null && pyenv rehash || true
fi
# The web client (served by the api at /) and the node driver of its browser tests.
./scripts/build-web.sh
[ -d web/e2e/node_modules ] || (cd web/e2e && npm ci --no-audit --no-fund)
export DATABASE_URL="${ZENCAST_TEST_DATABASE_URL:-postgres://zencast:zencast@127.0.0.1:5432/postgres}"
export RUST_BACKTRACE=1
cargo build --workspace --tests --locked
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --locked --no-fail-fast
else
  cargo test --workspace --locked --no-fail-fast
fi
