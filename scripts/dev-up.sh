#!/usr/bin/env bash
# Brings the whole system up on this machine: PostgreSQL and RabbitMQ
# (installed and started when absent), the databases, a metadata server, the
# proxy, and a demo account. Run it again to restart with the current code;
# scripts/dev-down.sh stops what it started.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

state_dir=${NIMBUS_STATE_DIR:-$PWD/.nimbus}
mkdir -p "$state_dir/log" "$state_dir/run" "$state_dir/objects"

ensure_postgres
ensure_rabbitmq
ensure_rabbitmq_client_user
ensure_database nimbus
ensure_database nimbus_proxy

say "building (the first build takes a while)"
cargo build --locked --bin nimbus-server --bin nimbus-proxy --bin nimbus

export NIMBUS_DATABASE_URL=${NIMBUS_DATABASE_URL:-$(database_url nimbus)}
export NIMBUS_PROXY_DATABASE_URL=${NIMBUS_PROXY_DATABASE_URL:-$(database_url nimbus_proxy)}
export NIMBUS_PROXY_STORAGE__OPTIONS__ROOT=${NIMBUS_PROXY_STORAGE__OPTIONS__ROOT:-$state_dir/objects}
export NIMBUS_STORAGE_URL=${NIMBUS_STORAGE_URL:-http://127.0.0.1:8080}
# Desktop clients get the restricted user, never the proxy's own.
export NIMBUS_PROXY_PUBLIC_AMQP_URL=${NIMBUS_PROXY_PUBLIC_AMQP_URL:-$(client_amqp_url)}
bin=$CARGO_TARGET_DIR/debug

# start NAME COMMAND...: (re)start a background process with a pid file and a log.
start() {
    local name=$1; shift
    start_process "$state_dir/run/$name.pid" "$state_dir/log/$name.log" "$@"
}

say "migrating and starting nimbus-server"
"$bin/nimbus-server" migrate
start nimbus-server "$bin/nimbus-server" serve
say "starting nimbus-proxy on http://127.0.0.1:8080"
start nimbus-proxy "$bin/nimbus-proxy"
wait_for 30 nimbus-proxy port_open 127.0.0.1 8080

if ! "$bin/nimbus-server" user list | awk '{print $1}' | grep -qx demo; then
    echo "demo-password" | "$bin/nimbus-server" user add demo --email demo@example.org --password-stdin
fi

cat <<MSG

Nimbus is running (logs in $state_dir/log, stop with scripts/dev-down.sh).

  web UI (open in a browser): http://127.0.0.1:8080/
  object store (Swift API):   http://127.0.0.1:8080
  demo account:               user "demo", password "demo-password"

Sync a folder with the desktop client (several devices: one --config-dir each):
  echo demo-password | $bin/nimbus login http://127.0.0.1:8080 --user demo --password-stdin --device laptop
  $bin/nimbus sync ~/Nimbus

Point a Swift client at it, for example:
  swift -A http://127.0.0.1:8080/auth/v1.0 -U demo:demo -K demo-password stat
  curl -i -H 'X-Auth-User: demo:demo' -H 'X-Auth-Key: demo-password' http://127.0.0.1:8080/auth/v1.0

Manage users with $bin/nimbus-server user --help
MSG
