#!/usr/bin/env bash
# Runs every test: formatting, lints, unit and integration tests against the
# real PostgreSQL and RabbitMQ (installed and started when absent).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

ensure_postgres
ensure_rabbitmq

# Test databases of earlier runs that crashed before dropping them.
# One session for all of them: a dropdb each takes a second apiece.
stale=$(as_postgres psql -Atq -d postgres -c "
    SELECT format('DROP DATABASE IF EXISTS %I;', datname) FROM pg_database d
    WHERE (datname LIKE 'nimbus\_test\_%' OR datname LIKE 'nimbus\_bench\_%')
      AND NOT EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.datname = d.datname)")
[ -z "$stale" ] || as_postgres psql -q -d postgres <<<"$stale"

# Exchanges of earlier test runs whose queues have expired. Best effort:
# listing needs rabbitmqctl (root or the rabbitmq user); deleting goes over
# AMQP, which takes milliseconds per exchange where rabbitmqctl takes seconds.
delete_stale_exchanges() {
    local live stale
    live=$(as_root rabbitmqctl -q list_queues name 2>/dev/null) || return 0
    stale=$(as_root rabbitmqctl -q list_exchanges name 2>/dev/null \
        | grep -E '^(test|bench)-[0-9a-f]+\.' \
        | while read -r exchange; do
            grep -q "^${exchange%%.*}\." <<<"$live" || echo "$exchange"
        done)
    [ -n "$stale" ] || return 0
    ensure_python_clients pika
    python -c '
import sys, pika
channel = pika.BlockingConnection(pika.URLParameters(sys.argv[1])).channel()
for name in sys.stdin.read().split():
    channel.exchange_delete(name)
' "$NIMBUS_TEST_AMQP_URL" <<<"$stale"
}

export NIMBUS_TEST_AMQP_URL=${NIMBUS_TEST_AMQP_URL:-amqp://guest:guest@127.0.0.1:5672/%2f}
delete_stale_exchanges || say "could not remove old test exchanges (continuing)"

# The proxies under test hand this user to their clients.
ensure_rabbitmq_client_user
export NIMBUS_TEST_CLIENT_AMQP_URL=${NIMBUS_TEST_CLIENT_AMQP_URL:-$(client_amqp_url)}

export NIMBUS_TEST_POSTGRES_URL=${NIMBUS_TEST_POSTGRES_URL:-$(database_url postgres)}

# Every component the tests start logs here at its most verbose level, and
# the tests note every secret they make or use beside the logs
# (server/src/test_log.rs); scripts/scan-secrets.sh checks, at the end, that
# no log line holds one.
export NIMBUS_TEST_LOG_DIR=$CARGO_TARGET_DIR/test-logs
rm -rf "$NIMBUS_TEST_LOG_DIR"
mkdir -p "$NIMBUS_TEST_LOG_DIR"
export RUST_LOG=info,nimbus=trace,nimbus_server=trace,nimbus_proxy=trace,nimbus_client=trace,nimbus_protocol=trace,nimbus_chunks=trace

# A FAT image mounted through FUSE is the case-insensitive file system the
# desktop client's e2e test syncs into (this kernel has no casefold).
install_packages dosfstools fusefat

# About 5 s (25 s on the first run, which installs the pinned tools).
say "deployment files (scripts/validate-deploy.sh)"
scripts/validate-deploy.sh

# Instant: the table of docs/scaling.md from the stored measured costs.
say "the load model (bench/load-model/model.py)"
python3 bench/load-model/model.py

say "cargo fmt --check"
cargo fmt --all --check
say "cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
say "cargo test"
cargo test --workspace --locked

say "fuzz smoke and crash regressions (scripts/fuzz.sh)"
scripts/fuzz.sh --smoke

# Its own PostgreSQL and RabbitMQ, which it restarts; never the shared ones.
say "faults under load (docs/faults.md)"
scripts/faults.sh

# Its own cluster (three RabbitMQ nodes, HAProxy, two servers, two proxies,
# the real Swift of scripts/real-swift.sh), removed at the end; the machine's
# PostgreSQL and RabbitMQ are used, never stopped. About 4 minutes.
say "a cluster under load while its members restart (scripts/cluster-test.sh)"
scripts/cluster-test.sh

say "real Swift clients against the proxy (python-swiftclient, rclone)"
ensure_python_clients python-swiftclient
install_packages rclone
cargo test --locked -p nimbus-proxy --test api -- --ignored

say "REST API and OAuth through requests-oauthlib"
api-proxy/tests/python/run.sh

# The deliberate exceptions are deselected (scripts/swift-functional.known-failures,
# explained in docs/swift-compatibility.md); its closing line is the count.
say "OpenStack Swift's functional suite against the proxy"
scripts/swift-functional.sh

say "web UI in Debian's Chromium (playwright-core, axe-core)"
web/tests/run.sh

say "no secret in any log of the run ($NIMBUS_TEST_LOG_DIR)"
scripts/scan-secrets.sh "$NIMBUS_TEST_LOG_DIR"
