#!/usr/bin/env bash
# Prepares a Debian 12 machine (as root) to build, test and run Ozymandias:
#
#   1. Debian packages: podman (with runc), etcd, busybox-static, haproxy, ...
#   2. a podman drop-in config that works without systemd / on cgroup v1
#   3. a virtualenv at ./.venv with `pip install -e '.[dev]'`
#   4. the example images (examples/images/build.sh; nothing is pulled)
#   5. a check that podman can run a container with a memory limit
#
# Idempotent: every step first checks whether it is already done, so a re-run
# on a set-up machine takes about a second and needs no network.
#
#   bash setup/setup.sh
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
START_NS=$(date +%s%N)

log() { printf 'setup: %s\n' "$*"; }
die() { printf 'setup: ERROR: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "run as root: podman is used rootful and packages come from apt"
[ -r /etc/debian_version ] || die "this script supports Debian 12 (bookworm) only"

# --- 1. Debian packages -------------------------------------------------------
PACKAGES=(
    podman runc conmon catatonit netavark aardvark-dns  # containers; catatonit: pod infra
    iptables iproute2 conntrack                          # pod networking
    etcd-server etcd-client                              # cluster state
    busybox-static                                       # example images' rootfs
    bind9-dnsutils                                       # dig, for DNS tests
    dnsmasq dnsperf                                      # bench/dns.py: the baseline and the load
    haproxy                                              # ingress
    e2fsprogs mount                                      # local volumes: mkfs.ext4, loop mounts
    wrk nginx-light                                      # bench/ingress.py: the load, a fast backend
    chromium chromium-driver fonts-dejavu-core           # the dashboard's browser tests (headless)
    docker-registry apache2-utils                        # registry tests: the registry, htpasswd -B
    python3 python3-venv make curl ca-certificates procps
)
# kubectl, for the Kubernetes API's tests (tests/support/kubectl.py): Debian's, unless
# one is on PATH already (a newer one, e.g. the Google Cloud SDK's, is kept).
command -v kubectl >/dev/null 2>&1 || PACKAGES+=(kubernetes-client)

# Prints the packages from PACKAGES that are not fully installed.
missing_packages() {
    local status
    status="$(dpkg-query -W -f='${Package} ${db:Status-Abbrev}\n' "${PACKAGES[@]}" 2>/dev/null || true)"
    local p
    for p in "${PACKAGES[@]}"; do
        if ! awk -v p="$p" '$1 == p && $2 == "ii" { found = 1 } END { exit !found }' <<<"$status"; then
            echo "$p"
        fi
    done
}

mapfile -t missing < <(missing_packages)
if [ ${#missing[@]} -eq 0 ]; then
    log "packages: ok (${#PACKAGES[@]} installed)"
else
    log "packages: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    # There is no init system to start services with, and the test suite runs
    # its own etcd instances: keep the packages' etcd/haproxy services from
    # being started (invoke-rc.d honours policy-rc.d; exit 101 = "forbidden").
    # Only add the policy file when there is none, and remove what we added.
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\n# added by ozymandias setup/setup.sh during apt-get install\nexit 101\n' \
            >/usr/sbin/policy-rc.d
        chmod 755 /usr/sbin/policy-rc.d
        trap 'rm -f /usr/sbin/policy-rc.d' EXIT
    fi
    apt_install() {
        apt-get install -y -q --no-install-recommends -o Dpkg::Use-Pty=0 "${missing[@]}"
    }
    # A fresh machine has no package lists; stale lists make installs fail
    # with 404s.  Either way: update, then (re)try.
    if ! compgen -G '/var/lib/apt/lists/*_Packages*' >/dev/null; then
        apt-get update -q
        apt_install
    elif ! apt_install; then
        log "packages: install failed, retrying after apt-get update"
        apt-get update -q
        apt_install
    fi
    if [ -f /usr/sbin/policy-rc.d ] && grep -q 'ozymandias setup' /usr/sbin/policy-rc.d; then
        rm -f /usr/sbin/policy-rc.d
        trap - EXIT
    fi
    mapfile -t missing < <(missing_packages)
    [ ${#missing[@]} -eq 0 ] || die "packages still missing after apt-get install: ${missing[*]}"
    log "packages: installed"
fi

# Package services are not started by us (see policy-rc.d above; a running
# dnsmasq would also hold port 53, which node daemons need), but say so
# if some etcd/haproxy runs anyway: it was started by someone else and is left
# alone; the test suite starts its own etcd instances on their own ports.
for daemon in etcd haproxy dnsmasq; do
    if pids="$(pgrep -x "$daemon")"; then
        log "note: a $daemon not started by this script is running (pid $(echo $pids)); leaving it alone"
    fi
done

# --- 2. podman configuration --------------------------------------------------
# - runc: crun fails on this cgroup v1 ("hybrid") kernel
# - explicit ulimits: podman's defaults (raising to the hard limits) fail
#   without CAP_SYS_RESOURCE
# - cgroupfs and the "file" events logger: there is no systemd
# - exit_command_delay: podman otherwise keeps each API exec session (and its
#   conmon) for 5 minutes, which delays removing the pod by seconds
PODMAN_DROPIN=/etc/containers/containers.conf.d/50-ozymandias.conf
PODMAN_CONF='[containers]
default_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
exit_command_delay = 1'
if [ -f "$PODMAN_DROPIN" ] && [ "$(cat "$PODMAN_DROPIN")" = "$PODMAN_CONF" ]; then
    log "podman config: ok ($PODMAN_DROPIN)"
else
    mkdir -p "$(dirname "$PODMAN_DROPIN")"
    printf '%s\n' "$PODMAN_CONF" >"$PODMAN_DROPIN"
    log "podman config: wrote $PODMAN_DROPIN"
fi

# --- 3. Python virtualenv -----------------------------------------------------
PYTHON="$(command -v python3)" || die "python3 not found on PATH"
"$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' ||
    die "$PYTHON is $("$PYTHON" -V 2>&1); Ozymandias needs Python >= 3.11"
VENV="$ROOT/.venv"
STAMP="$VENV/.installed-stamp"
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1 PIP_PROGRESS_BAR=off
if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c '' 2>/dev/null; then
    log "venv: creating $VENV with $PYTHON ($("$PYTHON" -V 2>&1))"
    rm -rf "$VENV"
    "$PYTHON" -m venv "$VENV" || die "python3 -m venv failed (is python3-venv installed for $PYTHON?)"
    "$VENV/bin/python" -m pip install -q --upgrade pip
fi
if [ ! -f "$STAMP" ] || [ pyproject.toml -nt "$STAMP" ]; then
    log "venv: pip install -e '.[dev]'"
    "$VENV/bin/python" -m pip install -q -e '.[dev]'
    touch "$STAMP"
    log "venv: installed"
else
    log "venv: ok ($VENV, up to date with pyproject.toml)"
fi

# --- 4. example images --------------------------------------------------------
bash "$ROOT/examples/images/build.sh" | sed 's/^/setup: /'

# --- 5. check -------------------------------------------------------------------
check_out="$(podman run --rm --network none --memory 64m localhost/ozy-example-tools \
    sh -c 'cat /sys/fs/cgroup/memory.max 2>/dev/null || cat /sys/fs/cgroup/memory/memory.limit_in_bytes' \
    2>&1)" || true
if [ "$check_out" != 67108864 ]; then
    printf '%s\n' "$check_out" >&2
    die "podman cannot run a container with a memory limit (expected 67108864, see output above); check 'podman info' and $PODMAN_DROPIN"
fi
log "check: podman runs containers with --memory: ok"
etcd --version >/dev/null 2>&1 || die "etcd --version failed"

elapsed_ms=$((($(date +%s%N) - START_NS) / 1000000))
log "done in $((elapsed_ms / 1000)).$(printf %03d $((elapsed_ms % 1000)))s"
