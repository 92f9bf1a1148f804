#!/usr/bin/env bash
# Faults under load: builds the binaries and runs faults/ (nimbus-faults),
# which starts its OWN PostgreSQL cluster and RabbitMQ node (on free ports,
# in a temporary directory; the machine's shared ones are never touched),
# two metadata servers, two proxies, three desktop clients, a Swift client
# and a REST client, kills, restarts and pauses them while the clients
# write, then checks convergence, durability, torn reads and duplicates.
#
#   scripts/faults.sh                  # 90 s, every fault once (CI)
#   scripts/faults.sh --duration 600   # the long run, every fault several times
#
# The run itself is root's (through sudo otherwise): it starts PostgreSQL as
# the postgres user through runuser, and RabbitMQ as rabbitmq. See
# docs/faults.md.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

install_packages postgresql rabbitmq-server

say "building nimbus-server, nimbus-proxy, nimbus and nimbus-faults"
cargo build --locked --bin nimbus-server --bin nimbus-proxy --bin nimbus --bin nimbus-faults

say "faults under load"
as_root "$CARGO_TARGET_DIR/debug/nimbus-faults" "$@"
