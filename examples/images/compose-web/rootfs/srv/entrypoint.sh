#!/bin/sh
# ozy-example-compose-web: an HTTP server (busybox nc -ll, one /srv/http-handler per
# connection) for the compose example of issue #20 (see /srv/http-handler).
trap 'kill "$pid" 2>/dev/null; exit 0' TERM INT
listen="-$(printf 'l%.0s' $(seq 64))"
nc "$listen" -p "${PORT:-80}" -e /srv/http-handler &
pid=$!
wait "$pid"
