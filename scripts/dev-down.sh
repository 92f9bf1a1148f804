#!/usr/bin/env bash
# Stops the metadata server and proxy that scripts/dev-up.sh started. The
# databases, RabbitMQ and stored objects stay.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
state_dir=${NIMBUS_STATE_DIR:-$PWD/.nimbus}
for name in nimbus-proxy nimbus-server; do
    if stop_process "$state_dir/run/$name.pid"; then echo "stopped $name"; fi
done
