#!/bin/sh
# ozy-example-db: a stand-in for postgres.  Listens on TCP 5432 and echoes back
# whatever each client sends (busybox `nc -ll` forks a `cat` per connection),
# serving any number of connections until stopped.
#
# This shell is PID 1: it traps SIGTERM so that `podman stop` returns at once
# instead of waiting for the timeout (PID 1 gets no default signal handlers).
port="${DB_PORT:-5432}"
trap 'kill "$pid" 2>/dev/null; exit 0' TERM INT
echo "ozy-example-db: listening on :$port (user=${POSTGRES_USER:-} db=${POSTGRES_DB:-})"
# busybox nc takes the number of -l flags as the listen() backlog: plain -ll
# (2) makes bursts of connections time out, so pass -l 128 times.
listen="-$(printf 'l%.0s' $(seq 128))"
nc "$listen" -p "$port" -e /bin/cat &
pid=$!
wait "$pid"
status=$?
echo "ozy-example-db: listener exited with status $status" >&2
exit "$status"
