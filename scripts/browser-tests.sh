#!/usr/bin/env bash
# The browser tests, in a real headless Chromium:
#  1. chsk-web's wasm-bindgen tests (chsk-web/tests/*.rs) against a real chsk server on loopback
#     (chsk-web/test-server, started here and stopped by its PID);
#  2. the chat demo end to end (examples/chat/server/tests/e2e/, fantoccini + chromedriver),
#     which saves a screenshot to target/e2e/chat.png, and the chat on two chat-server
#     processes sharing a redis-server (e2e/cluster.rs: a tab moved to the other node when its
#     node is killed recovers what it missed).
# Installs what a fresh machine lacks: Chromium + ChromeDriver + redis-server (apt), the wasm32
# target, and wasm-bindgen-test-runner at the exact wasm-bindgen version of Cargo.lock (cached in
# $HOME/.cache/chsk/bin). Exits non-zero when any test fails.
set -euo pipefail
cd "$(dirname "$0")/.."

CACHE="${CHSK_CACHE:-$HOME/.cache/chsk}"
export PATH="$CACHE/bin:$PATH"
TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
step() { printf '\n=== browser tests: %s (%ss)\n' "$1" "$SECONDS"; }

step "toolchain"
HAD_REDIS=""
if command -v redis-server >/dev/null; then HAD_REDIS=1; fi
if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null || [ -z "$HAD_REDIS" ]; then
    SUDO=""
    if [ "$(id -u)" != 0 ]; then SUDO=sudo; fi
    $SUDO apt-get update -qq
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver \
        redis-server >/dev/null
    if [ -z "$HAD_REDIS" ]; then
        # The package starts a system service on port 6379; the tests start their own servers.
        $SUDO service redis-server stop >/dev/null 2>&1 || true
    fi
fi
rustup target add wasm32-unknown-unknown >/dev/null 2>&1 || true
WB_VERSION="$(grep -A1 '^name = "wasm-bindgen"$' Cargo.lock | sed -n 's/^version = "\(.*\)"/\1/p')"
if ! wasm-bindgen-test-runner --version 2>/dev/null | grep -qF "$WB_VERSION"; then
    # No --locked: the registry here lacks one locked transitive version of the CLI.
    cargo install wasm-bindgen-cli --version "$WB_VERSION" --root "$CACHE"
fi
export CHROMEDRIVER="${CHROMEDRIVER:-$(command -v chromedriver)}"
# The whole wasm test binary must finish within this many seconds.
export WASM_BINDGEN_TEST_TIMEOUT="${WASM_BINDGEN_TEST_TIMEOUT:-300}"

step "test server"
cargo build -p chsk-web-test-server
"$TARGET_DIR/debug/chsk-web-test-server" &
SERVER_PID=$!
trap 'kill "$SERVER_PID" 2>/dev/null || true' EXIT
up=""
for _ in $(seq 100); do
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then break; fi
    if (exec 3<>/dev/tcp/127.0.0.1/28473) 2>/dev/null; then up=1; break; fi
    sleep 0.1
done
if [ -z "$up" ]; then
    echo "the test server did not start (ports 28471-28473 busy?)" >&2
    exit 1
fi

step "chsk-web in headless Chromium (wasm-bindgen-test)"
cargo test --target wasm32-unknown-unknown -p chsk-web

kill "$SERVER_PID" 2>/dev/null || true
wait "$SERVER_PID" 2>/dev/null || true
trap - EXIT

step "chat demo end to end (fantoccini)"
cargo run -q -p xtask -- build-web --out "$TARGET_DIR/chat-dist"
mkdir -p target/e2e
CHAT_DIST="$TARGET_DIR/chat-dist" CHAT_SCREENSHOT="$PWD/target/e2e/chat.png" \
    cargo test -p chat-server --test e2e -- --ignored --nocapture

step "done"
