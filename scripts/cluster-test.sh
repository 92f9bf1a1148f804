#!/usr/bin/env bash
# The cluster test: brings up a cluster of its own with scripts/cluster-up.sh
# (named "clustertest", every port 100 above the default cluster's, so the
# two can run side by side), runs three desktop clients, a Swift client and a
# REST client through its load balancer (nimbus-faults --attach) while the
# RabbitMQ node holding the request queue's leader, a metadata server and a
# proxy are each stopped and started again, the other metadata server and
# proxy are killed (SIGKILL) and started again, and another RabbitMQ node is
# paused (SIGSTOP) and resumed, checks that nothing acknowledged
# was lost and that the clients converged, and removes the cluster whatever
# happened. Extra arguments go to nimbus-faults (--down-for 20, ...).
# About 6 minutes; docs/operations.md, "Cluster".
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
export NIMBUS_CLUSTER_NAME=${NIMBUS_CLUSTER_NAME:-clustertest}
export NIMBUS_CLUSTER_PORT_OFFSET=${NIMBUS_CLUSTER_PORT_OFFSET:-100}
. scripts/cluster-lib.sh
# Info, not the suite's trace: two cores carry the whole cluster.
export RUST_LOG=info

say "building nimbus-server, nimbus-proxy, nimbus and nimbus-faults"
cargo build --locked --bin nimbus-server --bin nimbus-proxy --bin nimbus --bin nimbus-faults

# Whatever happens, the cluster goes. Its logs stay in the suite's log
# directory (scanned for secrets at the end of scripts/test.sh), or in a
# fresh one when the test failed outside the suite.
finish() {
    local status=$? kept=${NIMBUS_TEST_LOG_DIR:+$NIMBUS_TEST_LOG_DIR/cluster-test}
    if [ -d "$log_dir" ] && { [ -n "$kept" ] || [ "$status" -ne 0 ]; }; then
        kept=${kept:-$(mktemp -d /tmp/nimbus-cluster-test-XXXXXX)}
        mkdir -p "$kept"
        cp -r "$log_dir" "$kept/"
        say "the cluster's logs are in $kept/log"
    fi
    scripts/cluster-down.sh --purge
    exit "$status"
}
trap finish EXIT
# A cluster a killed run left behind.
scripts/cluster-down.sh --purge

scripts/cluster-up.sh
. "$cluster_dir/cluster.env"
leader=$(request_queue_leader) || die "no RabbitMQ node names a leader of the request queue"
# Paused: another node, which the restart of the first leaves holding the
# leader or a follower the new leader waits on.
paused=rabbitmq-$((${leader##*-} % 3 + 1))
say "the request queue's leader is on $leader: that node is stopped, $paused paused"
"$bin/nimbus-faults" --attach "$NIMBUS_CLUSTER_URL" \
    --restart "$leader" --restart server-1 --restart proxy-1 \
    --restart server-2:kill --restart proxy-2:kill --restart "$paused":pause "$@"
