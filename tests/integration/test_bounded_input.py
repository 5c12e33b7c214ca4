"""No request can stall a node, crash it or make it lose work (issue: bounded input).

Each test checks the node afterwards: the same lease, the same pods, no
fencing, and nothing written by a refused request.
"""

from __future__ import annotations

import json
import select
import signal
import socket
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from tests.support.auth import bearer
from tests.support.etcd import EtcdServer
from tests.support.jobs import web_job
from tests.support.nodes import NodeFactory, NodeProcess
from tests.support.podman import pods_with_label
from tests.support.waiting import wait_until

OVERSIZED_JOB = {
    "name": "big",
    "numInstances": 100_000_000,
    "containers": {"app": {"image": "x", "memory": "1M"}},
}


def pod_ids(node: str) -> set[str]:
    return {pod["Id"] for pod in pods_with_label(f"ozy.node={node}")}


class Witness:
    """What must not change while a node is under attack: its lease, pods and jobs."""

    def __init__(self, etcd: EtcdServer, node: NodeProcess) -> None:
        self.etcd = etcd
        self.node = node
        self.lease = etcd.node_lease(node.name)
        self.pods = pod_ids(node.name)
        self.jobs = etcd.keys("/ozy/jobs/")

    def unchanged(self) -> None:
        assert self.node.answers(), self.node.log_tail()
        assert self.etcd.node_lease(self.node.name) == self.lease
        assert pod_ids(self.node.name) == self.pods
        assert self.etcd.keys("/ozy/jobs/") == self.jobs  # nothing written
        assert "FENCING" not in self.node.log_path.read_text()
        events = self.node.request("GET", "/v1/events").json()
        assert not [event for event in events if event["kind"] == "node-fenced"]


@pytest.fixture
def running(make_node: NodeFactory, etcd: EtcdServer) -> Iterator[tuple[NodeProcess, Witness]]:
    """A node with a short lease, running one instance, with a test hook to stall its loop."""
    node = make_node("bounded1", lease_ttl=5, extra_env={"OZY_TEST_STALL_SECONDS": "30"})
    assert node.apply(web_job("keep", 1)).status_code == 201
    node.wait_running("keep", 1)
    yield node, Witness(etcd, node)


def test_a_node_whose_event_loop_stalls_for_30s_keeps_its_lease_and_its_pods(
    running: tuple[NodeProcess, Witness],
) -> None:
    node, witness = running
    assert node.process is not None
    node.process.send_signal(signal.SIGUSR2)
    wait_until(
        lambda: "the event loop runs again" in node.log_path.read_text(),
        timeout=90,
        what="the stalled loop to run again",
    )
    # Six lease TTLs without the loop: a keeper on that loop would have fenced.
    assert "blocking the event loop for 30s" in node.log_path.read_text()
    witness.unchanged()
    assert node.wait_running("keep", 1)


def test_the_oversized_job_is_refused_at_once_and_the_node_keeps_its_lease_and_pods(
    running: tuple[NodeProcess, Witness],
) -> None:
    node, witness = running
    # A generous client timeout: the refusal must not wait on any planning.
    reply = node.request("PUT", "/v1/jobs/big", json=OVERSIZED_JOB, timeout=10)
    assert reply.status_code == 422, reply.text
    problem = reply.json()
    assert problem["type"].endswith("#limit-exceeded")
    assert "numInstances" in problem["detail"] and "10000" in problem["detail"]
    reply = node.request("POST", "/v1/jobs/keep/scale", json={"numInstances": 10**12}, timeout=10)
    assert reply.status_code == 422, reply.text
    assert reply.json()["type"].endswith("#limit-exceeded")
    witness.unchanged()


def test_a_body_past_1mib_is_refused_with_413(running: tuple[NodeProcess, Witness]) -> None:
    node, witness = running
    body = "name: fat\n" + "#" * (1024 * 1024)
    reply = node.request("PUT", "/v1/jobs/fat", content=body)
    assert reply.status_code == 413
    assert reply.headers["content-type"] == "application/problem+json"
    assert reply.json()["type"].endswith("#body-too-large")
    witness.unchanged()


def test_a_client_sending_a_byte_a_second_holds_up_no_one_and_is_cut_off(
    make_node: NodeFactory,
) -> None:
    node = make_node("bounded2", extra_args=("--api-body-timeout", "3"))
    answers: list[bytes] = []

    def trickle() -> None:
        with socket.create_connection(("127.0.0.1", node.api_port), timeout=30) as conn:
            token = bearer()["authorization"].encode()
            conn.sendall(
                b"PUT /v1/jobs/slow HTTP/1.1\r\nHost: t\r\nAuthorization: "
                + token
                + b"\r\nContent-Length: 100\r\n\r\n"
            )
            for _ in range(20):  # a byte a second, until the node answers
                conn.sendall(b"x")
                readable, _, _ = select.select([conn], [], [], 1.0)
                if readable:
                    break
            # The answer, whole: the node closes the connection after it.
            conn.settimeout(10)
            answer = b""
            while chunk := conn.recv(4096):
                answer += chunk
            answers.append(answer)

    slow = threading.Thread(target=trickle)
    slow.start()
    try:
        # Meanwhile, everyone else is answered as usual.
        for _ in range(5):
            assert node.request("GET", "/v1/jobs", timeout=5).status_code == 200
    finally:
        slow.join(60)
    assert answers and answers[0].startswith(b"HTTP/1.1 408"), answers
    assert b"request-timeout" in answers[0]


def test_past_its_limits_on_requests_and_followed_logs_the_node_answers_429(
    make_node: NodeFactory, etcd: EtcdServer
) -> None:
    node = make_node("bounded3", extra_args=("--api-max-in-flight", "2", "--api-max-follows", "2"))
    assert node.apply(web_job("chatty", 1)).status_code == 201
    node.wait_running("chatty", 1)
    jobs = etcd.keys("/ozy/jobs/")

    # Bodies are parsed one at a time, so a crowd of big ones waits in flight.
    environment = {f"V{i}": "x" * 100 for i in range(900)}
    body = spec_with({"environment": environment}) + " " * 400_000

    def plan() -> httpx.Response:
        return node.request("POST", "/v1/jobs/lim/plan", content=body)

    with ThreadPoolExecutor(max_workers=12) as pool:
        replies = list(pool.map(lambda _: plan(), range(12)))
    refused = [reply for reply in replies if reply.status_code == 429]
    assert refused and all(reply.status_code in (200, 429) for reply in replies), replies
    assert refused[0].headers["retry-after"] == "1"
    assert refused[0].json()["limit"] == "api-max-in-flight"
    assert etcd.keys("/ozy/jobs/") == jobs  # plans and refusals write nothing

    # Two followed logs are the most; they hold no place among the requests in flight.
    clients = [httpx.Client(base_url=node.api, timeout=30, headers=bearer()) for _ in range(3)]
    streams: list[Any] = []
    try:
        for client in clients[:2]:
            stream = client.stream("GET", "/v1/instances/chatty-0/logs", params={"follow": "true"})
            assert stream.__enter__().status_code == 200
            streams.append(stream)
        third = clients[2].get("/v1/instances/chatty-0/logs", params={"follow": "true"})
        assert third.status_code == 429
        assert third.json()["limit"] == "api-max-follows"
        for _ in range(3):
            assert node.request("GET", "/v1/jobs").status_code == 200
    finally:
        for stream in streams:
            stream.__exit__(None, None, None)
        for client in clients:
            client.close()

    def follows_again() -> bool:
        with httpx.Client(base_url=node.api, timeout=30, headers=bearer()) as client:
            params = {"follow": "true"}
            with client.stream("GET", "/v1/instances/chatty-0/logs", params=params) as reply:
                return reply.status_code == 200

    wait_until(follows_again, timeout=30, what="a followed log once the others ended")


def spec_with(container: dict[str, Any] | None = None, **fields: Any) -> str:
    """A JSON job `lim` of one container `app`, with these fields."""
    app = {"image": "x", "memory": "1M", **(container or {})}
    return json.dumps({"name": "lim", "containers": {"app": app}, **fields})


ALIASES = "name: lim\nx: &a 1\n" + "".join(f"k{i}: *a\n" for i in range(101))
LIMIT_CASES = [
    # (what, body, status, problem type, a fragment of the detail)
    ("instances", spec_with(numInstances=10_001), 422, "limit-exceeded", "--max-instances"),
    (
        "containers",
        json.dumps({"name": "lim", "containers": {f"c{i}": {"image": "x"} for i in range(65)}}),
        422,
        "limit-exceeded",
        "at most 64 containers",
    ),
    (
        "environment entries",
        spec_with({"environment": {f"V{i}": "x" for i in range(1001)}}),
        422,
        "limit-exceeded",
        "at most 1000 environment variables",
    ),
    (
        "environment size",
        spec_with({"environment": {"BIG": "x" * (128 * 1024)}}),
        422,
        "limit-exceeded",
        "--max-env-size",
    ),
    ("YAML aliases", ALIASES, 422, "limit-exceeded", "more than 100 YAML anchors"),
    ("nesting", "name: lim\ncontainers: " + "[" * 1000, 422, "limit-exceeded", "--max-depth"),
    ("two documents", "name: lim\n---\nname: lim\n", 400, "invalid-job", "one YAML document"),
    ("a long image", spec_with({"image": "x" * 600}), 400, "invalid-job", "at most 512"),
    (
        "many problems",
        spec_with({"ports": ["bad"] * 60}),
        400,
        "invalid-job",
        "and 10 more problems",
    ),
    (
        "problems at every level, all at once",
        json.dumps(
            {"name": "lim", "numInstnces": 2, "containers": {"app": {"imgae": "x", "memory": "2X"}}}
        ),
        400,
        "invalid-job",
        "numInstnces: unknown field 'numInstnces' (did you mean 'numInstances'?);"
        " containers.app.imgae: unknown field 'imgae' (did you mean 'image'?);"
        " containers.app.memory: '2X' is not a size like 512M or 2G",
    ),
    (
        "a TCP ingress port outside the range",
        spec_with({"ports": ["22"]}, ingress={"tcp": [{"port": 22, "targetPort": 22}]}),
        422,
        "ingress-port-out-of-range",
        "ingress.tcp.0.port: 22 is outside",
    ),
]


def test_each_spec_limit_is_refused_with_its_problem_and_nothing_written(
    running: tuple[NodeProcess, Witness],
) -> None:
    node, witness = running
    for what, body, status, slug, fragment in LIMIT_CASES:
        reply = node.request("PUT", "/v1/jobs/lim", content=body)
        assert reply.status_code == status, (what, reply.text)
        assert reply.headers["content-type"] == "application/problem+json", what
        problem = reply.json()
        assert problem["type"].endswith(f"#{slug}"), (what, problem)
        assert fragment in problem["detail"], (what, problem["detail"])
        assert len(problem.get("errors", [])) <= 51, what
    witness.unchanged()
