#!/usr/bin/env bash
# Restores a backup made by scripts/backup.sh (docs/operations.md, "Backup
# and restore") into empty databases and an empty object store. Stop every
# metadata server and proxy first; start them again afterwards.
#
#   scripts/restore.sh [--no-objects] DIR
#
# Reads the same variables as backup.sh (NIMBUS_DATABASE_URL,
# NIMBUS_PROXY_DATABASE_URL, NIMBUS_PROXY_STORAGE__OPTIONS__ROOT). A database
# that does not exist is created (the URL's role needs CREATEDB); one that
# exists must be empty, and so must the object store's root: a restore never
# overwrites data. Everything is checked before anything is changed. The
# restored tables belong to the URL's role (pg_restore --no-owner).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

objects=yes
if [ "${1:-}" = --no-objects ]; then
    objects=no
    shift
fi
[ $# -eq 1 ] || die "usage: scripts/restore.sh [--no-objects] DIR"
dir=${1%/}
[ -n "${NIMBUS_DATABASE_URL:-}" ] || die "set NIMBUS_DATABASE_URL to the metadata server's database URL"
[ -n "${NIMBUS_PROXY_DATABASE_URL:-}" ] || die "set NIMBUS_PROXY_DATABASE_URL to the proxy's database URL"
for dump in server.dump proxy.dump backup.txt; do
    [ -f "$dir/$dump" ] || die "$dir/$dump is missing: is $dir a complete backup made by scripts/backup.sh?"
done
root=
if [ "$objects" = yes ]; then
    grep -qx "objects yes" "$dir/backup.txt" \
        || die "$dir holds no objects (made with --no-objects); restore the store by its own means and pass --no-objects"
    root=${NIMBUS_PROXY_STORAGE__OPTIONS__ROOT:-}
    [ -n "$root" ] || die "set NIMBUS_PROXY_STORAGE__OPTIONS__ROOT to the fs object store's root, or pass --no-objects"
    if [ -e "$root" ] && [ -n "$(ls -A "$root")" ]; then
        die "the object store root $root is not empty; a restore goes into an empty store"
    fi
fi
pg_restore=${NIMBUS_PG_BIN:+$NIMBUS_PG_BIN/}pg_restore
psql=${NIMBUS_PG_BIN:+$NIMBUS_PG_BIN/}psql

# The database a URL names, and the URL of the same server's `postgres`
# database (to create it from).
database_of() {
    local base=${1%%\?*}
    printf '%s' "${base##*/}"
}
maintenance_url_of() {
    local base=${1%%\?*}
    printf '%s/postgres%s' "${base%/*}" "${1#"$base"}"
}

# Prints "missing", "empty" or "in use" for the database of URL $1.
database_state() {
    local url=$1 name
    name=$(database_of "$url")
    [[ $name =~ ^[A-Za-z0-9_]+$ ]] || die "unexpected database name '$name' in a database URL"
    local exists
    exists=$("$psql" "$(maintenance_url_of "$url")" -XtAc \
        "SELECT 1 FROM pg_database WHERE datname = '$name'") \
        || die "cannot reach PostgreSQL for database $name"
    if [ "$exists" != 1 ]; then
        echo missing
        return
    fi
    local relations
    relations=$("$psql" "$url" -XtAc "SELECT count(*) FROM pg_class c
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')
          AND n.nspname NOT LIKE 'pg_toast%'") \
        || die "cannot read database $name"
    if [ "$relations" = 0 ]; then echo empty; else echo "in use"; fi
}

declare -A state
for url in "$NIMBUS_DATABASE_URL" "$NIMBUS_PROXY_DATABASE_URL"; do
    state[$url]=$(database_state "$url")
    [ "${state[$url]}" != "in use" ] \
        || die "database $(database_of "$url") holds tables; a restore goes into an empty or missing database (drop it first)"
done

restore_database() { # restore_database URL DUMP
    local url=$1 dump=$2 name
    name=$(database_of "$url")
    if [ "${state[$url]}" = missing ]; then
        say "creating database $name"
        "$psql" "$(maintenance_url_of "$url")" -Xqc "CREATE DATABASE \"$name\""
    fi
    say "restoring database $name"
    "$pg_restore" --no-owner --no-privileges --exit-on-error --single-transaction \
        --dbname="$url" "$dump"
}
restore_database "$NIMBUS_DATABASE_URL" "$dir/server.dump"
restore_database "$NIMBUS_PROXY_DATABASE_URL" "$dir/proxy.dump"
if [ "$objects" = yes ]; then
    say "restoring the object store"
    mkdir -p "$root"
    rsync --archive "$dir/objects/" "$root/"
fi
say "restore complete; start the metadata servers and proxies"
