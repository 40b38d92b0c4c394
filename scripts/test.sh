#!/usr/bin/env bash
# The whole test suite: unit, integration (real axum server on loopback, real sockets),
# doc-tests and trybuild UI tests. `.ci/run` calls exactly this after installing what it needs.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo test --workspace --all-targets
cargo test --workspace --doc
