#!/usr/bin/env bash
# Stops the metadata server and proxy that scripts/dev-up.sh started. The
# databases, RabbitMQ and stored objects stay.
set -euo pipefail
cd "$(dirname "$0")/.."
state_dir=${NIMBUS_STATE_DIR:-$PWD/.nimbus}
for name in nimbus-proxy nimbus-server; do
    pid_file=$state_dir/run/$name.pid
    [ -f "$pid_file" ] || continue
    pid=$(cat "$pid_file")
    if kill "$pid" 2>/dev/null; then
        for _ in $(seq 30); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
        echo "stopped $name"
    fi
    rm -f "$pid_file"
done
