# Shared by the scripts: install and start PostgreSQL and RabbitMQ when they
# are missing, and prepare the database role. Sourced, not run.
#
# Works on Debian and Ubuntu, with or without systemd (containers, CI), as
# root or as a user with sudo.

NIMBUS_DB_ROLE=${NIMBUS_DB_ROLE:-nimbus}
NIMBUS_DB_PASSWORD=${NIMBUS_DB_PASSWORD:-nimbus}
NIMBUS_PG_HOST=${NIMBUS_PG_HOST:-127.0.0.1}
NIMBUS_PG_PORT=${NIMBUS_PG_PORT:-5432}
# The RabbitMQ user the proxy hands to desktop clients (ensure_rabbitmq_client_user).
NIMBUS_AMQP_CLIENT_USER=${NIMBUS_AMQP_CLIENT_USER:-nimbus-client}
NIMBUS_AMQP_CLIENT_PASSWORD=${NIMBUS_AMQP_CLIENT_PASSWORD:-nimbus-client}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/nimbus/target}

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

as_postgres() {
    if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else sudo -u postgres "$@"; fi
}

has_systemd() { [ -d /run/systemd/system ]; }

port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

wait_for() { # wait_for SECONDS DESCRIPTION COMMAND...
    local seconds=$1 what=$2; shift 2
    for _ in $(seq "$seconds"); do
        "$@" && return 0
        sleep 1
    done
    die "$what did not come up within $seconds s"
}

apt_updated=
install_packages() {
    local missing=()
    for package in "$@"; do
        dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    command -v apt-get >/dev/null || die "install ${missing[*]} with your package manager, then run this again"
    say "installing ${missing[*]}"
    if [ -z "$apt_updated" ]; then as_root apt-get update -qq; apt_updated=1; fi
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

ensure_postgres() {
    if ! pg_isready -q -h "$NIMBUS_PG_HOST" -p "$NIMBUS_PG_PORT" 2>/dev/null; then
        install_packages postgresql
        say "starting PostgreSQL"
        if has_systemd; then
            as_root systemctl start postgresql
        else
            local version
            version=$(ls /etc/postgresql | sort -V | tail -n 1)
            as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start
        fi
        wait_for 60 PostgreSQL pg_isready -q -h "$NIMBUS_PG_HOST" -p "$NIMBUS_PG_PORT"
    fi
    # A login role for Nimbus that may create databases (the tests make one each).
    as_postgres psql -q -v ON_ERROR_STOP=1 -d postgres >/dev/null <<SQL
DO \$\$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$NIMBUS_DB_ROLE') THEN
    CREATE ROLE $NIMBUS_DB_ROLE LOGIN CREATEDB PASSWORD '$NIMBUS_DB_PASSWORD';
  END IF;
END \$\$;
SQL
}

# ensure_database NAME: create it, owned by the Nimbus role, if absent.
ensure_database() {
    if ! as_postgres psql -Atq -d postgres -c "SELECT 1 FROM pg_database WHERE datname = '$1'" | grep -q 1; then
        as_postgres createdb -O "$NIMBUS_DB_ROLE" "$1"
    fi
}

database_url() { # database_url NAME
    echo "postgres://$NIMBUS_DB_ROLE:$NIMBUS_DB_PASSWORD@$NIMBUS_PG_HOST:$NIMBUS_PG_PORT/$1"
}

ensure_rabbitmq() {
    port_open 127.0.0.1 5672 && return 0
    install_packages rabbitmq-server
    say "starting RabbitMQ"
    if has_systemd; then
        as_root systemctl start rabbitmq-server
    else
        as_root rabbitmq-server -detached
    fi
    wait_for 90 RabbitMQ port_open 127.0.0.1 5672
}

# The RabbitMQ user for desktop clients, on the default vhost. Every client
# learns its password, so it may only publish to `<prefix>.rpc`, get direct
# replies (which needs no permission) and declare and consume its own
# server-named queues (`amq.gen-…`). It may not bind them: a metadata server
# binds a device's queue to its user's workspaces (`subscribe`), since a
# client free to bind could bind to `#` and hear every workspace. It may not
# read, purge or delete `<prefix>.rpc.requests` or `<prefix>.rpc.dead`, name
# its own queues, or declare or delete exchanges.
# `[^.]+` matches every prefix (`nimbus`, and the tests' `test-<hex>` and
# `bench-<hex>`). Setting the password again keeps it in step with the variable.
ensure_rabbitmq_client_user() { # [CTL...]: rabbitmqctl of another node or cluster
    local user=$NIMBUS_AMQP_CLIENT_USER ctl=("$@")
    [ ${#ctl[@]} -gt 0 ] || ctl=(as_root rabbitmqctl)
    if "${ctl[@]}" -q list_users | awk '{print $1}' | grep -qxF "$user"; then
        "${ctl[@]}" -q change_password "$user" "$NIMBUS_AMQP_CLIENT_PASSWORD" >/dev/null
    else
        say "creating the RabbitMQ user $user for desktop clients"
        "${ctl[@]}" -q add_user "$user" "$NIMBUS_AMQP_CLIENT_PASSWORD" >/dev/null
    fi
    # Configure, write, read.
    "${ctl[@]}" -q set_permissions -p / "$user" \
        '^amq\.gen-.*$' '^[^.]+\.rpc$' '^amq\.gen-.*$' >/dev/null
    # Bounds what such a queue may cost the broker, whoever declared it: it
    # only ever holds push notifications, which are hints (a device catches
    # up from its cursor), so the oldest give way past 1,000, and a queue
    # unused for an hour goes (its device declares a new one when it is back).
    "${ctl[@]}" -q set_policy -p / --apply-to queues --priority 0 \
        nimbus-client-queues '^amq\.gen-' \
        '{"max-length":1000,"overflow":"drop-head","expires":3600000}' >/dev/null
}

client_amqp_url() { # [HOST:PORT], the shared broker's by default
    echo "amqp://$NIMBUS_AMQP_CLIENT_USER:$NIMBUS_AMQP_CLIENT_PASSWORD@${1:-127.0.0.1:5672}/%2f"
}

# write_if_changed FILE: stdin becomes FILE, touched only when it differs.
write_if_changed() {
    local tmp; tmp=$(mktemp)
    cat >"$tmp"
    if [ -f "$1" ] && cmp -s "$tmp" "$1"; then rm -f "$tmp"; else mv "$tmp" "$1"; fi
}

# start_process PID_FILE LOG_FILE COMMAND...: (re)start a background process,
# its pid in PID_FILE, its output appended to LOG_FILE.
start_process() {
    local pid_file=$1 log=$2; shift 2
    stop_process "$pid_file" || true
    nohup "$@" >>"$log" 2>&1 &
    echo $! >"$pid_file"
}

# stop_process PID_FILE: SIGTERM the process it names and wait (15 s) for it
# to end; false if it was not running. One that outlives the wait is a bug:
# it is SIGKILLed (so that nothing is left holding ports and databases) and
# the script fails.
stop_process() {
    [ -f "$1" ] || return 1
    local pid; pid=$(cat "$1")
    rm -f "$1"
    kill "$pid" 2>/dev/null || return 1
    for _ in $(seq 30); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.5; done
    kill -KILL "$pid" 2>/dev/null || true
    die "process $pid (of $1) did not stop within 15 s of SIGTERM; it was killed"
}

# A Python virtual environment for the test clients written in Python
# (python-swiftclient, requests-oauthlib), kept beside the cargo cache.
ensure_python_clients() {
    local venv=${NIMBUS_VENV:-$HOME/.cache/nimbus/venv}
    if [ ! -x "$venv/bin/python" ]; then
        python3 -m venv "$venv" 2>/dev/null || { install_packages python3-venv; python3 -m venv "$venv"; }
    fi
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "$@"
    export PATH="$venv/bin:$PATH"
}

# The test suite's log directory (NIMBUS_TEST_LOG_DIR, made by scripts/test.sh;
# see server/src/test_log.rs). suite_log NAME FALLBACK: where a process a
# test script starts writes its log, FALLBACK when there is no directory.
suite_log() {
    if [ -n "${NIMBUS_TEST_LOG_DIR:-}" ]; then echo "$NIMBUS_TEST_LOG_DIR/$1"; else echo "$2"; fi
}

# record_secret KIND VALUE: notes a secret a test script made or uses, for
# scripts/scan-secrets.sh.
record_secret() {
    [ -n "${NIMBUS_TEST_LOG_DIR:-}" ] && [ -n "$2" ] || return 0
    printf '%s\t%s\n' "$1" "$2" >>"$NIMBUS_TEST_LOG_DIR/secrets.tsv"
}
