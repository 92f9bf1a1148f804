#!/usr/bin/env bash
# A real OpenStack Swift (PyPI swift 2.38.3) on loopback, for the optional
# real-Swift test of the opendal blob store and for reference benchmarks.
#
#   scripts/real-swift.sh up     install what is missing, start it, print the env
#   scripts/real-swift.sh env    print the export lines for the tests and benches
#   scripts/real-swift.sh down   stop everything `up` started (data stays)
#
# One replica, one device per ring, TempAuth (user test:tester, key testing),
# all servers on 127.0.0.1. The recipe and its traps are in
# shared/reference/swift-api.md §15.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

venv=${NIMBUS_SWIFT_VENV:-$HOME/.cache/nimbus/swift-venv}
saio=${NIMBUS_SAIO_DIR:-$HOME/.cache/nimbus/saio}
etc=$saio/etc
# Devices on tmpfs: Swift keeps object metadata in xattrs, and on ext4 a large
# setxattr fails with ENOSPC, which error-limits the only node for 60 s.
devices=${NIMBUS_SAIO_DEVICES:-/dev/shm/nimbus-saio/node}
proxy_port=${NIMBUS_SWIFT_PORT:-8091} # nimbus-proxy listens on 8080 by default
declare -A server_port=([object]=6200 [container]=6201 [account]=6202)
# Our own memcached on a port of its own, so that a system memcached on 11211
# is neither needed nor disturbed.
memcached_port=${NIMBUS_SWIFT_MEMCACHED_PORT:-11212}
swift_user=test:tester swift_key=testing
run_as=$(id -un)

auth_url="http://127.0.0.1:$proxy_port/auth/v1.0"

print_env() {
    cat <<ENV
export NIMBUS_TEST_SWIFT_AUTH_URL=$auth_url
export NIMBUS_TEST_SWIFT_USER=$swift_user
export NIMBUS_TEST_SWIFT_KEY=$swift_key
export NIMBUS_BENCH_SWIFT_AUTH_URL=$auth_url
export NIMBUS_BENCH_SWIFT_USER=$swift_user
export NIMBUS_BENCH_SWIFT_KEY=$swift_key
ENV
}

# ---- installation -----------------------------------------------------------

ensure_venv() {
    if [ ! -x "$venv/bin/swift-proxy-server" ] || [ ! -x "$venv/bin/swift-bench" ]; then
        say "installing Swift 2.38.3, python-swiftclient and swift-bench into $venv"
        if [ ! -x "$venv/bin/python" ]; then
            python3 -m venv "$venv" 2>/dev/null || { install_packages python3-venv; python3 -m venv "$venv"; }
        fi
        "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
            swift==2.38.3 python-swiftclient swift-bench
    fi
}

# ---- configuration ----------------------------------------------------------

# swift.conf is read twice, from two places: the storage policies at import
# time from the fixed /etc/swift/swift.conf (swift/common/storage_policy.py;
# when absent, one default policy "Policy-0"), and the hash path prefix and
# suffix from swift_dir/swift.conf once a server has read its config
# (set_swift_dir). Both get the same text; /etc/swift is never overwritten.
swift_conf=/etc/swift/swift.conf
swift_conf_text() {
    cat <<'CONF'
[swift-hash]
swift_hash_path_suffix = saio-suffix
swift_hash_path_prefix = saio-prefix

[storage-policy:0]
name = gold
default = yes
CONF
}

write_swift_conf() {
    if [ ! -e "$swift_conf" ]; then
        as_root mkdir -p "$(dirname "$swift_conf")"
        swift_conf_text | as_root tee "$swift_conf" >/dev/null
        say "wrote $swift_conf (Swift reads its storage policies only from there)"
    elif swift_conf_text | cmp -s - "$swift_conf"; then
        say "$swift_conf is already ours"
    else
        # Someone else's Swift configuration: never overwrite it. It works
        # with our rings as long as its only policy is 0.
        say "$swift_conf exists and differs from ours; leaving it alone, Swift takes its storage policies from it:"
        swift_conf_text | diff - "$swift_conf" >&2 || true
    fi
}

write_configs() {
    mkdir -p "$etc" "$saio/log" "$saio/run"
    swift_conf_text | write_if_changed "$etc/swift.conf"
    write_if_changed "$etc/proxy-server.conf" <<CONF
[DEFAULT]
user = $run_as
bind_ip = 127.0.0.1
bind_port = $proxy_port
workers = 1
swift_dir = $etc

[pipeline:main]
pipeline = catch_errors gatekeeper healthcheck proxy-logging cache listing_formats bulk tempurl tempauth staticweb copy container-quotas account-quotas slo dlo versioned_writes symlink proxy-logging proxy-server

[filter:catch_errors]
use = egg:swift#catch_errors
[filter:gatekeeper]
use = egg:swift#gatekeeper
[filter:healthcheck]
use = egg:swift#healthcheck
[filter:proxy-logging]
use = egg:swift#proxy_logging
[filter:cache]
use = egg:swift#memcache
memcache_servers = 127.0.0.1:$memcached_port
[filter:listing_formats]
use = egg:swift#listing_formats
[filter:bulk]
use = egg:swift#bulk
[filter:tempurl]
use = egg:swift#tempurl
[filter:tempauth]
use = egg:swift#tempauth
user_admin_admin = admin .admin .reseller_admin
user_test_tester = testing .admin
user_test_tester3 = testing3
user_test2_tester2 = testing2 .admin
[filter:staticweb]
use = egg:swift#staticweb
[filter:copy]
use = egg:swift#copy
[filter:container-quotas]
use = egg:swift#container_quotas
[filter:account-quotas]
use = egg:swift#account_quotas
[filter:slo]
use = egg:swift#slo
[filter:dlo]
use = egg:swift#dlo
[filter:versioned_writes]
use = egg:swift#versioned_writes
allow_versioned_writes = true
allow_object_versioning = true
[filter:symlink]
use = egg:swift#symlink

[app:proxy-server]
use = egg:swift#proxy
allow_account_management = true
account_autocreate = true
CONF
    local kind
    for kind in object container account; do
        write_if_changed "$etc/$kind-server.conf" <<CONF
[DEFAULT]
user = $run_as
bind_ip = 127.0.0.1
bind_port = ${server_port[$kind]}
workers = 1
devices = $devices
mount_check = false
disable_fallocate = true
swift_dir = $etc

[pipeline:main]
pipeline = $kind-server

[app:$kind-server]
use = egg:swift#$kind

[$kind-replicator]
[$kind-auditor]
[$kind-updater]
CONF
    done
}

# One replica, one device per ring: a single node is all the tests need.
build_rings() {
    local kind
    for kind in object container account; do
        [ -f "$etc/$kind.ring.gz" ] && continue
        say "building the $kind ring"
        (
            cd "$etc"
            rm -f "$kind.builder"
            "$venv/bin/swift-ring-builder" "$kind.builder" create 10 1 1 >/dev/null
            "$venv/bin/swift-ring-builder" "$kind.builder" add "r1z1-127.0.0.1:${server_port[$kind]}/d1" 1 >/dev/null
            "$venv/bin/swift-ring-builder" "$kind.builder" rebalance >/dev/null
        )
    done
    # tmpfs is emptied at boot while the rings stay: recreate the device.
    mkdir -p "$devices/d1"
}

# ---- processes --------------------------------------------------------------

running() { # running NAME: its pid file names a live process
    local pid_file=$saio/run/$1.pid
    [ -f "$pid_file" ] && kill -0 "$(cat "$pid_file")" 2>/dev/null
}

# start NAME PORT COMMAND...: start a background process unless it runs.
start() {
    local name=$1 port=$2; shift 2
    if running "$name"; then
        say "$name already running (pid $(cat "$saio/run/$name.pid"))"
        return 0
    fi
    if port_open 127.0.0.1 "$port"; then
        die "port $port is taken by another process; $name cannot start (see: ss -ltnp 'sport = :$port')"
    fi
    say "starting $name on 127.0.0.1:$port"
    nohup "$@" >>"$saio/log/$name.log" 2>&1 &
    echo $! >"$saio/run/$name.pid"
    # Wait for the port, but give up at once when the process dies (a config
    # error), showing why.
    for _ in $(seq 60); do
        port_open 127.0.0.1 "$port" && return 0
        if ! running "$name"; then
            tail -n 20 "$saio/log/$name.log" >&2
            die "$name exited; its log is $saio/log/$name.log"
        fi
        sleep 0.5
    done
    die "$name did not listen on port $port within 30 s; its log is $saio/log/$name.log"
}

stop() { # stop NAME: SIGTERM (a Swift server's main process takes its workers down too)
    local pid_file=$saio/run/$1.pid pid
    [ -f "$pid_file" ] || return 0
    pid=$(cat "$pid_file")
    if kill "$pid" 2>/dev/null; then
        for _ in $(seq 30); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
        kill -0 "$pid" 2>/dev/null && die "$1 (pid $pid) did not stop"
        say "stopped $1"
    fi
    rm -f "$pid_file"
}

auth_answers() {
    curl -fsS -o /dev/null -H "X-Auth-User: $swift_user" -H "X-Auth-Key: $swift_key" "$auth_url" 2>/dev/null
}

up() {
    install_packages memcached curl
    ensure_venv
    write_swift_conf
    write_configs
    build_rings
    start memcached "$memcached_port" memcached -u "$run_as" -l 127.0.0.1 -p "$memcached_port" -m 64
    # -v logs to the console, hence to the log file: containers have no
    # /dev/log, and Swift's syslog fallback (UDP to port 514) loses the lines.
    local kind
    for kind in account container object; do
        start "swift-$kind-server" "${server_port[$kind]}" "$venv/bin/swift-$kind-server" "$etc/$kind-server.conf" -v
    done
    start swift-proxy-server "$proxy_port" "$venv/bin/swift-proxy-server" "$etc/proxy-server.conf" -v
    wait_for 30 "Swift TempAuth at $auth_url" auth_answers
    say "Swift is up (logs in $saio/log, devices in $devices); export these:"
    print_env
}

down() {
    local name
    for name in swift-proxy-server swift-object-server swift-container-server swift-account-server memcached; do
        stop "$name"
    done
}

case ${1:-} in
    up) up ;;
    down) down ;;
    env) print_env ;;
    *) die "usage: $0 up|down|env" ;;
esac
