#!/usr/bin/env bash
# The whole test suite: unit and integration tests (a real axum server on loopback, real
# sockets, the native client), trybuild UI tests, doc-tests, then the browser tests in a real
# headless Chromium (scripts/browser-tests.sh installs Chromium, ChromeDriver and the wasm
# toolchain pieces when they are missing). `.ci/run` calls exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo test --workspace --all-targets
cargo test --workspace --doc
scripts/browser-tests.sh
