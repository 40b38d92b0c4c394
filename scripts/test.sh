#!/usr/bin/env bash
# The whole test suite: unit and integration tests (a real axum server on loopback, real
# sockets, the native client; chsk-redis's tests run several server processes on a real
# redis-server, installed here from Debian when missing), trybuild UI tests, doc-tests, then the
# browser tests in a real headless Chromium (scripts/browser-tests.sh installs Chromium,
# ChromeDriver and the wasm toolchain pieces when they are missing). `.ci/run` calls exactly
# this.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v redis-server >/dev/null; then
    SUDO=""
    if [ "$(id -u)" != 0 ]; then SUDO=sudo; fi
    $SUDO apt-get update -qq
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
    # The package starts a system service on port 6379; the tests start their own servers.
    $SUDO service redis-server stop >/dev/null 2>&1 || true
fi

cargo test --workspace --all-targets
cargo test --workspace --doc
scripts/browser-tests.sh
