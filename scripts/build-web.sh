#!/usr/bin/env bash
# Builds the Dioxus web client into web/dist/ (served by the api at /): the wasm32
# target and wasm-bindgen-cli (the lockfile's version) are installed when missing;
# nothing else is downloaded.
set -euo pipefail
cd "$(dirname "$0")/.."

target_dir="${CARGO_TARGET_DIR:-target}"
bindgen_version=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/[^0-9.]/, ""); print; exit }' Cargo.lock)

rustup target list --installed | grep -qx wasm32-unknown-unknown ||
  rustup target add wasm32-unknown-unknown
if [ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" != "$bindgen_version" ]; then
  echo "build-web: installing wasm-bindgen-cli $bindgen_version (about 2.5 minutes)"
  # Without --locked: with it, the CLI's own dependencies fail to resolve.
  cargo install wasm-bindgen-cli --version "$bindgen_version"
fi

cargo build --locked -p zencast-web --target wasm32-unknown-unknown --release
rm -rf web/dist
mkdir -p web/dist
wasm-bindgen --target web --no-typescript --out-dir web/dist --out-name zencast_web \
  "$target_dir/wasm32-unknown-unknown/release/zencast-web.wasm"
cp web/index.html web/boot.js web/style.css web/dist/
echo "build-web: web/dist ready ($(du -h web/dist/zencast_web_bg.wasm | cut -f1) of wasm)"
