#!/usr/bin/env bash
# Nimbus beside Syncthing on this machine, same data, same run: prints a table
# with both columns and their ratio (README.md beside this file says how to
# read it).
#
#   bench/sync-vs-syncthing/run.sh [--files N] [--big-mib N] [--edits N] [--keep]
#
# Nimbus: the release binaries in $NIMBUS_BENCH_BIN_DIR (default
# $CARGO_TARGET_DIR/release, built when missing): a metadata server and a
# proxy on databases and an exchange prefix of this run's own on the shared
# PostgreSQL and RabbitMQ (which are used, never reconfigured), and two
# `nimbus sync` devices of one user. Syncthing: Debian's package (installed
# when absent), two instances on loopback only, file watcher at 1 s.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here/../.."
. scripts/lib.sh

bin_dir=${NIMBUS_BENCH_BIN_DIR:-$CARGO_TARGET_DIR/release}
if [ -z "${NIMBUS_BENCH_BIN_DIR:-}" ]; then
    say "building the release binaries (only what changed)"
    cargo build --release --locked -p nimbus-server -p nimbus-proxy -p nimbus-client --bins
fi
for binary in nimbus-server nimbus-proxy nimbus; do
    [ -x "$bin_dir/$binary" ] || die "no $bin_dir/$binary"
done
command -v syncthing >/dev/null || install_packages syncthing
port_open 127.0.0.1 5432 || die "PostgreSQL is not running on 127.0.0.1:5432 (scripts/dev-up.sh starts it)"
port_open 127.0.0.1 5672 || die "RabbitMQ is not running on 127.0.0.1:5672 (scripts/dev-up.sh starts it)"

work=${NIMBUS_BENCH_WORK:-/var/tmp/nimbus-vs-syncthing-$$}
[ -e "$work" ] && die "$work exists; remove it or set NIMBUS_BENCH_WORK"
echo "git $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- . 2>/dev/null || echo ' + local changes'), binaries in $bin_dir"
exec python3 "$here/bench.py" \
    --bin-dir "$bin_dir" --work "$work" \
    --postgres "${NIMBUS_BENCH_POSTGRES_URL:-$(database_url postgres)}" \
    --amqp "${NIMBUS_BENCH_AMQP_URL:-amqp://guest:guest@127.0.0.1:5672/%2f}" \
    --client-amqp "${NIMBUS_BENCH_CLIENT_AMQP_URL:-$(client_amqp_url)}" \
    "$@"
