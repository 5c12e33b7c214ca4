"""kubectl's reads against a real node's Kubernetes API: discovery, get (tables, wide, json,
labels, one pod), watch, logs, and its refusals (another namespace, no token, a low role).

One node for the module; kubectl is the real one (tests/support/kubectl.py), run once
with the kubectl on PATH and once with OZY_TEST_KUBECTL (Debian's 1.20).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.etcd import EtcdServer
from tests.support.jobs import web_job
from tests.support.kubectl import Kubectl, kubectl_for
from tests.support.machine import unmount_everything_under
from tests.support.nodes import NodeProcess, remove_everything_of_node, unused_pod_subnets
from tests.support.waiting import wait_until

# Two containers, one labelled job, one unlabelled: enough for -l, -c and the tables.
LOGGER = """
name: kr-logger
labels: {tier: web, app: kr-logger}
containers:
  talk:
    image: localhost/ozy-example-tools:latest
    command: ["sh", "-c", "for n in 1 2 3 4 5; do echo talk line $n; done; sleep 3600"]
    memory: 16M
  quiet:
    image: localhost/ozy-example-tools:latest
    command: ["sh", "-c", "echo quiet line; sleep 3600"]
    memory: 16M
"""
SINGLE = """
name: kr-single
numInstances: {count}
containers:
  app:
    image: localhost/ozy-example-tools:latest
    command: ["sh", "-c", "echo single says hi; sleep 3600"]
    memory: 16M
"""


@pytest.fixture(scope="module")
def node(
    etcd: EtcdServer, example_images: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[NodeProcess]:
    etcd.wipe()
    work = tmp_path_factory.mktemp("kube-reads")
    started = NodeProcess(
        name="kube-reads",
        etcd_url=etcd.url,
        work_dir=work / "nodes",
        pod_subnet=unused_pod_subnets(1, first=100)[0],
    )
    try:
        started.start()
        for spec in (LOGGER, SINGLE.format(count=1)):
            assert started.apply(spec).status_code in (200, 201), spec
        started.wait_running("kr-logger", 1)
        started.wait_running("kr-single", 1)
        yield started
    finally:
        started.stop()
        remove_everything_of_node(started.name)
        unmount_everything_under(work)
        etcd.wipe()


@pytest.fixture(scope="module")
def kubectl(node: NodeProcess, tmp_path_factory: pytest.TempPathFactory) -> Kubectl:
    return kubectl_for(node, tmp_path_factory.mktemp("kubeconfig"))


def header(output: str) -> list[str]:
    """The column names of kubectl's table (two spaces or more between them)."""
    first = output.splitlines()[0]
    return [name.strip() for name in first.split("  ") if name.strip()]


def rows(output: str) -> dict[str, str]:
    """Each row of kubectl's table by its first cell."""
    return {line.split()[0]: line for line in output.splitlines()[1:] if line.strip()}


def test_discovery_short_names_and_version(kubectl: Kubectl) -> None:
    resources = kubectl("api-resources").stdout
    lines = {line.split()[0]: line.split() for line in resources.splitlines()[1:]}
    assert "po" in lines["pods"] and "deploy" in lines["deployments"] and "no" in lines["nodes"]
    version = kubectl("version", "-o", "json").stdout
    assert json.loads(version)["serverVersion"]["gitVersion"].startswith("v1.32.0+ozy.")


def test_every_namespace_and_a_watch_from_too_far_back(kubectl: Kubectl) -> None:
    everywhere = kubectl("get", "pods", "-A").stdout
    assert header(everywhere)[:2] == ["NAMESPACE", "NAME"]
    assert rows(everywhere)["default"].split()[1] in {"kr-logger-0", "kr-single-0"}
    # Revision 1 is older than any watch hub here remembers: an ERROR event, 410 Expired.
    gone = kubectl("get", "--raw", "/api/v1/pods?watch=1&resourceVersion=1").stdout
    event = json.loads(gone.splitlines()[0])
    assert event["type"] == "ERROR"
    assert (event["object"]["code"], event["object"]["reason"]) == (410, "Expired")


def test_openapi_v2_serves_kubectl_explain(kubectl: Kubectl) -> None:
    explained = kubectl("explain", "deployment.spec.replicas").stdout
    assert "replicas" in explained.lower()


def test_get_nodes_pods_deployments_events_as_tables(kubectl: Kubectl, node: NodeProcess) -> None:
    nodes = kubectl("get", "nodes").stdout
    assert header(nodes)[:2] == ["NAME", "STATUS"]
    assert node.name in rows(nodes)
    pods = kubectl("get", "pods").stdout
    assert header(pods)[:5] == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert {"kr-logger-0", "kr-single-0"} <= set(rows(pods))
    assert "Running" in rows(pods)["kr-logger-0"]
    assert rows(pods)["kr-logger-0"].split()[1] == "2/2"
    wide = kubectl("get", "pods", "-o", "wide").stdout
    assert {"IP", "NODE"} <= set(header(wide))
    assert node.name in rows(wide)["kr-single-0"]
    deployments = kubectl("get", "deployments").stdout
    assert header(deployments)[0] == "NAME"
    assert {"kr-logger", "kr-single"} <= set(rows(deployments))
    events = kubectl("get", "events").stdout
    assert len(events.splitlines()) > 1


def test_json_yaml_labels_and_one_pod(kubectl: Kubectl) -> None:
    listed = json.loads(kubectl("get", "pods", "-o", "json").stdout)
    names = {item["metadata"]["name"] for item in listed["items"]}
    assert {"kr-logger-0", "kr-single-0"} <= names
    assert all(item["kind"] == "Pod" for item in listed["items"])
    one = json.loads(kubectl("get", "pod", "kr-single-0", "-o", "json").stdout)
    assert one["kind"] == "Pod" and one["metadata"]["name"] == "kr-single-0"
    assert "kind: Pod" in kubectl("get", "pod", "kr-single-0", "-o", "yaml").stdout
    assert set(rows(kubectl("get", "pods", "-l", "tier=web").stdout)) == {"kr-logger-0"}
    assert set(rows(kubectl("get", "pods", "-l", "tier!=web").stdout)) == {"kr-single-0"}
    shown = kubectl("get", "pods", "--show-labels").stdout
    assert header(shown)[-1] == "LABELS"
    assert "tier=web" in rows(shown)["kr-logger-0"]
    named = kubectl("get", "pods", "--field-selector", "metadata.name=kr-single-0").stdout
    assert set(rows(named)) == {"kr-single-0"}
    one_row = kubectl("get", "pod", "kr-logger-0").stdout
    assert set(rows(one_row)) == {"kr-logger-0"}


def test_not_found_other_namespaces_and_tokens(
    kubectl: Kubectl, node: NodeProcess, tmp_path: Path
) -> None:
    missing = kubectl("get", "pod", "kr-nothing-0", check=False)
    assert missing.returncode == 1
    assert 'pods "kr-nothing-0" not found' in missing.stderr
    elsewhere = kubectl("get", "pods", "-n", "elsewhere", check=False)
    assert elsewhere.returncode == 1
    assert 'namespaces "elsewhere" not found' in elsewhere.stderr
    stranger = kubectl_for(node, tmp_path, token="not-a-token-of-this-cluster")
    refused = stranger("get", "pods", check=False)
    assert refused.returncode == 1
    assert "You must be logged in to the server" in refused.stderr
    created = node.request("POST", "/v1/acl/tokens", json={"name": "kr-reader", "role": "read"})
    reader = kubectl_for(node, tmp_path, token=created.json()["secret"])
    assert "kr-single-0" in reader("get", "pods").stdout
    logs = reader("logs", "kr-single-0", check=False)
    assert logs.returncode == 1
    assert "Forbidden" in logs.stderr


def test_logs_of_one_container_and_of_several(kubectl: Kubectl) -> None:
    assert "single says hi" in kubectl("logs", "kr-single-0").stdout
    several = kubectl("logs", "kr-logger-0", check=False)
    if several.returncode == 0:  # kubectl 1.2x picks the first container itself, and says so
        assert 'Defaulted container "talk"' in several.stderr
        assert "talk line 1" in several.stdout
    else:  # kubectl 1.20 asks for one
        assert "choose one of: [talk quiet]" in several.stderr
    # The server's own answer, without kubectl's choice.
    raw = kubectl("get", "--raw", "/api/v1/namespaces/default/pods/kr-logger-0/log", check=False)
    assert raw.returncode == 1
    assert "a container name must be specified for pod kr-logger-0" in raw.stderr
    assert "choose one of: [talk quiet]" in raw.stderr
    talk = kubectl("logs", "kr-logger-0", "-c", "talk", "--tail", "2").stdout
    assert talk.split("\n")[:2] == ["talk line 4", "talk line 5"]
    following = kubectl.background("logs", "kr-logger-0", "-c", "quiet", "-f")
    try:
        following.wait_for(lambda lines: "quiet line" in lines, "the followed log")
        assert following.process.poll() is None  # it follows on
    finally:
        following.kill()


def test_rollout_status_follows_a_job_to_healthy(kubectl: Kubectl, node: NodeProcess) -> None:
    """The Deployment's watch moves with its instances' health, not only their states."""
    assert node.apply(web_job("kr-checked", 2, healthcheck=True)).status_code in (200, 201)
    done = kubectl("rollout", "status", "deployment/kr-checked", "--timeout=120s", timeout=150)
    assert 'deployment "kr-checked" successfully rolled out' in done.stdout
    ready = json.loads(kubectl("get", "deployment", "kr-checked", "-o", "json").stdout)
    assert ready["status"]["readyReplicas"] == 2
    node.request("DELETE", "/v1/jobs/kr-checked")


def test_get_pods_watch_shows_a_new_pod(kubectl: Kubectl, node: NodeProcess) -> None:
    watching = kubectl.background("get", "pods", "-w")
    try:
        watching.wait_for(lambda lines: any("kr-single-0" in line for line in lines), "the list")
        assert node.apply(SINGLE.format(count=2)).status_code == 200
        watching.wait_for(
            lambda lines: any(line.startswith("kr-single-1") for line in lines),
            "a row of the new pod",
        )
        wait_until(
            lambda: any(
                line.startswith("kr-single-1") and "Running" in line for line in watching.stdout
            ),
            timeout=90,
            what="the new pod's row turning Running",
        )
    finally:
        watching.kill()
        node.apply(SINGLE.format(count=1))
