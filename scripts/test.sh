#!/usr/bin/env bash
# The test command: installs what the tests need on a fresh machine (Rust toolchain and gcc
# assumed), then runs the gate and every test.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v prometheus >/dev/null 2>&1 || missing+=(prometheus)
if ((${#missing[@]})); then
  echo "installing ${missing[*]} (Debian packages) for the integration tests"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

cargo fmt --check
cargo clippy --release --all-targets -- -D warnings
cargo test --release
