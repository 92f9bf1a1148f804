#!/usr/bin/env bash
# Stops the cluster of scripts/cluster-up.sh. Its databases, RabbitMQ nodes'
# data and Swift objects stay, so cluster-up.sh brings it back as it was.
#
#   scripts/cluster-down.sh            stop every member (and Swift, if cluster-up started it)
#   scripts/cluster-down.sh NAME...    stop only these (rabbitmq-2, server-1, proxy-1, haproxy)
#   scripts/cluster-down.sh --kill NAME...   SIGKILL them instead, as a crash would
#   scripts/cluster-down.sh --pause NAME...  SIGSTOP them (cluster-up.sh NAME sends SIGCONT)
#   scripts/cluster-down.sh --purge    stop everything and delete its databases,
#                                      Swift container and directory
#
# The machine's own RabbitMQ (5672) and PostgreSQL are never stopped.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
. scripts/cluster-lib.sh

stop() { # stop NAME
    if stop_member "$1"; then say "stopped $1"; fi
}

purge=
case ${1:-} in
    --purge) purge=1 ;;
    --kill | --pause)
        how=${1#--}
        shift
        for name in "$@"; do is_member "$name" || die "no member $name (members: ${members[*]})"; done
        for name in "$@"; do
            if "${how}_member" "$name"; then say "${how}: $name"; fi
        done
        exit 0
        ;;
    "") ;;
    *)
        for name in "$@"; do is_member "$name" || die "no member $name (members: ${members[*]})"; done
        for name in "$@"; do stop "$name"; done
        exit 0
        ;;
esac

[ -d "$cluster_dir" ] || { say "no cluster in $cluster_dir"; exit 0; }
for name in "${proxies[@]}" "${servers[@]}" haproxy; do stop "$name"; done
# Together: a quorum queue's members wait for each other while they stop.
for node in "${rabbit_nodes[@]}"; do stop "$node" & done
wait

if [ -n "$purge" ]; then
    say "deleting the databases $database and $proxy_database, the Swift container $container and $cluster_dir"
    as_postgres dropdb --if-exists "$database"
    as_postgres dropdb --if-exists "$proxy_database"
    eval "$(scripts/real-swift.sh env)"
    swift=${NIMBUS_SWIFT_VENV:-$HOME/.cache/nimbus/swift-venv}/bin/swift
    if [ -x "$swift" ] && curl -fsS -o /dev/null -H "X-Auth-User: $NIMBUS_TEST_SWIFT_USER" \
        -H "X-Auth-Key: $NIMBUS_TEST_SWIFT_KEY" "$NIMBUS_TEST_SWIFT_AUTH_URL" 2>/dev/null; then
        "$swift" -q -A "$NIMBUS_TEST_SWIFT_AUTH_URL" -U "$NIMBUS_TEST_SWIFT_USER" \
            -K "$NIMBUS_TEST_SWIFT_KEY" delete "$container" >/dev/null || say "could not delete all of $container"
    else
        say "Swift is not running: its container $container stays"
    fi
fi
if [ -f "$cluster_dir/started-swift" ]; then
    scripts/real-swift.sh down
    rm -f "$cluster_dir/started-swift"
fi
[ -z "$purge" ] || rm -rf "$cluster_dir"
