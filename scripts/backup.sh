#!/usr/bin/env bash
# Backs up a Nimbus deployment while it runs (docs/operations.md, "Backup and
# restore"): the metadata server's database, then the proxy's database, then
# the object store's directory (the `fs` backend). That order makes the copy
# consistent: whatever a database dump references was written before it, and
# the later copies still hold it.
#
#   scripts/backup.sh [--no-objects] DIR
#
# Reads the deployment's own variables:
#   NIMBUS_DATABASE_URL                  the metadata server's database
#   NIMBUS_PROXY_DATABASE_URL            the proxy's database
#   NIMBUS_PROXY_STORAGE__OPTIONS__ROOT  the `fs` object store's root
# --no-objects leaves the objects out, for Swift or S3 stores, which are
# backed up by their own means (see the docs).
#
# Writes DIR/server.dump and DIR/proxy.dump (pg_dump's custom format),
# DIR/objects/ and DIR/backup.txt, into DIR.partial first: DIR appears only
# once the backup is complete. NIMBUS_PG_BIN names the directory of pg_dump
# (default: the one on PATH); it must be at least the server's version.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

objects=yes
if [ "${1:-}" = --no-objects ]; then
    objects=no
    shift
fi
[ $# -eq 1 ] || die "usage: scripts/backup.sh [--no-objects] DIR"
dir=${1%/}
[ -n "${NIMBUS_DATABASE_URL:-}" ] || die "set NIMBUS_DATABASE_URL to the metadata server's database URL"
[ -n "${NIMBUS_PROXY_DATABASE_URL:-}" ] || die "set NIMBUS_PROXY_DATABASE_URL to the proxy's database URL"
root=
if [ "$objects" = yes ]; then
    root=${NIMBUS_PROXY_STORAGE__OPTIONS__ROOT:-}
    [ -n "$root" ] || die "set NIMBUS_PROXY_STORAGE__OPTIONS__ROOT to the fs object store's root, or pass --no-objects for a Swift or S3 store"
    [ -d "$root" ] || die "the object store root $root is not a directory"
fi
[ ! -e "$dir" ] || die "$dir exists; back up into a new directory"
partial="$dir.partial"
[ ! -e "$partial" ] || die "$partial exists (an interrupted backup?); remove it first"
pg_dump=${NIMBUS_PG_BIN:+$NIMBUS_PG_BIN/}pg_dump

mkdir -p "$partial"
started=$(date -u +%Y-%m-%dT%H:%M:%SZ)
# 1. The metadata first: every chunk a version it holds names was stored,
# and indexed by the proxy, before the commit that made the version.
say "dumping the metadata server's database"
"$pg_dump" --format=custom --file="$partial/server.dump" "$NIMBUS_DATABASE_URL"
# 2. The proxy's index second: every object it names was written to the
# store before its row was committed.
say "dumping the proxy's database"
"$pg_dump" --format=custom --file="$partial/proxy.dump" "$NIMBUS_PROXY_DATABASE_URL"
# 3. The bytes last. Blobs appear complete under their final names (written
# in tmp/ and renamed), so tmp/ is left out; a blob deleted while rsync runs
# makes it report "vanished" files (exit code 24), which is expected.
if [ "$objects" = yes ]; then
    say "copying the object store"
    status=0
    rsync --archive --exclude=/tmp/ "$root/" "$partial/objects/" || status=$?
    [ "$status" -eq 0 ] || [ "$status" -eq 24 ] || die "copying $root failed (rsync exit code $status)"
fi
{
    echo "started $started"
    echo "finished $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "objects $objects"
    echo "pg_dump $("$pg_dump" --version)"
} >"$partial/backup.txt"
mv "$partial" "$dir"
say "backup complete in $dir"
