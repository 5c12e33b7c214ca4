"""The range TCP ingress ports must lie in, like Kubernetes' NodePort range. Pure.

Every node opens a job's `ingress.tcp` ports on every address, so without a
range a job could take port 22, or the API's port, on the whole cluster.
The API refuses such a job at submit time (`ports_outside_range`); the
ingress controller also skips any that reached etcd anyway.
"""

from __future__ import annotations

from ozymandias.spec.loader import FieldProblem
from ozymandias.spec.models import JobSpec

PortRange = tuple[int, int]  # inclusive bounds

DEFAULT_TCP_PORT_RANGE: PortRange = (30000, 32767)


def describe(port_range: PortRange) -> str:
    low, high = port_range
    return f"{low}-{high}"


def in_range(port: int, port_range: PortRange) -> bool:
    low, high = port_range
    return low <= port <= high


def parse_port_range(text: str) -> PortRange:
    """`"30000-32767"` as a range; ValueError naming what is wrong otherwise."""
    low_text, dash, high_text = text.strip().partition("-")
    try:
        low, high = int(low_text), int(high_text)
    except ValueError:
        raise ValueError(f"{text!r} is not a port range like 30000-32767") from None
    if not dash or not 1 <= low <= high <= 65535:
        raise ValueError(
            f"{text!r} is not a port range like 30000-32767 (1 <= low <= high <= 65535)"
        )
    return (low, high)


def out_of_range_message(port: int, port_range: PortRange) -> str:
    return f"{port} is outside the TCP ingress port range {describe(port_range)}"


def ports_outside_range(spec: JobSpec, port_range: PortRange) -> list[FieldProblem]:
    """The job's `ingress.tcp` ports outside `port_range`, each named by its field."""
    if spec.ingress is None:
        return []
    return [
        FieldProblem(f"ingress.tcp.{index}.port", out_of_range_message(entry.port, port_range))
        for index, entry in enumerate(spec.ingress.tcp)
        if not in_range(entry.port, port_range)
    ]
