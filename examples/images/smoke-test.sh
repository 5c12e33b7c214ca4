#!/usr/bin/env bash
# Checks the example images' behaviour (run examples/images/build.sh first).
# Containers run with --network none and are probed from inside with
# `podman exec`, so no network or route on the host is touched.
#
#   examples/images/smoke-test.sh
set -euo pipefail

prefix="ozy-smoke-$$"
failures=0
containers=()

cleanup() {
    if [ ${#containers[@]} -gt 0 ]; then
        podman rm --force --time 0 "${containers[@]}" >/dev/null 2>&1 || true
    fi
}
trap cleanup EXIT

pass() { echo "ok   $*"; }
fail() { echo "FAIL $*"; failures=$((failures + 1)); }

start() { # start NAME IMAGE [podman run args...] -- starts a detached container
    local name="$prefix-$1" image="$2"
    shift 2
    containers+=("$name")
    podman run -d --name "$name" --network none --memory 64m "$@" "localhost/ozy-example-$image:latest" >/dev/null
}

in_ctr() { podman exec "$prefix-$1" sh -c "$2" 2>&1; }

# Waits until `sh -c CHECK` succeeds inside the container (for up to ~5 s).
wait_for() {
    local i
    for i in $(seq 50); do
        in_ctr "$1" "$2" >/dev/null && return 0
        sleep 0.1
    done
    return 1
}

# Prints the seconds `podman stop -t 5` takes.
stop_seconds() {
    local t0 t1
    t0=$(date +%s%N)
    podman stop --time 5 "$prefix-$1" >/dev/null
    t1=$(date +%s%N)
    awk -v ns=$((t1 - t0)) 'BEGIN { printf "%.2f", ns / 1e9 }'
}

check_stop() { # check_stop NAME: stops promptly on SIGTERM, exit status 0
    local secs code
    secs=$(stop_seconds "$1")
    code=$(podman inspect --format '{{.State.ExitCode}}' "$prefix-$1")
    if awk -v s="$secs" 'BEGIN { exit !(s < 1.0) }' && [ "$code" = 0 ]; then
        pass "$1: podman stop -t 5 took ${secs}s, exit status $code"
    else
        fail "$1: podman stop -t 5 took ${secs}s (want < 1s), exit status $code (want 0)"
    fi
}

# --- web ----------------------------------------------------------------------
start web web -e OZY_INSTANCE=smoke-1 -e DATABASE_URL=postgresql://webapp:webapp@localhost/webapp
url=http://127.0.0.1:3000
if wait_for web "timeout 2 wget -q -O /dev/null $url/healthcheck"; then
    pass "web: /healthcheck answers 200"
else
    fail "web: /healthcheck does not answer 200"
fi
page=$(in_ctr web "timeout 5 wget -q -O- $url/")
host=$(in_ctr web "cat /proc/sys/kernel/hostname")
if grep -q "instance: <span id=\"instance\">smoke-1<" <<<"$page" && grep -q "$host" <<<"$page"; then
    pass "web: / names the instance (smoke-1) and hostname ($host)"
else
    fail "web: / does not name the instance and hostname: $page"
fi
body=$(in_ctr web "timeout 5 wget -q -O- $url/healthcheck")
[ "$body" = ok ] && pass "web: /healthcheck body is 'ok'" || fail "web: /healthcheck body: $body"
in_ctr web "touch /tmp/unhealthy"
status=$(in_ctr web "timeout 5 wget -S -q -O- $url/healthcheck 2>&1 | head -1" | tr -d '\r')
[[ "$status" == *"HTTP/1.1 500"* ]] && pass "web: /healthcheck answers 500 with /tmp/unhealthy" ||
    fail "web: /healthcheck with /tmp/unhealthy: $status"
in_ctr web "rm /tmp/unhealthy"
body=$(in_ctr web "timeout 5 wget -q -O- $url/healthcheck")
[ "$body" = ok ] && pass "web: /healthcheck back to 200 once the flag is gone" || fail "web: /healthcheck after recovery: $body"
env_page=$(in_ctr web "timeout 5 wget -q -O- $url/env")
grep -qx 'DATABASE_URL=postgresql://webapp:webapp@localhost/webapp' <<<"$env_page" &&
    pass "web: /env lists the environment" || fail "web: /env: $env_page"
status=$(in_ctr web "timeout 5 wget -S -q -O- $url/missing 2>&1 | head -1" | tr -d '\r')
[[ "$status" == *"HTTP/1.1 404"* ]] && pass "web: unknown paths answer 404" || fail "web: /missing: $status"
check_stop web

# --- db -----------------------------------------------------------------------
start db db -e POSTGRES_USER=webapp
if wait_for db "netstat -ltn | grep -q ':5432 '"; then
    pass "db: listening on 5432"
else
    fail "db: not listening on 5432"
fi
ok=1
for i in 1 2 3; do
    reply=$(in_ctr db "echo ping$i | timeout 5 nc 127.0.0.1 5432")
    [ "$reply" = "ping$i" ] || ok=0
done
[ $ok = 1 ] && pass "db: echoes on 3 successive connections" || fail "db: echo failed: $reply"
check_stop db

# --- tools --------------------------------------------------------------------
start tools tools
missing_tools=$(in_ctr tools 'for t in sh sleep wget nc nslookup ip ps timeout; do
    command -v $t >/dev/null || echo $t; done')
[ -z "$missing_tools" ] && pass "tools: has sh sleep wget nc nslookup ip ps timeout" ||
    fail "tools: missing $missing_tools"
set +e
podman run --rm --network none localhost/ozy-example-tools:latest sh -c 'exit 3' >/dev/null 2>&1
code=$?
set -e
[ $code = 3 ] && pass "tools: a command's exit status comes through (sh -c 'exit 3' -> 3)" ||
    fail "tools: sh -c 'exit 3' -> $code"
perms=$(in_ctr tools "stat -c %a /tmp; head -1 /etc/passwd; grep -c . /etc/group")
[ "$perms" = "$(printf '1777\nroot:x:0:0:root:/root:/bin/sh\n4')" ] &&
    pass "tools: /tmp is 1777, /etc/passwd and /etc/group exist" || fail "tools: rootfs: $perms"
check_stop tools

if [ $failures -gt 0 ]; then
    echo "smoke-test: $failures check(s) failed"
    exit 1
fi
echo "smoke-test: all checks passed"
