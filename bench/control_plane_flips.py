"""The flips phase of bench/control_plane.py: a steady trickle of health changes (issue #21).

The simulated nodes flip `rate` instance statuses a second between healthy
and unhealthy, each as its node would: one transaction putting the status
under the node's lease and putting (healthy) or deleting (unhealthy) the
instance's DNS records. Meanwhile the bench measures:

- the real node's CPU (its daemon process, from /proc);
- propagation: the probe job's one instance flipped again and again, each
  time from the write's acknowledgement to the node's DNS answer for the
  instance changing (a dnspython client polling its DNS port) and to its
  ingress routing changing (a client polling HAProxy with the job's Host
  header: the "pod" is this bench's own HTTP server, so 200 when routed,
  HAProxy's 503 when not);
- from the node's /metrics: HAProxy reloads and their duration, runtime
  updates and the runtime commands they sent, per flip.
"""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import dns.asyncquery
import dns.exception
import dns.message
import httpx
from tests.support.auth import bearer
from tests.support.nodes import NodeProcess
from tests.support.status_flips import FlipTarget, flip, flipper

from ozymandias.cluster.records import Health, instance_name
from ozymandias.dns.skydns_layout import DEFAULT_DOMAIN, pod_name
from ozymandias.store.etcd import Etcd

POLL = 0.002  # how often the probes ask the node
PROBE_DEADLINE = 10.0  # a change not seen by then counts as lost
PROBE_PAUSE = 0.2  # between two probes
METRICS = (
    "ozy_ingress_reload_duration_seconds_count",
    "ozy_ingress_reload_duration_seconds_sum",
    "ozy_ingress_runtime_updates_total",
    "ozy_ingress_runtime_commands_total",
)


@dataclass
class FlipFigures:
    seconds: float = 0.0
    flips: int = 0
    cpu_seconds: float = 0.0
    dns_ms: list[float] = field(default_factory=list)
    ingress_ms: list[float] = field(default_factory=list)
    lost: int = 0  # probes whose change was not seen within the deadline
    metrics: dict[str, float] = field(default_factory=dict)  # increase over the phase


def cpu_seconds(pid: int) -> float:
    """User and system CPU the process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def dns_has_answer(node: NodeProcess, name: str) -> bool | None:
    query = dns.message.make_query(name, "A")
    try:
        response = await dns.asyncquery.udp(query, "127.0.0.1", port=node.dns_port, timeout=1)
    except (OSError, dns.exception.Timeout):
        return None
    return any(len(rrset) for rrset in response.answer)


async def ingress_routes(client: httpx.AsyncClient) -> bool | None:
    try:
        response = await client.get("/")
    except httpx.TransportError:
        return None
    return response.status_code == 200


async def seen_after(started: float, probe: object, wanted: bool) -> float | None:
    """Milliseconds from `started` until the awaitable factory `probe` answers `wanted`."""
    assert callable(probe)
    deadline = started + PROBE_DEADLINE
    while time.perf_counter() < deadline:
        if await probe() == wanted:
            return (time.perf_counter() - started) * 1000
        await asyncio.sleep(POLL)
    return None


async def prober(
    etcd: Etcd,
    node: NodeProcess,
    target: FlipTarget,
    lease: int,
    until: float,
    figures: FlipFigures,
) -> None:
    """Flip the probe instance, wait for DNS and HAProxy to show it, pause, again."""
    loop = asyncio.get_running_loop()
    name = pod_name(instance_name(target.status.job, target.status.index), DEFAULT_DOMAIN)
    host = f"{target.status.job}.localhost"
    async with httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{node.ingress_port}", headers={"host": host}, timeout=2
    ) as client:
        while loop.time() < until:
            await flip(etcd, target, lease)
            started = time.perf_counter()
            wanted = target.status.health == Health.HEALTHY
            dns_ms, ingress_ms = await asyncio.gather(
                seen_after(started, lambda: dns_has_answer(node, name), wanted),
                seen_after(started, lambda: ingress_routes(client), wanted),
            )
            for value, into in ((dns_ms, figures.dns_ms), (ingress_ms, figures.ingress_ms)):
                if value is None:
                    figures.lost += 1
                else:
                    into.append(value)
            await asyncio.sleep(PROBE_PAUSE)


async def serve_probe_pod(port: int) -> asyncio.Server:
    """The probe job's "pod": answers any request with 200."""

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nprobe")
        await writer.drain()
        writer.close()

    return await asyncio.start_server(answer, "127.0.0.1", port)


def read_metrics(node: NodeProcess) -> dict[str, float]:
    text = httpx.get(f"{node.api}/metrics", headers=bearer(), timeout=30).text
    found = {}
    for line in text.splitlines():
        name, _, value = line.partition(" ")
        if name in METRICS:
            found[name] = float(value)
    return found


async def flip_phase(
    etcd_url: str,
    node: NodeProcess,
    targets: list[FlipTarget],
    lease: int,
    probe_port: int,
    rate: int,
    seconds: float,
) -> FlipFigures:
    """Run the flipper and the prober for `seconds`; the figures of that window."""
    figures = FlipFigures()
    probe = next(target for target in targets if target.status.pod_ip == "127.0.0.1")
    others = [target for target in targets if target is not probe]
    etcd = Etcd(etcd_url, timeout=60)
    server = await serve_probe_pod(probe_port)
    assert node.process is not None
    pid = node.process.pid
    try:
        before = await asyncio.to_thread(read_metrics, node)
        loop = asyncio.get_running_loop()
        until = loop.time() + seconds
        cpu, started = cpu_seconds(pid), time.perf_counter()
        figures.flips, _ = await asyncio.gather(
            flipper(etcd, others, lease, rate, until),
            prober(etcd, node, probe, lease, until, figures),
        )
        figures.cpu_seconds = cpu_seconds(pid) - cpu
        figures.seconds = time.perf_counter() - started
        after = await asyncio.to_thread(read_metrics, node)
        figures.metrics = {name: after.get(name, 0.0) - before.get(name, 0.0) for name in METRICS}
    finally:
        server.close()
        await etcd.close()
    return figures
