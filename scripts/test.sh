#!/usr/bin/env bash
# The test command: installs what the tests need on a fresh machine (Rust toolchain and gcc
# assumed): Debian's prometheus (with promtool), prometheus-alertmanager (with amtool), chromium
# (the wallboard's browser tests) and the tansu broker; then runs the gate and every test. Cold
# and warm times: README, Tests.
#
# Built once where it can be: clippy and the tests both use the release profile, so the
# dependencies' build scripts (librdkafka's, OpenSSL's and zstd's C builds) run once and serve
# both; clippy adds only a metadata check of the dependencies (no code generation). The gate
# runs before the broker is built, so a format or lint error shows within minutes.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v prometheus >/dev/null 2>&1 || missing+=(prometheus)
command -v prometheus-alertmanager >/dev/null 2>&1 || missing+=(prometheus-alertmanager)
# The wallboard's browser tests (tests/wallboard.rs) drive headless chromium.
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
if ((${#missing[@]})); then
  echo "installing ${missing[*]} (Debian packages) for the integration tests"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

cargo fmt --check
cargo clippy --release --all-targets -- -D warnings

# The Kafka-protocol broker of the integration tests; built once and then found in ~/.cargo/bin.
# Only the storage engines the tests start (tests/common/mod.rs): memory:// needs dynostore and
# sqlite:// needs libsql. The crate's default features enable nothing beyond what these two
# already pull in; --no-default-features says so. Optimised at level 1, not 3: its build takes
# a third less CPU and the Kafka tests take as long against it. Built here, between clippy and
# the test build, not beside them: the project's build alone keeps both cores busy, and the two
# at once took longer. Both measured in README, Tests.
if ! command -v tansu >/dev/null 2>&1 && [ ! -x "${CARGO_HOME:-$HOME/.cargo}/bin/tansu" ]; then
  echo "installing the tansu broker for the Kafka integration tests"
  CARGO_PROFILE_RELEASE_OPT_LEVEL=1 cargo install tansu --version 0.6.0 --no-default-features --features dynostore,libsql --locked
fi

cargo test --release
