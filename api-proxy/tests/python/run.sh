#!/usr/bin/env bash
# The REST API v2 and its OAuth provider driven by a third-party client:
# requests-oauthlib (PyPI), in the virtualenv of scripts/lib.sh; then the
# HTTP fuzzers (docs/http-fuzzing.md): Schemathesis against /openapi.json
# and our Hypothesis fuzzer of the Swift API. NIMBUS_FUZZ_EXAMPLES (examples
# per operation, default 25) and NIMBUS_FUZZ_SEED (replay a run) tune them;
# NIMBUS_FUZZ_ONLY=1 skips the other tests (a long fuzzing run).
#
# Builds and starts a metadata server and a proxy (fresh databases, a fresh
# queue prefix, objects in a temporary directory, PLAINTEXT allowed over
# http for this run), registers a user and an application with the
# `nimbus-server` commands, starts the desktop client (`nimbus sync`) on a
# folder of one user when it builds (else its round trip is skipped, and
# said so), runs test_oauth_requests.py, and stops and removes everything it
# started. Needs PostgreSQL and RabbitMQ on 127.0.0.1
# (scripts/dev-up.sh starts them).
set -euo pipefail
cd "$(dirname "$0")/../../.."

. scripts/lib.sh
POSTGRES_URL=${NIMBUS_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}
AMQP_URL=${NIMBUS_TEST_AMQP_URL:-amqp://guest:guest@127.0.0.1:5672/%2f}
ensure_python_clients -r api-proxy/tests/python/requirements.txt

cargo build --quiet -p nimbus-server --bin nimbus-server
cargo build --quiet -p nimbus-proxy --bin nimbus-proxy
bin=$CARGO_TARGET_DIR/debug

run=py$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')
server_db=${POSTGRES_URL%/*}/nimbus_test_server_$run
proxy_db=${POSTGRES_URL%/*}/nimbus_test_proxy_$run
objects=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
url=http://127.0.0.1:$port
# Logs go to the suite's log directory when scripts/test.sh made one.
logs=$(suite_log "python-$run" "$objects")
pids=()
sync_dir=
client_config=

cleanup() {
    for pid in "${pids[@]}"; do
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    psql -q "$POSTGRES_URL" -c "DROP DATABASE IF EXISTS nimbus_test_server_$run WITH (FORCE)" >/dev/null 2>&1 || true
    psql -q "$POSTGRES_URL" -c "DROP DATABASE IF EXISTS nimbus_test_proxy_$run WITH (FORCE)" >/dev/null 2>&1 || true
    rm -rf "$objects" "$sync_dir" "$client_config"
    rm -f "$objects".*.log
}
trap cleanup EXIT

psql -q "$POSTGRES_URL" -c "CREATE DATABASE nimbus_test_server_$run" >/dev/null

export NIMBUS_DATABASE_URL=$server_db
export NIMBUS_AMQP_URL=$AMQP_URL
export NIMBUS_QUEUE_PREFIX=test-$run
export NIMBUS_IDLE_QUEUE_EXPIRY_SECS=60
export NIMBUS_STORAGE_URL=$url
export NIMBUS_OAUTH_PLAINTEXT_OVER_HTTP=true
"$bin/nimbus-server" migrate >/dev/null

export NIMBUS_PROXY_LISTEN=127.0.0.1:$port
export NIMBUS_PROXY_PUBLIC_URL=$url
export NIMBUS_PROXY_DATABASE_URL=$proxy_db
export NIMBUS_PROXY_AMQP_URL=$AMQP_URL
export NIMBUS_PROXY_QUEUE_PREFIX=test-$run
export NIMBUS_PROXY_STORAGE__OPTIONS__ROOT=$objects

"$bin/nimbus-server" serve >"$logs.server.log" 2>&1 &
pids+=($!)
"$bin/nimbus-proxy" >"$logs.proxy.log" 2>&1 &
pids+=($!)

password="py-test-password-$run"
record_secret password "$password"
for user in alice bob; do
    echo "$password" | "$bin/nimbus-server" user add "$user" --password-stdin >/dev/null
done
consumer=$("$bin/nimbus-server" oauth add-consumer "Python app")
consumer_key=$(sed -n 's/^consumer key: *//p' <<<"$consumer")
consumer_secret=$(sed -n 's/^consumer secret: *//p' <<<"$consumer")
record_secret "oauth consumer secret" "$consumer_secret"

for _ in $(seq 60); do
    curl -sf "$url/info" >/dev/null && break
    sleep 0.5
done
curl -sf "$url/info" >/dev/null || { cat "$logs.proxy.log" >&2; exit 1; }

if [ -n "${NIMBUS_FUZZ_ONLY:-}" ]; then
    echo "NIMBUS_FUZZ_ONLY: only the fuzzers run (no desktop client)" >&2
elif cargo build --quiet -p nimbus-client --bin nimbus 2>"$objects.client-build.log"; then
    sync_dir=$(mktemp -d)
    client_config=$(mktemp -d)
    echo "$password" | "$bin/nimbus" --config-dir "$client_config" \
        login "$url" --user alice --password-stdin --device desktop-test >/dev/null
    "$bin/nimbus" --config-dir "$client_config" sync "$sync_dir" >"$logs.client.log" 2>&1 &
    pids+=($!)
else
    echo "the desktop client (nimbus-client) does not build: its round trip is skipped" >&2
fi

export NIMBUS_URL=$url NIMBUS_PASSWORD=$password
export NIMBUS_CONSUMER_KEY=$consumer_key NIMBUS_CONSUMER_SECRET=$consumer_secret
status=0
if [ -z "${NIMBUS_FUZZ_ONLY:-}" ]; then
    NIMBUS_SYNC_DIR=$sync_dir python -m unittest -v api-proxy/tests/python/test_oauth_requests.py || status=$?
fi
fuzz_options=(-p no:cacheprovider -q --hypothesis-show-statistics)
# A fixed seed by default, so that CI is reproducible; set another to explore.
fuzz_options+=("--hypothesis-seed=${NIMBUS_FUZZ_SEED:-1}")
python -m pytest "${fuzz_options[@]}" \
    api-proxy/tests/python/test_openapi_fuzz.py api-proxy/tests/python/test_swift_fuzz.py || status=$?
if [ "$status" -ne 0 ]; then
    echo "--- proxy log" >&2; tail -n 40 "$logs.proxy.log" >&2
    echo "--- server log" >&2; tail -n 40 "$logs.server.log" >&2
    if [ -n "$sync_dir" ]; then echo "--- desktop client log" >&2; tail -n 40 "$logs.client.log" >&2; fi
fi
exit "$status"
