#!/bin/sh
# ozy-example-web: a tiny HTTP server standing in for a web application.
#
#   GET /             -> small page naming this instance (hostname, $OZY_INSTANCE)
#   GET /healthcheck  -> 200 "ok", or 500 "unhealthy" while /tmp/unhealthy exists
#   GET /env          -> the container's environment, one VAR=value per line
#
# busybox httpd can only run CGI under /cgi-bin/ (or for *.ext interpreter
# mappings), so it cannot serve exactly /healthcheck from a script.  Instead
# busybox `nc -ll` (persistent listen) accepts connections and runs
# /srv/http-handler for each one.
#
# This shell is PID 1: it traps SIGTERM so that `podman stop` returns at once
# instead of waiting for the timeout (PID 1 gets no default signal handlers).
port="${WEB_PORT:-3000}"
trap 'kill "$pid" 2>/dev/null; exit 0' TERM INT
read -r host < /proc/sys/kernel/hostname
echo "ozy-example-web: listening on :$port (hostname=$host instance=${OZY_INSTANCE:-})"
# busybox nc takes the number of -l flags as the listen() backlog: plain -ll
# (2) makes bursts of connections time out, so pass -l 128 times.
listen="-$(printf 'l%.0s' $(seq 128))"
nc "$listen" -p "$port" -e /srv/http-handler &
pid=$!
wait "$pid"
status=$?
echo "ozy-example-web: listener exited with status $status" >&2
exit "$status"
