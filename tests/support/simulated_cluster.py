"""A whole cluster written straight into etcd, as its nodes would write it (issue #21).

Through the store, in the records the nodes write: simulated nodes under one
lease, jobs placed by the real scheduler (`plan_all_or_nothing`, committed by
`ClusterStore.commit`), an instance status for each (95% healthy) and the DNS
records of the healthy ones (`node_records`, as each node publishes them).
A probe job's one instance comes last, its "pod" at 127.0.0.1:`probe_port`, so
a bench can serve it and see whether HAProxy routes it.

bench/control_plane.py and bench/mirror_memory.py measure a real node on it;
tests/integration/test_control_plane_scale.py checks a real node follows it exactly.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, replace
from typing import Any

from ozymandias.cluster.records import (
    Health,
    InstanceState,
    InstanceStatus,
    JobRecord,
    Node,
    Resources,
)
from ozymandias.dns.skydns_layout import DEFAULT_DOMAIN, HealthyInstance, node_records
from ozymandias.scheduling import (
    ClusterView,
    Rejection,
    plan_all_or_nothing,
    request_from_spec,
)
from ozymandias.spec.loader import load_job
from ozymandias.spec.models import PortMapping
from ozymandias.store import keys
from ozymandias.store.cluster_store import ClusterStore
from ozymandias.store.etcd import Etcd, Put

GIB = 1024**3
LEASE_TTL = 24 * 3600  # the simulated nodes never refresh it
BATCH = 500  # puts per transaction
HEALTHY_SHARE = 0.95
PROBE_JOB = "cp-probe"
PROBE_IP = "127.0.0.1"


@dataclass(frozen=True)
class Scenario:
    nodes: int
    jobs: int
    per_job: int

    @property
    def instances(self) -> int:
        return self.jobs * self.per_job


@dataclass
class Cluster:
    """What the flips need of the cluster as written: its lease, every status, node addresses."""

    lease: int
    statuses: list[InstanceStatus]
    addresses: dict[str, str]
    ports: dict[str, tuple[PortMapping, ...]]
    healthy: int


def job_name_of(j: int) -> str:
    return f"cp-{j:05d}"


def sim_node(i: int) -> Node:
    address = f"192.0.{2 + i // 250}.{i % 250 + 1}"
    return Node(
        name=f"sim-{i:04d}",
        address=address,
        api_url=f"http://{address}:7070",
        capacity=Resources(memory=256 * GIB, disk=2048 * GIB),
        started_at=time.time(),
    )


def probe_spec(port: int) -> Any:
    """The job whose one instance the propagation probes flip: its "pod" is the bench's own
    HTTP server on 127.0.0.1, so HAProxy's answer for its host shows whether it routes it."""
    return load_job(
        f"name: {PROBE_JOB}\nnumInstances: 1\n"
        f"containers: {{app: {{image: x, memory: 64M, ports: ['{port}:{port}']}}}}\n"
    )


def job_spec(j: int, per_job: int) -> Any:
    return load_job(
        f"name: {job_name_of(j)}\nnumInstances: {per_job}\n"
        "containers: {app: {image: x, memory: 64M, ports: ['80:3000']}}\n"
    )


async def transact(etcd: Etcd, puts: list[Put]) -> None:
    for start in range(0, len(puts), BATCH):
        outcome = await etcd.transaction([], puts[start : start + BATCH])
        assert outcome.applied


async def write_cluster(
    url: str, scenario: Scenario, rng: random.Random, probe_port: int
) -> Cluster:
    """The cluster as its nodes would have written it, with the probe job last."""
    etcd = Etcd(url, timeout=60)
    store = ClusterStore(etcd)
    try:
        lease = await etcd.grant_lease(LEASE_TTL)
        nodes = [sim_node(i) for i in range(scenario.nodes)]
        await transact(etcd, [Put(keys.node(n.name), n.to_json(), lease=lease) for n in nodes])
        by_name = {node.name: node for node in nodes}
        inputs = await store.read_planning_inputs(job_name_of(0))
        view = ClusterView.from_records(inputs.nodes, inputs.allocated(), inputs.cordoned)
        statuses: list[Put] = []
        written: list[InstanceStatus] = []
        ports: dict[str, tuple[PortMapping, ...]] = {}
        healthy: dict[str, list[HealthyInstance]] = {}
        for j in range(scenario.jobs + 1):
            probe = j == scenario.jobs
            spec = probe_spec(probe_port) if probe else job_spec(j, scenario.per_job)
            basis = replace(inputs, job=None, job_revision=0, schedule=None, schedule_revision=0)
            result = plan_all_or_nothing(request_from_spec(spec), None, view, instance_states={})
            if isinstance(result, Rejection):
                raise RuntimeError(f"{spec.name}: {result.detail}")
            outcome = await store.commit(
                spec.name,
                basis,
                job=JobRecord(spec=spec, version=1, submitted_at=time.time()),
                schedule=result.schedule,
                allocation_changes=result.allocation_delta,
                nodes_that_must_exist=sorted(set(result.placed.values())),
            )
            assert outcome.won and outcome.revision, spec.name
            view.apply(result.allocation_delta)
            inputs.record_commit(result.allocation_delta, outcome.revision)
            ports[spec.name] = tuple(port for c in spec.containers.values() for port in c.ports)
            for index, node in result.placed.items():
                ok = probe or rng.random() < HEALTHY_SHARE
                ip = PROBE_IP if probe else f"10.{100 + j // 250}.{j % 250}.{index + 2}"
                status = InstanceStatus(
                    job=spec.name,
                    index=index,
                    node=node,
                    state=InstanceState.RUNNING,
                    health=Health.HEALTHY if ok else Health.UNHEALTHY,
                    pod_ip=ip,
                    spec_version=1,
                    updated_at=time.time(),
                )
                statuses.append(Put(keys.instance(spec.name, index), status.to_json(), lease=lease))
                written.append(status)
                if ok:
                    instance = HealthyInstance(spec.name, index, ip, ports[spec.name])
                    healthy.setdefault(node, []).append(instance)
        await transact(etcd, statuses)
        records = [
            Put(keys.skydns(record.name), record.to_json(), lease=lease)
            for node, instances in healthy.items()
            for record in node_records(
                DEFAULT_DOMAIN, node, by_name[node].address, instances, {}
            ).values()
        ]
        await transact(etcd, records)
        addresses = {node.name: node.address for node in nodes}
        count = sum(len(instances) for instances in healthy.values())
        return Cluster(lease, written, addresses, ports, count)
    finally:
        await etcd.close()
