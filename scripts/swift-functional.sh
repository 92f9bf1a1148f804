#!/usr/bin/env bash
# OpenStack Swift's own functional suite (Swift 2.38.3: the seven core files
# and those of the TempURL, symlink and versioned_writes middleware) against a
# Nimbus proxy of its own, the conformance yardstick of docs/swift-compatibility.md.
#
#   scripts/swift-functional.sh [PYTEST_ARGS...]   Nimbus, the exceptions deselected (CI)
#                                                  (test files or ids among the arguments,
#                                                  test/functional/..., replace the list)
#   scripts/swift-functional.sh --all [ARGS...]    Nimbus, nothing deselected
#   scripts/swift-functional.sh --real [ARGS...]   the real Swift of scripts/real-swift.sh
#   scripts/swift-functional.sh --compare          both, every test, counts side by side
#   scripts/swift-functional.sh --serve            only start Nimbus with the suite's
#                                                  accounts, print the config, wait
#
# Files of the suite given first (test/functional/*.py) are run instead of
# all of them: scripts/swift-functional.sh test/functional/test_symlink.py
#
# The Nimbus run builds and starts a metadata server and a proxy on free ports,
# with their own databases and queue prefix, so a running dev deployment is
# not disturbed; everything is removed on exit. The suite's accounts are its
# own: its teardown deletes every container of account 1.
#
# The real-Swift run uses the TempAuth users of scripts/real-swift.sh (test,
# test2), whose containers the suite deletes; it is not part of CI.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

suite_version=2.38.3
cache=${NIMBUS_SWIFT_FUNCTIONAL_CACHE:-$HOME/.cache/nimbus/swift-functional}
known_failures=$PWD/scripts/swift-functional.known-failures
suite_files=(
    test/functional/tests.py
    test/functional/test_object.py
    test/functional/test_container.py
    test/functional/test_account.py
    test/functional/test_dlo.py
    test/functional/test_slo.py
    test/functional/test_protocol.py
    test/functional/test_tempurl.py
    test/functional/test_symlink.py
    test/functional/test_versioned_writes.py
)

# ---- the suite ----------------------------------------------------------------

# The tests live only in the sdist (the wheel has none); the venv gets the
# same Swift from wheels, which the suite imports.
ensure_suite() {
    mkdir -p "$cache"
    NIMBUS_VENV=$cache/venv ensure_python_clients "swift==$suite_version" python-swiftclient pytest
    local sdist=$cache/swift-$suite_version
    if [ ! -f "$sdist/test/functional/tests.py" ]; then
        say "downloading the Swift $suite_version sdist (its test/functional)"
        python -m pip download --quiet --disable-pip-version-check \
            --no-deps --no-binary :all: "swift==$suite_version" -d "$cache"
        tar -xzf "$cache/swift-$suite_version.tar.gz" -C "$cache"
    fi
    suite_dir=$sdist
}

# run_suite LABEL CONFIG_FILE PYTEST_ARGS...: runs the suite's files, prints
# pytest's closing line and keeps it in $closing_line.
run_suite() {
    local label=$1 config=$2; shift 2
    local log=$cache/$label.log status=0 files=("${suite_files[@]}") arg previous=
    # Test files or ids named among the arguments (not those deselected)
    # are what runs.
    for arg in "$@"; do
        if [[ $arg == test/functional/*.py* && $previous != --deselect ]]; then
            files=()
            break
        fi
        previous=$arg
    done
    say "Swift $suite_version functional suite against $label"
    (
        cd "$suite_dir"
        SWIFT_TEST_CONFIG_FILE=$config SWIFT_TEST_IN_PROCESS=0 \
            python -m pytest -p no:cacheprovider -o addopts="" -rfEs -q \
            "${files[@]}" "$@"
    ) >"$log" 2>&1 || status=$?
    # The summary of failures, then the closing line.
    sed -n '/short test summary info/,$p' "$log" | grep -Ev '^SKIPPED' || tail -n 5 "$log"
    closing_line=$(tail -n 1 "$log")
    echo "$label: $closing_line (the whole report: $log)"
    return "$status"
}

# write_config FILE AUTH_URI ACCOUNT USER PASSWORD ACCOUNT2 USER2 PASSWORD2 USER3 PASSWORD3
#              RESELLER_ACCOUNT RESELLER_USER RESELLER_PASSWORD
write_config() {
    cat >"$1" <<CONF
[func_test]
auth_uri = $2
account = $3
username = $4
password = $5
account2 = $6
username2 = $7
password2 = $8
username3 = $9
password3 = ${10}
account6 = ${11}
username6 = ${12}
password6 = ${13}
collate = C
insecure = no
CONF
}

# ---- Nimbus -------------------------------------------------------------------

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

pids=()
databases=()
cleanup() {
    local pid
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    local database
    for database in "${databases[@]}"; do
        (cd / && as_postgres dropdb --if-exists "$database") 2>/dev/null || true
    done
    [ -n "${work:-}" ] && rm -rf "$work"
}

# start_nimbus: a metadata server and a proxy of this run's own; sets $auth_uri.
start_nimbus() {
    # (From / so that the postgres user, which runs psql, may enter it.)
    (cd / && ensure_postgres)
    ensure_rabbitmq
    ensure_rabbitmq_client_user
    say "building nimbus-server and nimbus-proxy"
    cargo build --locked --quiet --bin nimbus-server --bin nimbus-proxy
    local bin=$CARGO_TARGET_DIR/debug run
    run=$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')
    # Names the stale-run cleanup of scripts/test.sh recognises.
    local server_db=nimbus_test_server_swiftfunc_$run proxy_db=nimbus_test_proxy_swiftfunc_$run
    databases=("$server_db" "$proxy_db")
    (cd / && ensure_database "$server_db")
    local port; port=$(free_port)
    auth_uri=http://127.0.0.1:$port/auth/v1.0
    mkdir -p "$work/objects"
    # Logs go to the suite's log directory when scripts/test.sh made one.
    local logs; logs=$(suite_log "swift-functional-$run." "$work/")

    export NIMBUS_DATABASE_URL NIMBUS_AMQP_URL NIMBUS_QUEUE_PREFIX NIMBUS_STORAGE_URL \
        NIMBUS_IDLE_QUEUE_EXPIRY_SECS
    NIMBUS_DATABASE_URL=$(database_url "$server_db")
    NIMBUS_AMQP_URL=${NIMBUS_TEST_AMQP_URL:-amqp://guest:guest@127.0.0.1:5672/%2f}
    NIMBUS_QUEUE_PREFIX=test-$run
    NIMBUS_STORAGE_URL=http://127.0.0.1:$port
    NIMBUS_IDLE_QUEUE_EXPIRY_SECS=60
    "$bin/nimbus-server" migrate 2>>"${logs}nimbus-server.log"
    "$bin/nimbus-server" serve >>"${logs}nimbus-server.log" 2>&1 &
    pids+=($!)

    NIMBUS_PROXY_LISTEN=127.0.0.1:$port \
    NIMBUS_PROXY_DATABASE_URL=$(database_url "$proxy_db") \
    NIMBUS_PROXY_AMQP_URL=$NIMBUS_AMQP_URL \
    NIMBUS_PROXY_PUBLIC_AMQP_URL=$(client_amqp_url) \
    NIMBUS_PROXY_QUEUE_PREFIX=$NIMBUS_QUEUE_PREFIX \
    NIMBUS_PROXY_STORAGE__SCHEME=fs \
    NIMBUS_PROXY_STORAGE__OPTIONS__ROOT=$work/objects \
        "$bin/nimbus-proxy" >>"${logs}nimbus-proxy.log" 2>&1 &
    pids+=($!)
    wait_for 60 "the suite's nimbus-proxy" port_open 127.0.0.1 "$port"

    # Swift's test accounts: two account administrators, a plain user of
    # account 1 (the suite's username3), and an administrator of the
    # installation (its reseller admin, username6, who sets account quotas).
    local password=functional-suite-password
    record_secret password "$password"
    add_user() { echo "$password" | "$bin/nimbus-server" user add "$@" --password-stdin >/dev/null; }
    add_user tester
    add_user tester2
    add_user tester3 --account tester --no-account-admin
    add_user reseller --admin
    write_config "$work/nimbus.conf" "$auth_uri" \
        tester tester "$password" tester2 tester2 "$password" tester3 "$password" \
        reseller reseller "$password"
}

run_nimbus() { # run_nimbus PYTEST_ARGS...
    start_nimbus
    run_suite nimbus "$work/nimbus.conf" "$@"
}

# Every known failure as a --deselect (comments and blank lines skipped).
deselect_args() {
    local id
    grep -Ev '^\s*(#|$)' "$known_failures" | while read -r id; do
        printf -- '--deselect\n%s\n' "$id"
    done
}

# ---- the real Swift -----------------------------------------------------------

run_real() { # run_real PYTEST_ARGS...
    scripts/real-swift.sh up >/dev/null
    local auth; auth=$(scripts/real-swift.sh env | sed -n 's/^export NIMBUS_TEST_SWIFT_AUTH_URL=//p')
    write_config "$work/real.conf" "$auth" test tester testing test2 tester2 testing2 tester3 testing3 \
        admin admin admin
    run_suite real-swift "$work/real.conf" "$@"
}

# ---- main ---------------------------------------------------------------------

work=$(mktemp -d)
trap cleanup EXIT
ensure_suite

# Leading file arguments replace the list of files (after a mode flag).
mode=()
case ${1:-} in --all | --real) mode=("$1"); shift ;; esac
if [[ ${1:-} == test/functional/*.py ]]; then
    suite_files=()
    while [[ ${1:-} == test/functional/*.py ]]; do suite_files+=("$1"); shift; done
fi
set -- "${mode[@]}" "$@"

case ${1:-} in
    --all) shift; run_nimbus "$@" ;;
    --real) shift; run_real "$@" ;;
    --serve)
        start_nimbus
        say "Nimbus is up; run the suite by hand with (Ctrl-C stops it):"
        echo "cd $suite_dir && SWIFT_TEST_CONFIG_FILE=$work/nimbus.conf SWIFT_TEST_IN_PROCESS=0 $cache/venv/bin/python -m pytest -p no:cacheprovider -o addopts= TEST_FILE"
        sleep infinity &
        pids+=($!)
        wait $!
        ;;
    --compare)
        status=0
        run_nimbus || status=$?
        nimbus_line=$closing_line
        run_real || status=$?
        printf '\n%-12s %s\n%-12s %s\n' nimbus "$nimbus_line" "real Swift" "$closing_line"
        exit "$status"
        ;;
    *)
        mapfile -t deselects < <(deselect_args)
        run_nimbus "${deselects[@]}" "$@"
        ;;
esac
