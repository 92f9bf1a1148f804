#!/usr/bin/env bash
# A Nimbus cluster on this machine, from one command: three clustered
# RabbitMQ nodes (the request queue a quorum queue), two metadata servers,
# two proxies behind HAProxy on one address, objects in the real Swift of
# scripts/real-swift.sh, and databases of its own on the machine's
# PostgreSQL. The machine's own RabbitMQ (5672) and PostgreSQL are used as
# they are and never stopped.
#
#   scripts/cluster-up.sh              build, start whatever is not running, print the topology
#   scripts/cluster-up.sh NAME...      start only these members again (rabbitmq-2, server-1, proxy-1, haproxy)
#   scripts/cluster-down.sh            stop it (see there)
#
# Runs as root (or through sudo): the RabbitMQ nodes run as the rabbitmq
# user. See docs/operations.md, "Cluster".
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
. scripts/cluster-lib.sh

# ---- members ----------------------------------------------------------------

start_rabbit() { # start_rabbit NODE: start it in the background
    local dir=$cluster_dir/rabbitmq/$1
    mkdir -p "$dir/mnesia" "$dir/log"
    as_root chown -R rabbitmq: "$cluster_dir/rabbitmq"
    # In the background; nohup keeps it past the terminal of whoever started it.
    as_rabbitmq "$1" nohup /usr/lib/rabbitmq/bin/rabbitmq-server >>"$log_dir/$1.log" 2>&1 &
}

await_rabbit() { wait_for 120 "RabbitMQ node $1" rabbit_running "$1"; }

# A node started for the first time stands alone; it joins rabbitmq-1's
# cluster. A node that was a member rejoins by itself when it starts.
join_cluster() {
    local node=$1 first; first=$(rabbit_node rabbitmq-1)
    rabbit_ctl "$node" -q cluster_status | grep -qF "$first" && return 0
    say "joining $node to the cluster of rabbitmq-1"
    rabbit_ctl "$node" -q stop_app >/dev/null
    rabbit_ctl "$node" -q reset >/dev/null
    rabbit_ctl "$node" -q join_cluster "$first" >/dev/null
    rabbit_ctl "$node" -q start_app >/dev/null
}

http_ok() { curl -fsS -o /dev/null --max-time 2 "$1" 2>/dev/null; }

# The token of the Swift account the proxies store objects in. TempAuth's
# tokens last 24 h; a proxy started later gets the account's current one.
swift_login() {
    local headers
    headers=$(curl -fsS -D - -o /dev/null -H "X-Auth-User: $NIMBUS_TEST_SWIFT_USER" \
        -H "X-Auth-Key: $NIMBUS_TEST_SWIFT_KEY" "$NIMBUS_TEST_SWIFT_AUTH_URL" | tr -d '\r')
    swift_token=$(awk -F': ' 'tolower($1) == "x-auth-token" {print $2}' <<<"$headers")
    swift_storage_url=$(awk -F': ' 'tolower($1) == "x-storage-url" {print $2}' <<<"$headers")
    [ -n "$swift_token" ] && [ -n "$swift_storage_url" ] || die "Swift's TempAuth gave no token"
    record_secret swift-token "$swift_token"
}

start_server() {
    local name=$1
    start_process "$run_dir/$name.pid" "$log_dir/$name.log" env \
        NIMBUS_DATABASE_URL="$(database_url "$database")" \
        NIMBUS_AMQP_URL="$service_amqp_url" \
        NIMBUS_QUEUE_TYPE=quorum \
        NIMBUS_STORAGE_URL="$cluster_url" \
        NIMBUS_METRICS_LISTEN="127.0.0.1:${member_port[$name]}" \
        RUST_LOG="${RUST_LOG:-info}" \
        "$bin/nimbus-server" serve
    wait_for 60 "$name (/readyz)" http_ok "http://127.0.0.1:${member_port[$name]}/readyz"
}

start_proxy() {
    local name=$1
    [ -n "${swift_token:-}" ] || swift_login
    # OAuth signatures and X-Storage-Url use the address clients know:
    # HAProxy's.
    start_process "$run_dir/$name.pid" "$log_dir/$name.log" env \
        NIMBUS_PROXY_LISTEN="127.0.0.1:${member_port[$name]}" \
        NIMBUS_PROXY_PUBLIC_URL="$cluster_url" \
        NIMBUS_PROXY_DATABASE_URL="$(database_url "$proxy_database")" \
        NIMBUS_PROXY_AMQP_URL="$service_amqp_url" \
        NIMBUS_PROXY_PUBLIC_AMQP_URL="$(client_amqp_url "127.0.0.1:$amqp_port")" \
        NIMBUS_PROXY_STORAGE__SCHEME=swift \
        NIMBUS_PROXY_STORAGE__OPTIONS__ENDPOINT="$swift_storage_url" \
        NIMBUS_PROXY_STORAGE__OPTIONS__CONTAINER="$container" \
        NIMBUS_PROXY_STORAGE__OPTIONS__ROOT=/ \
        NIMBUS_PROXY_STORAGE__OPTIONS__TOKEN="$swift_token" \
        RUST_LOG="${RUST_LOG:-info}" \
        "$bin/nimbus-proxy"
    wait_for 60 "$name (/readyz)" http_ok "http://127.0.0.1:${member_port[$name]}/readyz"
}

write_haproxy_config() {
    local name
    {
        cat <<CFG
global
    maxconn 4096

defaults
    timeout connect 2s
    timeout client 60s
    timeout server 60s
    # A request that reached no proxy (connection refused: one is down)
    # goes to the other; one that reached a proxy is never sent twice.
    retries 3
    option redispatch
    default-server inter 1s fall 2 rise 2

frontend nimbus-http
    mode http
    bind 127.0.0.1:$http_port
    timeout http-keep-alive 10s
    default_backend nimbus-proxies

# A proxy is in rotation while its /readyz answers 200 (database, broker
# and object store reachable).
backend nimbus-proxies
    mode http
    balance roundrobin
    option httpchk GET /readyz
    http-check expect status 200
    retry-on conn-failure
CFG
        for name in "${proxies[@]}"; do
            echo "    server $name 127.0.0.1:${member_port[$name]} check"
        done
        cat <<CFG

# AMQP connections live long (heartbeats keep them busy); a node that stops
# closes its own, and their clients reconnect through here to another node.
frontend nimbus-amqp
    mode tcp
    bind 127.0.0.1:$amqp_port
    timeout client 3h
    default_backend rabbitmq-nodes

backend rabbitmq-nodes
    mode tcp
    balance leastconn
    timeout server 3h
CFG
        for name in "${rabbit_nodes[@]}"; do
            echo "    server $name 127.0.0.1:${member_port[$name]} check on-marked-down shutdown-sessions"
        done
        cat <<CFG

listen stats
    mode http
    bind 127.0.0.1:$stats_port
    stats enable
    stats uri /
    stats refresh 5s
CFG
    } | write_if_changed "$cluster_dir/haproxy.cfg"
}

start_haproxy() {
    start_process "$run_dir/haproxy.pid" "$log_dir/haproxy.log" haproxy -db -f "$cluster_dir/haproxy.cfg"
    wait_for 30 HAProxy port_open 127.0.0.1 "$http_port"
}

start_member() { # start_member NAME: start it unless it runs, and wait until it serves
    if member_paused "$1"; then
        say "resuming $1"
        as_root kill -CONT "$(member_pid "$1")"
        case $1 in
            rabbitmq-*) await_rabbit "$1" ;;
            haproxy) wait_for 30 HAProxy port_open 127.0.0.1 "$http_port" ;;
            *) wait_for 60 "$1 (/readyz)" http_ok "http://127.0.0.1:${member_port[$1]}/readyz" ;;
        esac
        return 0
    fi
    if member_running "$1"; then
        say "$1 already running"
        return 0
    fi
    say "starting $1"
    case $1 in
        rabbitmq-*) start_rabbit "$1"; await_rabbit "$1" ;;
        server-*) start_server "$1" ;;
        proxy-*) start_proxy "$1" ;;
        haproxy) start_haproxy ;;
    esac
}

# ---- the whole cluster -------------------------------------------------------

prepare() {
    mkdir -p "$log_dir" "$run_dir" "$rabbit_home" "$cluster_dir/rabbitmq"
    install_packages rabbitmq-server haproxy curl
    ensure_postgres
    ensure_database "$database"
    ensure_database "$proxy_database"
    # One cookie for the three nodes and their tools, readable by them only.
    if [ ! -f "$rabbit_home/.erlang.cookie" ]; then
        head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$rabbit_home/.erlang.cookie"
    fi
    chmod 400 "$rabbit_home/.erlang.cookie"
    printf 'cluster_partition_handling = pause_minority\n' >"$cluster_dir/rabbitmq/rabbitmq.conf"
    : >"$cluster_dir/rabbitmq/enabled_plugins"
    as_root chown -R rabbitmq: "$cluster_dir/rabbitmq"
    write_haproxy_config
}

start_swift() {
    eval "$(scripts/real-swift.sh env)"
    if curl -fsS -o /dev/null -H "X-Auth-User: $NIMBUS_TEST_SWIFT_USER" \
        -H "X-Auth-Key: $NIMBUS_TEST_SWIFT_KEY" "$NIMBUS_TEST_SWIFT_AUTH_URL" 2>/dev/null; then
        say "Swift already running ($NIMBUS_TEST_SWIFT_AUTH_URL); cluster-down.sh leaves it"
    else
        scripts/real-swift.sh up >/dev/null
        touch "$cluster_dir/started-swift"
    fi
    swift_login
    curl -fsS -o /dev/null -X PUT -H "X-Auth-Token: $swift_token" "$swift_storage_url/$container"
}

start_rabbit_cluster() {
    local node pending=()
    for node in "${rabbit_nodes[@]}"; do
        # All at once: a former member waits for the others at start.
        member_running "$node" || { say "starting $node"; start_rabbit "$node"; pending+=("$node"); }
    done
    for node in "${pending[@]}"; do await_rabbit "$node"; done
    join_cluster rabbitmq-2
    join_cluster rabbitmq-3
    ensure_rabbitmq_client_user rabbit_ctl rabbitmq-1
}

# What runs where, and the lines a shell needs to use the cluster.
write_env() {
    cat >"$cluster_dir/cluster.env" <<ENV
export NIMBUS_CLUSTER_NAME=$cluster_name NIMBUS_CLUSTER_PORT_OFFSET=$offset NIMBUS_CLUSTER_DIR=$cluster_dir
export NIMBUS_CLUSTER_URL=$cluster_url
export NIMBUS_DATABASE_URL=$(database_url "$database")
export NIMBUS_AMQP_URL=$service_amqp_url
export NIMBUS_QUEUE_TYPE=quorum
export NIMBUS_STORAGE_URL=$cluster_url
ENV
}

print_topology() {
    local node
    cat <<MSG

The Nimbus cluster "$cluster_name" is running (logs in $log_dir; stop it with scripts/cluster-down.sh).

  clients (HTTP: web UI, Swift API, REST API)  $cluster_url   HAProxy, over proxy-1 and proxy-2
  desktop clients' AMQP                         127.0.0.1:$amqp_port     HAProxy, over the three RabbitMQ nodes
  HAProxy statistics                            http://127.0.0.1:$stats_port/
  proxy-1, proxy-2                              127.0.0.1:${member_port[proxy-1]}, 127.0.0.1:${member_port[proxy-2]}
  server-1, server-2 (/readyz, /metrics)        127.0.0.1:${member_port[server-1]}, 127.0.0.1:${member_port[server-2]}
MSG
    for node in "${rabbit_nodes[@]}"; do
        printf '  %-45s 127.0.0.1:%s (distribution %s)\n' "$node: $(rabbit_node "$node")" \
            "${member_port[$node]}" "$(rabbit_dist_port "$node")"
    done
    cat <<MSG
  request queue nimbus.rpc.requests            quorum queue, leader on $(request_queue_leader || echo "?")
  PostgreSQL (the machine's)                    databases $database, $proxy_database
  Swift (scripts/real-swift.sh)                 container $container at $NIMBUS_TEST_SWIFT_AUTH_URL
  demo account                                  user "demo", password "demo-password"

Point a client at it:
  echo demo-password | $bin/nimbus login $cluster_url --user demo --password-stdin --device laptop
  $bin/nimbus sync ~/Nimbus
  swift -A $cluster_url/auth/v1.0 -U demo:demo -K demo-password stat
  open $cluster_url/ in a browser

Administer it (nimbus-server user --help, ...):
  . $cluster_dir/cluster.env; $bin/nimbus-server user list
  rabbitmqctl of a node: see rabbit_ctl in scripts/cluster-lib.sh
MSG
}

if [ $# -gt 0 ]; then
    for name in "$@"; do is_member "$name" || die "no member $name (members: ${members[*]})"; done
    eval "$(scripts/real-swift.sh env)"
    for name in "$@"; do start_member "$name"; done
    exit 0
fi

prepare
say "building (the first build takes a while)"
cargo build --locked --bin nimbus-server --bin nimbus-proxy --bin nimbus
start_swift
start_rabbit_cluster
start_member haproxy
write_env
say "migrating $database"
env NIMBUS_DATABASE_URL="$(database_url "$database")" "$bin/nimbus-server" migrate
for name in "${servers[@]}" "${proxies[@]}"; do start_member "$name"; done
(
    . "$cluster_dir/cluster.env"
    if ! "$bin/nimbus-server" user list | awk '{print $1}' | grep -qx demo; then
        echo "demo-password" | "$bin/nimbus-server" user add demo --email demo@example.org --password-stdin >/dev/null
    fi
)
print_topology
