#!/usr/bin/env bash
# The test command: installs what the tests need on a fresh machine (Rust toolchain and gcc
# assumed): Debian's prometheus (with promtool), prometheus-alertmanager (with amtool) and the
# tansu broker; then runs the gate and every test.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v prometheus >/dev/null 2>&1 || missing+=(prometheus)
command -v prometheus-alertmanager >/dev/null 2>&1 || missing+=(prometheus-alertmanager)
if ((${#missing[@]})); then
  echo "installing ${missing[*]} (Debian packages) for the integration tests"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The Kafka-protocol broker of the integration tests; built once (about 10 minutes on 2 cores)
# and then found in ~/.cargo/bin.
if ! command -v tansu >/dev/null 2>&1 && [ ! -x "${CARGO_HOME:-$HOME/.cargo}/bin/tansu" ]; then
  echo "installing the tansu broker for the Kafka integration tests"
  cargo install tansu --version 0.6.0 --features dynostore,libsql --locked
fi

cargo fmt --check
cargo clippy --release --all-targets -- -D warnings
cargo test --release
