"""`ports` and `expose`: target ports declared on the pod, published ones as TCP ingress."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from ozymandias.compose.findings import ComposeError, Findings

# The node's default --ingress-tcp-ports: a published port outside it would be refused.
DEFAULT_TCP_INGRESS_RANGE = (30000, 32767)

_SHORT = re.compile(
    r"(?:(?:(?P<ip>\[[^\]]*\]|[0-9.]+):)?(?P<published>\d+(?:-\d+)?)?:)?"
    r"(?P<target>\d+(?:-\d+)?)(?:/(?P<protocol>tcp|udp))?"
)


@dataclass
class Ports:
    declared: list[dict[str, Any]] = field(default_factory=list)
    tcp_ingress: list[dict[str, int]] = field(default_factory=list)


def convert_ports(
    service: str,
    config: dict[str, Any],
    findings: Findings,
    tcp_range: tuple[int, int] = DEFAULT_TCP_INGRESS_RANGE,
) -> Ports:
    ports = Ports()
    seen: set[tuple[int, str]] = set()

    def declare(target: int, protocol: str) -> None:
        if (target, protocol) not in seen:
            seen.add((target, protocol))
            ports.declared.append(
                {"cluster_port": target, "container_port": target, "protocol": protocol}
            )

    for index, entry in enumerate(config.get("ports", [])):
        where = f"service {service}, key ports[{index}]"
        for target, published, protocol in _port_entries(entry, where):
            declare(target, protocol)
            if published is None:
                continue
            if protocol != "tcp":
                findings.unsupported_key(
                    f"service {service}",
                    f"ports[{index}]",
                    f"a published {protocol} port, which the ingress can't forward: not published",
                )
            elif not tcp_range[0] <= published <= tcp_range[1]:
                findings.note(
                    f"service {service}: published port {published} is outside the TCP ingress"
                    f" range {tcp_range[0]}-{tcp_range[1]}: not published; HTTP reaches it"
                    " through the ingress by its job's name (<job>.localhost)"
                )
            else:
                ports.tcp_ingress.append({"port": published, "targetPort": target})
    for entry in config.get("expose", []):
        for target, _, protocol in _port_entries(entry, f"service {service}, key expose"):
            declare(target, protocol)
    return ports


def _port_entries(entry: Any, where: str) -> list[tuple[int, int | None, str]]:
    """(target, published or None, protocol) for one entry, ranges expanded."""
    if isinstance(entry, dict):
        if "target" not in entry:
            raise ComposeError(f"{where}: the long form needs a target port")
        target = int(entry["target"])
        published = entry.get("published")
        protocol = str(entry.get("protocol", "tcp"))
        if published is None or published == "":
            return [(target, None, protocol)]
        first, last = _range(str(published), where)
        if first != last:
            raise ComposeError(f"{where}: a published range needs a target range")
        return [(target, first, protocol)]
    match = _SHORT.fullmatch(str(entry).strip())
    if not match:
        raise ComposeError(f"{where}: {entry!r} is not a port like 8080:80, 80 or 53/udp")
    first, last = _range(match["target"], where)
    protocol = match["protocol"] or "tcp"
    if match["published"] is None:
        return [(port, None, protocol) for port in range(first, last + 1)]
    published_first, published_last = _range(match["published"], where)
    if published_last - published_first != last - first:
        raise ComposeError(f"{where}: {entry!r} maps ranges of different lengths")
    return [
        (first + offset, published_first + offset, protocol) for offset in range(last - first + 1)
    ]


def _range(text: str, where: str) -> tuple[int, int]:
    first, _, last = text.partition("-")
    low, high = int(first), int(last or first)
    if not 1 <= low <= high <= 65535:
        raise ComposeError(f"{where}: {text} is not a port or range of ports in 1-65535")
    return low, high
