#!/bin/sh
# Scheduled PostgreSQL backups for the compose `backup` service:
# every BACKUP_EVERY_SECONDS a `pg_dump -Fc` into BACKUP_DIR, dumps older than BACKUP_KEEP_DAYS removed.
# The dumps contain the personal data encrypted only: the key (REGIEBOT_SECRET_KEY) is never here.
set -eu
dir="${BACKUP_DIR:-/backups}"
every="${BACKUP_EVERY_SECONDS:-86400}"
keep="${BACKUP_KEEP_DAYS:-14}"
umask 077
trap 'exit 0' TERM INT

backup_once() {
    stamp="$(date -u +%Y%m%dT%H%M%SZ)"
    target="$dir/regiebot-$stamp.dump"
    if pg_dump --format=custom --no-owner --file="$target.partial"; then
        mv "$target.partial" "$target"
        echo "backup: $target"
    else
        rm -f "$target.partial"
        echo "backup: pg_dump mislukt" >&2
    fi
    find "$dir" -name 'regiebot-*.dump' -type f -mtime "+$keep" -print -delete
}

mkdir -p "$dir"
while :; do
    backup_once
    sleep "$every" &
    wait $!
done
