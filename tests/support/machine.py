"""This machine, as the tests use it: commands, free ports, the pod range, mounts and loops."""

from __future__ import annotations

import contextlib
import os
import random
import re
import shutil
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CLUSTER_CIDR = "10.213.0.0/16"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def free_port_pair() -> int:
    """A free port whose next one is free too: `ozy up --etcd-port P` gives etcd P + 1."""
    for _ in range(100):
        port = free_port()
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
        return port
    raise RuntimeError("no two free ports in a row")


# The default TCP ingress port range (ozy node run --ingress-tcp-ports), like a NodePort range.
TCP_INGRESS_PORTS = (30000, 32767)


def free_tcp_ingress_port() -> int:
    """A port of the default TCP ingress range that nothing holds now (`free_port` gives
    ephemeral ones, above the range)."""
    for _ in range(100):
        port = random.randint(*TCP_INGRESS_PORTS)
        with socket.socket() as probe:
            try:
                probe.bind(("0.0.0.0", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {TCP_INGRESS_PORTS}")


def run(*command: str, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, check=check, timeout=timeout)


@contextlib.contextmanager
def blackholed(cidr: str) -> Iterator[None]:
    """Blackhole `cidr` in the root namespace for the duration (unless it already is)."""
    existing = run("ip", "route", "show", "type", "blackhole", cidr).stdout.strip()
    if not existing:
        run("ip", "route", "add", "blackhole", cidr)
    try:
        yield
    finally:
        if not existing:
            run("ip", "route", "del", "blackhole", cidr, check=False)


def require_tools() -> None:
    missing = [tool for tool in ("podman", "etcd", "etcdctl", "ip") if shutil.which(tool) is None]
    if missing or os.geteuid() != 0:
        raise RuntimeError(
            f"integration tests need root and {', '.join(missing) or 'the tools'}: "
            "run `make setup` first"
        )


# Mounts and loop devices (local volumes a killed node left behind)


def mounts() -> dict[str, str]:
    """Mountpoint -> file system type, from /proc/self/mountinfo."""
    mounts = {}
    with open("/proc/self/mountinfo", encoding="utf-8") as file:
        for line in file:
            before, _, after = line.partition(" - ")
            point = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m[1], 8)), before.split(" ")[4])
            mounts[point] = after.split(" ")[0]
    return mounts


def loop_backing_files() -> dict[str, str]:
    """Loop device -> backing file, from `losetup -a`."""
    out = subprocess.run(["losetup", "-a"], capture_output=True, text=True, check=True).stdout
    devices = {}
    for line in out.splitlines():
        match = re.match(r"(/dev/loop\d+): .*\((.*)\)$", line)
        if match:
            devices[match[1]] = match[2].removesuffix(" (deleted)")
    return devices


def loops_under(path: Path) -> list[str]:
    return [
        device
        for device, backing in loop_backing_files().items()
        if backing.startswith(str(path) + "/")
    ]


def mounted_under(path: Path) -> list[str]:
    return [point for point in mounts() if point.startswith(str(path) + "/")]


def unmount_everything_under(directory: Path) -> None:
    """Unmount and detach whatever is left under `directory`."""
    directory = directory.resolve()
    # Innermost first, so a stacked or nested mount never blocks its parent.
    for point in sorted(mounted_under(directory), reverse=True):
        subprocess.run(["umount", "--lazy", point], check=False)
    for device in loops_under(directory):
        subprocess.run(["losetup", "-d", device], check=False)
