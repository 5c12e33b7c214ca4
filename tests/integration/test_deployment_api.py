"""The deployment API and CLI on a live node, over deployment records written to etcd through
the store (as a deployer would write them), without running a rollout.

The node is cordoned and the job's instance left pending, so no pod ever
starts, and a record of another node takes the job's deployments off its
deployer's hands, so they are only what the test writes. What is tested is
what the API shows of a deployment, how promote and fail mark it
(compare-and-swap), their refusals, and what `ozy apply`'s follow of a
deployment makes of its end.
"""

from __future__ import annotations

import asyncio
import functools
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
import typer

from ozymandias.cli.deployment_follow import follow_deployment
from ozymandias.cluster.records import (
    Deployment,
    DeploymentStatus,
    JobRecord,
    Node,
    Resources,
    Schedule,
)
from ozymandias.deployments.deployer import responsible_node
from ozymandias.spec.loader import load_job
from ozymandias.spec.update import UpdatePolicy
from ozymandias.store import keys
from ozymandias.store.cluster_store import ClusterStore
from ozymandias.store.etcd import Etcd
from tests.support.etcd import EtcdServer
from tests.support.machine import REPO
from tests.support.nodes import NodeFactory, NodeProcess, unused_pod_subnets
from tests.support.waiting import eventually

JOB = "deploy-api-web"


@pytest.fixture
async def store(etcd: EtcdServer) -> AsyncIterator[ClusterStore]:
    connection = Etcd(etcd.url)
    try:
        yield ClusterStore(connection)
    finally:
        await connection.close()


@pytest.fixture
async def node(make_node: NodeFactory, store: ClusterStore) -> NodeProcess:
    """A cordoned node that knows job JOB (version 2, its one instance pending), but no
    deployment of it yet, and leaves JOB's deployments alone (see `_elsewhere`)."""
    # Subnets from .100 up are where other sessions' nodes come and go.
    node = make_node("deploy-api1", pod_subnet=unused_pod_subnets(1, first=170)[0])
    assert node.request("POST", "/v1/nodes/deploy-api1/cordon").status_code == 200
    elsewhere = _elsewhere(node.name)
    await store.etcd.put(keys.node(elsewhere.name), elsewhere.to_json())
    await eventually(lambda: elsewhere.name in node.known_nodes(), "the other node's record")
    spec = load_job(f"name: {JOB}\ncontainers: {{app: {{image: localhost/ozy-example-web}}}}")
    await store.etcd.put(keys.job(JOB), JobRecord(spec=spec, version=2).to_json())
    schedule = Schedule(job=JOB, pending={0: "no node may take it"})
    await store.etcd.put(keys.schedule(JOB), schedule.to_json())
    await eventually(lambda: status_of(node, f"/v1/jobs/{JOB}") == 200, "the job in the mirror")
    return node


def _elsewhere(real: str) -> Node:
    """A node record (no daemon) that ranks first for JOB: the real node's deployer leaves
    JOB's deployments to it, so they change only as the test writes them. It has no room
    and no pod subnet, so nothing is placed on it or routed to it."""
    name = next(
        f"deploy-api-elsewhere-{n}"
        for n in range(100)
        if responsible_node(JOB, [real, f"deploy-api-elsewhere-{n}"]) != real
    )
    return Node(
        name=name,
        address="192.0.2.1",  # TEST-NET-1: nobody
        api_url="http://192.0.2.1:7070",
        capacity=Resources(),
        started_at=time.time(),
    )


def deployment(
    version: int = 2, status: DeploymentStatus = DeploymentStatus.RUNNING, **fields: Any
) -> Deployment:
    now = time.time()
    return Deployment(
        job=JOB,
        version=version,
        status=status,
        created_at=now,
        updated_at=now,
        last_progress_at=now,
        desired=1,
        **fields,
    )


async def put(store: ClusterStore, node: NodeProcess, wanted: Deployment) -> None:
    """Write `wanted` as a deployer would (compare-and-swap), then wait for the node to show it."""
    _, revision = await store.read_deployment(JOB)
    assert await store.update_deployment(wanted, revision)

    def shown() -> bool:
        answer = node.request("GET", f"/v1/jobs/{JOB}/deployment")
        return answer.status_code == 200 and all(
            answer.json()[field] == value
            for field, value in (("version", wanted.version), ("status", wanted.status.value))
        )

    await eventually(shown, f"version {wanted.version} {wanted.status} in the node's mirror")


def status_of(node: NodeProcess, path: str, method: str = "GET") -> int:
    return node.request(method, path).status_code


def problem_of(node: NodeProcess, method: str, path: str) -> tuple[int, str]:
    answer = node.request(method, path)
    return answer.status_code, str(answer.json().get("type", "")).rpartition("#")[2]


def ozy(node: NodeProcess, *arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ozymandias.cli.main", *arguments, "--api", node.api],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
        stdin=subprocess.DEVNULL,
        env={**os.environ, "COLUMNS": "200"},
    )


async def test_a_deployment_is_shown_promoted_and_failed_through_the_store(
    node: NodeProcess, store: ClusterStore
) -> None:
    assert problem_of(node, "GET", f"/v1/jobs/{JOB}/deployment") == (404, "deployment-not-found")
    assert problem_of(node, "GET", "/v1/jobs/nope/deployment") == (404, "job-not-found")
    assert problem_of(node, "POST", f"/v1/jobs/{JOB}/promote") == (409, "no-active-deployment")
    assert problem_of(node, "POST", "/v1/jobs/nope/promote") == (404, "job-not-found")

    await put(store, node, deployment(update=UpdatePolicy(canary=1), placed={1: time.time()}))
    shown = node.request("GET", f"/v1/jobs/{JOB}/deployment").json()
    assert (shown["canary"], shown["placed"], shown["promoted"]) == (1, 1, False)
    assert [(row["name"], row["state"], row["version"]) for row in shown["instances"]] == [
        (f"{JOB}-0", "pending", 2)
    ]
    listed = node.request("GET", "/v1/deployments").json()
    assert [(item["job"], item["status"]) for item in listed] == [(JOB, "running")]

    promoted = node.request("POST", f"/v1/jobs/{JOB}/promote")
    assert promoted.status_code == 200 and promoted.json()["promoted"] is True
    stored, _ = await store.read_deployment(JOB)
    assert stored is not None and stored.promoted
    assert node.request("POST", f"/v1/jobs/{JOB}/promote").status_code == 200  # again: no-op

    failed = node.request("POST", f"/v1/jobs/{JOB}/deployment/fail")
    assert failed.status_code == 200, failed.text
    stored, _ = await store.read_deployment(JOB)
    assert stored is not None and stored.fail_requested == "by token test-admin"
    assert stored.promoted  # the fail kept what the promote wrote

    # The deployer ended it: nothing is left to promote or fail.
    await put(store, node, stored.model_copy(update={"status": DeploymentStatus.REVERTED}))
    assert problem_of(node, "POST", f"/v1/jobs/{JOB}/promote") == (409, "no-active-deployment")
    assert problem_of(node, "POST", f"/v1/jobs/{JOB}/deployment/fail") == (
        409,
        "no-active-deployment",
    )

    # A deployment without canaries has nothing to promote.
    await put(store, node, deployment(version=3))
    assert problem_of(node, "POST", f"/v1/jobs/{JOB}/promote") == (409, "nothing-to-promote")


async def test_the_cli_shows_promotes_and_fails_a_deployment(
    node: NodeProcess, store: ClusterStore
) -> None:
    await put(
        store, node, deployment(status=DeploymentStatus.PAUSED, update=UpdatePolicy(canary=1))
    )
    status = ozy(node, "deployment", "status", JOB)
    assert status.returncode == 0, status.stderr
    assert f"{JOB} version 2 paused" in status.stdout and f"{JOB}-0" in status.stdout
    listed = ozy(node, "get", "deployments")
    assert JOB in listed.stdout and "paused" in listed.stdout

    promoted = ozy(node, "promote", JOB, "-o", "json")
    assert promoted.returncode == 0, promoted.stderr
    assert '"promoted": true' in promoted.stdout

    # Off a terminal, failing a deployment needs --yes.
    refused = ozy(node, "deployment", "fail", JOB)
    assert refused.returncode == 2 and "--yes" in refused.stderr
    stored, _ = await store.read_deployment(JOB)
    assert stored is not None and not stored.fail_requested
    failed = ozy(node, "deployment", "fail", JOB, "--yes")
    assert failed.returncode == 0, failed.stderr
    stored, _ = await store.read_deployment(JOB)
    assert stored is not None and stored.fail_requested

    await put(store, node, stored.model_copy(update={"status": DeploymentStatus.FAILED}))
    again = ozy(node, "deployment", "fail", JOB, "--yes")
    assert again.returncode == 1 and "No active deployment" in again.stderr


# How the followed version's deployment ends (the newer version, if any, is `followed + 1`),
# and how the follow ends: None for a return, else the exit code.
ENDINGS: list[tuple[str, dict[str, Any], int | None]] = [
    ("successful", {"status": DeploymentStatus.SUCCESSFUL}, None),
    ("paused for promotion", {"status": DeploymentStatus.PAUSED}, None),
    ("reverted", {"status": DeploymentStatus.REVERTED}, 1),
    ("replaced by its revert", {"newer": True, "revert": True}, 1),
    ("cancelled by a newer version", {"newer": True}, 1),
]


async def test_following_a_deployment_ends_as_it_ends(
    node: NodeProcess, store: ClusterStore, capsys: pytest.CaptureFixture[str]
) -> None:
    printed: list[str] = []

    def has_printed(text: str) -> bool:
        printed.append(capsys.readouterr().out)  # capsys hands out each output once
        return text in "".join(printed)

    # One node for every ending (each starts on a version of its own): nodes take a while.
    for number, (ending, change, exit_code) in enumerate(ENDINGS):
        followed = 2 + 2 * number
        waiting = f"waiting ({ending})"
        await put(store, node, deployment(followed, description=waiting))
        follow = asyncio.to_thread(follow_deployment, node.api, JOB, followed, 60)
        following = asyncio.create_task(follow)
        await eventually(functools.partial(has_printed, waiting), f"{ending}: a first poll")
        if change.get("newer"):
            revert_of = followed if change.get("revert") else 0
            await put(store, node, deployment(followed + 1, revert_of=revert_of))
        else:
            await put(store, node, deployment(followed, status=change["status"]))
        if exit_code is None:
            assert await following is True, ending
        else:
            with pytest.raises(typer.Exit) as exited:
                await following
            assert exited.value.exit_code == exit_code, ending
