#!/usr/bin/env bash
# Browser tests of the web UI: Debian's Chromium driven by playwright-core,
# run by node's test runner (web/tests/*.test.mjs).
#
# Installs what it needs (chromium from apt when absent, the npm packages
# of package-lock.json with `npm ci`; no browser is downloaded), builds and
# starts its own metadata server and proxy on a free port (fresh databases,
# a fresh queue prefix, objects in a temporary directory), so a running
# dev deployment is not disturbed; creates a user with `nimbus-server user
# add`, lets the desktop client sync a folder for it, runs the tests, and
# stops and removes everything it started. Screenshots go to $SCREENSHOTS
# (default /tmp/nimbus-web-screenshots). Needs PostgreSQL and RabbitMQ on
# 127.0.0.1 (scripts/dev-up.sh and scripts/test.sh start them). Arguments name
# test files to run alone (`web/tests/run.sh sharing.test.mjs`).
set -euo pipefail
cd "$(dirname "$0")/../.."

. scripts/lib.sh
POSTGRES_URL=${NIMBUS_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}
AMQP_URL=${NIMBUS_TEST_AMQP_URL:-amqp://guest:guest@127.0.0.1:5672/%2f}
CLIENT_AMQP_URL=${NIMBUS_TEST_CLIENT_AMQP_URL:-$(client_amqp_url)}

command -v chromium >/dev/null || install_packages chromium fonts-dejavu-core
command -v node >/dev/null || install_packages nodejs npm
# The vendored htmx must be the file its README names.
(cd web/static/vendor && grep -o '[0-9a-f]\{64\}' README.md | head -n 1 | sed 's/$/  htmx.min.js/' | sha256sum --check --quiet)
(cd web/tests && npm ci --no-audit --no-fund --loglevel=error)

# One invocation: built apart, the three would each unify features anew
# and rebuild shared dependencies.
cargo build --quiet --locked -p nimbus-server -p nimbus-proxy -p nimbus-client \
    --bin nimbus-server --bin nimbus-proxy --bin nimbus
bin=$CARGO_TARGET_DIR/debug

run=web$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')
work=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
url=http://127.0.0.1:$port
# Logs go to the suite's log directory when scripts/test.sh made one.
logs=$(suite_log "web-$run." "$work/")
pids=()

cleanup() {
    for pid in "${pids[@]}"; do
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    psql -q "$POSTGRES_URL" -c "DROP DATABASE IF EXISTS nimbus_test_server_$run WITH (FORCE)" >/dev/null 2>&1 || true
    psql -q "$POSTGRES_URL" -c "DROP DATABASE IF EXISTS nimbus_test_proxy_$run WITH (FORCE)" >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT

psql -q "$POSTGRES_URL" -c "CREATE DATABASE nimbus_test_server_$run" >/dev/null

export NIMBUS_DATABASE_URL=${POSTGRES_URL%/*}/nimbus_test_server_$run
export NIMBUS_AMQP_URL=$AMQP_URL
export NIMBUS_QUEUE_PREFIX=test-$run
export NIMBUS_IDLE_QUEUE_EXPIRY_SECS=60
export NIMBUS_STORAGE_URL=$url
"$bin/nimbus-server" migrate >/dev/null

export NIMBUS_PROXY_LISTEN=127.0.0.1:$port
export NIMBUS_PROXY_PUBLIC_URL=$url
export NIMBUS_PROXY_DATABASE_URL=${POSTGRES_URL%/*}/nimbus_test_proxy_$run
export NIMBUS_PROXY_AMQP_URL=$AMQP_URL
export NIMBUS_PROXY_PUBLIC_AMQP_URL=$CLIENT_AMQP_URL
export NIMBUS_PROXY_QUEUE_PREFIX=test-$run
export NIMBUS_PROXY_STORAGE__OPTIONS__ROOT=$work/objects
mkdir -p "$work/objects"

"$bin/nimbus-server" serve >"${logs}server.log" 2>&1 &
pids+=($!)
"$bin/nimbus-proxy" >"${logs}proxy.log" 2>&1 &
pids+=($!)

password="web-test-password-$run"
record_secret password "$password"
echo "$password" | "$bin/nimbus-server" user add ada --password-stdin >/dev/null
# A second user, whom sharing.test.mjs shares with.
echo "$password" | "$bin/nimbus-server" user add bob --password-stdin >/dev/null
# An administrator, for admin.test.mjs.
echo "$password" | "$bin/nimbus-server" user add root --admin --password-stdin >/dev/null

for _ in $(seq 60); do
    curl -sf "$url/info" >/dev/null && break
    sleep 0.5
done
curl -sf "$url/info" >/dev/null || { cat "${logs}proxy.log" >&2; exit 1; }

# A desktop client syncs a folder with a small text and a multi-chunk file.
mkdir -p "$work/sync/Holiday photos"
echo "hello from the desktop" >"$work/sync/Holiday photos/hello.txt"
head -c 3000000 /dev/urandom >"$work/sync/Holiday photos/data.bin"
cp "$work/sync/Holiday photos/data.bin" "$work/expected.bin"
echo "$password" | "$bin/nimbus" --config-dir "$work/client" \
    login "$url" --user ada --password-stdin --device desktop-test >/dev/null
"$bin/nimbus" --config-dir "$work/client" sync "$work/sync" >"${logs}client.log" 2>&1 &
pids+=($!)

status=0
# NIMBUS_CLI: the desktop client, for what only it does (an end-to-end
# encrypted workspace); each test that runs it has a configuration of its own.
(cd web/tests && NIMBUS_URL=$url NIMBUS_USER=ada NIMBUS_SECOND_USER=bob NIMBUS_ADMIN_USER=root NIMBUS_PASSWORD=$password \
    NIMBUS_FOLDER="Holiday photos" NIMBUS_FIXTURE="$work/expected.bin" NIMBUS_SYNC_DIR="$work/sync" \
    NIMBUS_CLI="$bin/nimbus" node --test --test-reporter=spec "$@") || status=$?
if [ "$status" -ne 0 ]; then
    echo "--- proxy log" >&2; tail -n 40 "${logs}proxy.log" >&2
    echo "--- server log" >&2; tail -n 40 "${logs}server.log" >&2
    echo "--- desktop client log" >&2; tail -n 40 "${logs}client.log" >&2
fi
exit "$status"
