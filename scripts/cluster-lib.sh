# The one-machine cluster of scripts/cluster-up.sh and cluster-down.sh: its
# members, ports, directories and how each is started and stopped. Sourced
# after scripts/lib.sh, not run. docs/operations.md ("Cluster") shows the
# topology.
#
#   NIMBUS_CLUSTER_NAME         names the databases, RabbitMQ nodes, Swift
#                               container and directory (default "cluster")
#   NIMBUS_CLUSTER_PORT_OFFSET  added to every port below (default 0), so that
#                               a second cluster (the test's) can run beside
#   NIMBUS_CLUSTER_DIR          state, logs (default .nimbus/<name>)

cluster_name=${NIMBUS_CLUSTER_NAME:-cluster}
[[ $cluster_name =~ ^[a-z][a-z0-9]*$ ]] || die "NIMBUS_CLUSTER_NAME must be lower-case letters and digits"
offset=${NIMBUS_CLUSTER_PORT_OFFSET:-0}
cluster_dir=${NIMBUS_CLUSTER_DIR:-$PWD/.nimbus/$cluster_name}
log_dir=$cluster_dir/log
run_dir=$cluster_dir/run
bin=$CARGO_TARGET_DIR/debug

http_port=$((8180 + offset))       # HAProxy: the address clients use
stats_port=$((8181 + offset))      # HAProxy's statistics page
amqp_port=$((5770 + offset))       # HAProxy: AMQP, spread over the nodes
declare -A member_port=(
    [proxy-1]=$((8182 + offset)) [proxy-2]=$((8183 + offset))
    [server-1]=$((8184 + offset)) [server-2]=$((8185 + offset)) # /readyz, /metrics
    [rabbitmq-1]=$((5771 + offset)) [rabbitmq-2]=$((5772 + offset)) [rabbitmq-3]=$((5773 + offset))
)
rabbit_nodes=(rabbitmq-1 rabbitmq-2 rabbitmq-3)
servers=(server-1 server-2)
proxies=(proxy-1 proxy-2)
members=(haproxy "${rabbit_nodes[@]}" "${servers[@]}" "${proxies[@]}")

database=nimbus_$cluster_name
proxy_database=nimbus_${cluster_name}_proxy
container=nimbus-$cluster_name
cluster_url=http://127.0.0.1:$http_port
# The metadata servers and proxies connect as guest, which RabbitMQ admits
# from loopback only: HAProxy connects to the nodes from 127.0.0.1.
service_amqp_url=amqp://guest:guest@127.0.0.1:$amqp_port/%2f

is_member() { # is_member NAME
    local member
    for member in "${members[@]}"; do [ "$member" = "$1" ] && return 0; done
    return 1
}

# ---- RabbitMQ ---------------------------------------------------------------

rabbit_home=$cluster_dir/rabbitmq/home # holds the cluster's Erlang cookie
rabbit_node() { echo "nimbus-$cluster_name-${1#rabbitmq-}@localhost"; }
# The distribution port; the command-line tools use the ten above it + 10000,
# clear of the shared broker's (25672, tools 35672 and up).
rabbit_dist_port() { echo $((25771 + offset + ${1#rabbitmq-} - 1)); }

# rabbit_env NODE: the environment a node and its tools run in. The node runs
# as the rabbitmq user (as the package's does) with a HOME of the cluster's,
# so the three share a cookie that is not the machine broker's.
rabbit_env() {
    local dir=$cluster_dir/rabbitmq/$1
    echo "HOME=$rabbit_home"
    echo "RABBITMQ_NODENAME=$(rabbit_node "$1")"
    echo "RABBITMQ_NODE_IP_ADDRESS=127.0.0.1"
    echo "RABBITMQ_NODE_PORT=${member_port[$1]}"
    echo "RABBITMQ_DIST_PORT=$(rabbit_dist_port "$1")"
    echo "RABBITMQ_MNESIA_BASE=$dir/mnesia"
    echo "RABBITMQ_LOG_BASE=$dir/log"
    echo "RABBITMQ_PID_FILE=$dir/pid"
    # The machine's configuration names port 5672; no plugins, so no
    # management listener on 15672 either.
    echo "RABBITMQ_CONFIG_FILE=$cluster_dir/rabbitmq/rabbitmq.conf"
    echo "RABBITMQ_ENABLED_PLUGINS_FILE=$cluster_dir/rabbitmq/enabled_plugins"
}

as_rabbitmq() { # as_rabbitmq NODE COMMAND...
    local node=$1; shift
    local env; mapfile -t env < <(rabbit_env "$node")
    as_root runuser -u rabbitmq -- env "${env[@]}" "$@"
}

rabbit_ctl() { # rabbit_ctl NODE ARGS...: rabbitmqctl of that node
    local node=$1; shift
    as_rabbitmq "$node" /usr/lib/rabbitmq/bin/rabbitmqctl -n "$(rabbit_node "$node")" "$@"
}

rabbit_running() { rabbit_ctl "$1" -q await_startup --timeout 5 >/dev/null 2>&1; }

# The node (rabbitmq-N) where the request queue's leader is.
request_queue_leader() {
    local node leader
    for node in "${rabbit_nodes[@]}"; do
        leader=$(rabbit_ctl "$node" -q list_queues name leader 2>/dev/null \
            | awk '$1 == "nimbus.rpc.requests" {print $2}') || continue
        [ -n "$leader" ] || continue
        leader=${leader%@localhost}
        echo "rabbitmq-${leader##*-}"
        return 0
    done
    return 1
}

# ---- PIDs -------------------------------------------------------------------

member_running() { # member_running NAME
    case $1 in
        rabbitmq-*) rabbit_running "$1" ;;
        *) [ -f "$run_dir/$1.pid" ] && kill -0 "$(cat "$run_dir/$1.pid")" 2>/dev/null ;;
    esac
}

member_pid() { # member_pid NAME: the PID recorded for the member's process, if any
    case $1 in
        rabbitmq-*) cat "$cluster_dir/rabbitmq/$1/pid" 2>/dev/null ;;
        *) cat "$run_dir/$1.pid" 2>/dev/null ;;
    esac
}

member_paused() { # member_paused NAME: its process is stopped by SIGSTOP
    local pid; pid=$(member_pid "$1") || return 1
    [ -n "$pid" ] && [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" = T ]
}

kill_member() { # kill_member NAME: SIGKILL, as a crash would; false if it was not running
    local pid; pid=$(member_pid "$1") || return 1
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
    as_root kill -KILL "$pid"
    for _ in $(seq 30); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    ! kill -0 "$pid" 2>/dev/null || die "process $pid ($1) outlived SIGKILL"
    case $1 in rabbitmq-*) ;; *) rm -f "$run_dir/$1.pid" ;; esac
}

pause_member() { # pause_member NAME: SIGSTOP (cluster-up.sh NAME resumes it); false if not running
    local pid; pid=$(member_pid "$1") || return 1
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
    as_root kill -STOP "$pid"
}

stop_member() { # stop_member NAME: a clean stop; false if it was not running
    case $1 in
        rabbitmq-*)
            rabbit_running "$1" || return 1
            # Waits until the node's process has ended.
            rabbit_ctl "$1" -q stop "$cluster_dir/rabbitmq/$1/pid" >/dev/null
            ;;
        *) stop_process "$run_dir/$1.pid" ;;
    esac
}
