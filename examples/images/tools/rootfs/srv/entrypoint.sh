#!/bin/sh
# ozy-example-tools: a busybox toolbox (sh, sleep, wget, nc, nslookup, ...).
# Without a command it idles until stopped; give it a command to run that
# instead, e.g. `podman run --rm localhost/ozy-example-tools sh -c 'exit 1'`.
#
# This shell is PID 1: it traps SIGTERM so that `podman stop` returns at once.
trap 'kill "$pid" 2>/dev/null; exit 0' TERM INT
while :; do
    sleep 3600 &
    pid=$!
    wait "$pid"
done
