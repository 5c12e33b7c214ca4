"""What a node's HAProxy really serves, read from its runtime socket (`show servers state`).

A test compares this with what etcd says, so it reads HAProxy itself rather
than the layout the node believes it sent: a runtime command lost or applied
to the wrong slot shows here.
"""

from __future__ import annotations

import re
import socket
from dataclasses import dataclass
from pathlib import Path

# A node's HAProxy files (src/ozymandias/node.py: its run dir, then "haproxy").
RUN_ROOT = Path("/run/ozymandias")
_RUNNING = "2"  # srv_op_state SRV_ST_RUNNING
# srv_admin_state flags that keep a server from traffic: maintenance (forced, inherited or
# for want of an address: SRV_ADMF_MAINT) and drain (SRV_ADMF_DRAIN). Not 0x04 (CMAINT):
# it only remembers that the config said `disabled`; `set server ... state ready` clears
# the forced maintenance that came with it and leaves that mark.
_KEPT_FROM_TRAFFIC = 0x23 | 0x18
_SOCKET = re.compile(r"stats-(\d+)\.sock")
_MAX_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class Server:
    """One server line of `show servers state`."""

    backend: str
    name: str
    address: str
    port: int
    op_state: str  # "2": running
    admin_state: int  # SRV_ADMF_* flags

    @property
    def serves(self) -> bool:
        return self.op_state == _RUNNING and not self.admin_state & _KEPT_FROM_TRAFFIC

    def __str__(self) -> str:
        return f"{self.name} {self.address}:{self.port} op {self.op_state} admin {self.admin_state}"


def stats_socket(node_name: str) -> Path:
    """The newest HAProxy generation's socket: each reload starts one with the next number."""
    found = [
        (int(match.group(1)), path)
        for path in (RUN_ROOT / node_name / "haproxy").glob("stats-*.sock")
        if (match := _SOCKET.fullmatch(path.name))
    ]
    if not found:
        raise OSError(f"no HAProxy stats socket for node {node_name}")
    return max(found)[1]


def ask(path: Path, command: str, timeout: float = 30.0) -> str:
    """One runtime API command's whole answer (HAProxy closes the connection after it)."""
    reply = bytearray()
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as connection:
        connection.settimeout(timeout)
        connection.connect(str(path))
        connection.sendall(command.encode() + b"\n")
        while chunk := connection.recv(1 << 20):
            reply += chunk
            if len(reply) > _MAX_BYTES:
                raise OSError(f"HAProxy's answer to {command!r} exceeds {_MAX_BYTES} bytes")
    return reply.decode()


def parse_servers_state(text: str) -> dict[str, list[Server]]:
    """Each backend's servers, in slot order."""
    lines = text.splitlines()
    if not lines or lines[0].strip() != "1":
        raise ValueError(f"not `show servers state` version 1: {text[:80]!r}")
    if len(lines) < 2 or not lines[1].startswith("# "):
        raise ValueError(f"no header line in `show servers state`: {text[:160]!r}")
    column = {name: index for index, name in enumerate(lines[1][2:].split())}
    backends: dict[str, list[Server]] = {}
    for line in lines[2:]:
        if not line.strip():
            continue
        fields = line.split()
        server = Server(
            backend=fields[column["be_name"]],
            name=fields[column["srv_name"]],
            address=fields[column["srv_addr"]],
            port=int(fields[column["srv_port"]]),
            op_state=fields[column["srv_op_state"]],
            admin_state=int(fields[column["srv_admin_state"]]),
        )
        backends.setdefault(server.backend, []).append(server)
    return backends


def serving(servers: list[Server]) -> set[tuple[str, int]]:
    """The (address, port) of the servers that take traffic: running, in neither
    maintenance nor drain; the empty slots the node keeps in maintenance are left out."""
    return {(server.address, server.port) for server in servers if server.serves}


def servers_state(node_name: str) -> dict[str, list[Server]]:
    """The servers of the node's running HAProxy, by backend."""
    return parse_servers_state(ask(stats_socket(node_name), "show servers state"))
