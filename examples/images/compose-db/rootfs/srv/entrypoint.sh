#!/bin/sh
# ozy-example-compose-db: stands in for a database on port 5432. Every connection
# gets one line naming this instance, which the compose-api image passes on, so
# an answer through web and api proves it reached the database.
trap 'kill "$pid" 2>/dev/null; exit 0' TERM INT
listen="-$(printf 'l%.0s' $(seq 64))"
nc "$listen" -p "${DB_PORT:-5432}" -e /srv/db-handler &
pid=$!
wait "$pid"
