"""The real kubectl against a real node: every command of issue #19 over the docs' nginx example.

The Deployment is the Kubernetes documentation's (nginx-deployment, 3 replicas,
app: nginx) on the example web image, which listens on 3000 and answers
/healthcheck. One node serves all of it; the test walks the commands a user
types in order, checking each one's exit status and output, and what the ozy
API then shows. Run it once with each kubectl (`OZY_TEST_KUBECTL`, else PATH):

  OZY_TEST_KUBECTL=/opt/kubectl-1.20/usr/bin/kubectl pytest tests/integration/test_kubectl.py
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.jobs import WEB_IMAGE, pinned_to, web_job
from tests.support.kubectl import Kubectl, kubectl_for
from tests.support.nodes import NodeFactory, NodeProcess
from tests.support.waiting import wait_until

NAME = "nginx-deployment"

# From https://kubernetes.io/docs/concepts/workloads/controllers/deployment/, on a local
# image (port 3000, with its health check), and with two variables to change and remove.
DEPLOYMENT = f"""\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {NAME}
  labels:
    app: nginx
spec:
  replicas: 3
  selector:
    matchLabels:
      app: nginx
  template:
    metadata:
      labels:
        app: nginx
    spec:
      containers:
      - name: nginx
        image: {WEB_IMAGE}
        ports:
        - containerPort: 3000
        env:
        - name: GREETING
          value: hello
        - name: EXTRA
          value: remove-me
        readinessProbe:
          httpGet:
            path: /healthcheck
            port: 3000
          periodSeconds: 1
"""

# The edit: replicas 3 -> 4, GREETING changed, EXTRA removed, a memory limit added.
EDITED = (
    DEPLOYMENT.replace("replicas: 3", "replicas: 4")
    .replace("value: hello", "value: bonjour")
    .replace("        - name: EXTRA\n          value: remove-me\n", "")
    .replace(
        "        readinessProbe:",
        "        resources:\n          limits:\n            memory: 64Mi\n        readinessProbe:",
    )
)

HOST_NETWORK = DEPLOYMENT.replace(NAME, "host-net").replace(
    "    spec:\n      containers:", "    spec:\n      hostNetwork: true\n      containers:"
)


def write(directory: Path, name: str, text: str) -> str:
    path = directory / name
    path.write_text(text)
    return str(path)


def ok(kubectl: Kubectl, *arguments: str, timeout: float = 180) -> str:
    """kubectl's output; the test fails, with its stderr, if it exits non-zero."""
    return kubectl(*arguments, timeout=timeout).stdout


def table(output: str) -> tuple[list[str], list[list[str]]]:
    """A kubectl table's column names and rows (cells split on runs of spaces)."""
    lines = [line for line in output.splitlines() if line.strip()]
    header = lines[0].split()
    return header, [line.split() for line in lines[1:]]


def changed_lines(diff: str) -> list[str]:
    """The +/- lines of a unified diff, its file headers left out."""
    return [
        line
        for line in diff.splitlines()
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]


def job(node: NodeProcess, name: str) -> dict[str, Any] | None:
    response = node.request("GET", f"/v1/jobs/{name}")
    if response.status_code == 404:
        return None
    response.raise_for_status()
    return dict(response.json())


def running(node: NodeProcess, name: str) -> list[dict[str, Any]]:
    return [item for item in node.instances(name) if item["state"] == "running"]


@pytest.mark.timeout(900)
def test_kubectl_over_the_nginx_deployment(make_node: NodeFactory, tmp_path: Path) -> None:
    node = make_node("kube1")
    kubectl = kubectl_for(node, tmp_path)
    original = write(tmp_path, "deploy.yaml", DEPLOYMENT)

    # apply (create), then rollout status
    assert f"deployment.apps/{NAME} created" in ok(kubectl, "apply", "-f", original)
    ok(kubectl, "rollout", "status", f"deployment/{NAME}", "--timeout=120s", timeout=150)
    assert len(running(node, NAME)) == 3

    # get: the usual tables
    header, rows = table(ok(kubectl, "get", "deployments"))
    assert header == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
    assert rows[0][:4] == [NAME, "3/3", "3", "3"]
    header, rows = table(ok(kubectl, "get", "pods"))
    assert header == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert sorted(row[0] for row in rows) == [f"{NAME}-{i}" for i in range(3)]
    assert {row[1] for row in rows} == {"1/1"} and {row[2] for row in rows} == {"Running"}
    header, rows = table(ok(kubectl, "get", "nodes"))
    assert header[:2] == ["NAME", "STATUS"] and rows[0][:2] == ["kube1", "Ready"]

    # diff: nothing changed, then exactly the edit
    unchanged = kubectl("diff", "-f", original, check=False)
    assert (unchanged.returncode, unchanged.stdout) == (0, ""), unchanged.stderr
    edited = write(tmp_path, "deploy-edited.yaml", EDITED)
    differs = kubectl("diff", "-f", edited, check=False)
    assert differs.returncode == 1, differs.stderr
    lines = changed_lines(differs.stdout)
    # A dry run bumps the generation of a changed spec, as the apiserver's does.
    spec_lines = [line for line in lines if "generation:" not in line]
    removed = sorted(line[1:].strip() for line in spec_lines if line.startswith("-"))
    added = sorted(line[1:].strip() for line in spec_lines if line.startswith("+"))
    assert removed == sorted(
        ["replicas: 3", "value: hello", "- name: EXTRA", "value: remove-me"]
    ), differs.stdout
    assert added == sorted(
        ["replicas: 4", "value: bonjour", "resources:", "limits:", "memory: 64Mi"]
    ), differs.stdout

    # apply (update): the job has the change, and the removed variable is gone
    assert f"deployment.apps/{NAME} configured" in ok(kubectl, "apply", "-f", edited)
    ok(kubectl, "rollout", "status", f"deployment/{NAME}", "--timeout=180s", timeout=210)
    spec = job(node, NAME)
    assert spec is not None
    container = spec["spec"]["containers"]["nginx"]
    assert spec["spec"]["numInstances"] == 4
    assert container["environment"] == {"GREETING": "bonjour"}
    assert container["memory"] in ("64Mi", "64MiB", 64 * 1024 * 1024)
    again = kubectl("diff", "-f", edited, check=False)
    assert (again.returncode, again.stdout) == (0, ""), again.stderr

    # scale
    assert f"deployment.apps/{NAME} scaled" in ok(
        kubectl, "scale", f"deployment/{NAME}", "--replicas=2"
    )
    wait_until(lambda: len(node.instances(NAME)) == 2, timeout=60, what="2 instances")
    assert job(node, NAME)["spec"]["numInstances"] == 2  # type: ignore[index]

    # delete pod: the instance gets a new pod, and kubectl returns
    wait_until(lambda: len(running(node, NAME)) == 2, timeout=90, what="2 running")
    pod = running(node, NAME)[0]["name"]
    uid = yaml.safe_load(ok(kubectl, "get", "pod", pod, "-o", "yaml"))["metadata"]["uid"]
    assert f'pod "{pod}" deleted' in ok(kubectl, "delete", "pod", pod, timeout=120)
    wait_until(
        lambda: (
            yaml.safe_load(ok(kubectl, "get", "pod", pod, "-o", "yaml"))["metadata"]["uid"] != uid
        ),
        timeout=60,
        what=f"{pod} on a new pod",
    )
    wait_until(lambda: len(running(node, NAME)) == 2, timeout=90, what="2 running again")

    # cordon, uncordon
    assert "node/kube1 cordoned" in ok(kubectl, "cordon", "kube1")
    assert node_status(node, "kube1") == "cordoned"
    assert "SchedulingDisabled" in ok(kubectl, "get", "nodes")
    assert "node/kube1 uncordoned" in ok(kubectl, "uncordon", "kube1")
    assert node_status(node, "kube1") == "ready"
    # a node's other fields are its daemon's: refused by name
    labelled = kubectl("label", "node", "kube1", "disk=ssd", check=False)
    assert labelled.returncode != 0 and "metadata.labels.disk" in labelled.stderr

    # replace at a stale resourceVersion: a Conflict, nothing written
    live = yaml.safe_load(ok(kubectl, "get", "deployment", NAME, "-o", "yaml"))
    live["metadata"]["resourceVersion"] = "1"
    live["spec"]["replicas"] = 5
    stale = kubectl(
        "replace", "-f", write(tmp_path, "stale.yaml", yaml.safe_dump(live)), check=False
    )
    assert stale.returncode != 0 and "Conflict" in stale.stderr, stale.stderr
    assert job(node, NAME)["spec"]["numInstances"] == 2  # type: ignore[index]

    # events and logs
    header, rows = table(ok(kubectl, "get", "events"))
    assert header[:2] == ["LAST", "SEEN"] and rows
    name = running(node, NAME)[0]["name"]
    ok(kubectl, "logs", name)
    assert len(ok(kubectl, "logs", name, "--tail", "1").splitlines()) <= 1

    # a field without a mapping: refused by name, nothing written
    refused = kubectl("apply", "-f", write(tmp_path, "host-net.yaml", HOST_NETWORK), check=False)
    assert refused.returncode != 0
    assert "spec.template.spec.hostNetwork" in refused.stderr
    assert job(node, "host-net") is None

    # one state: an ozy job is a Deployment, a Deployment is an ozy job
    node.apply(web_job("ozy-made", 1)).raise_for_status()
    wait_until(
        lambda: (
            {row[0] for row in table(ok(kubectl, "get", "deployments"))[1]} == {NAME, "ozy-made"}
        ),
        timeout=30,
        what="the job made with ozy listed by kubectl",
    )
    jobs = subprocess.run(
        [sys.executable, "-m", "ozymandias.cli.main", "get", "jobs", "--api", node.api],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    assert NAME in jobs

    # delete the Deployment: kubectl returns once it is gone, and so is the job
    assert f'deployment.apps "{NAME}" deleted' in ok(
        kubectl, "delete", "deployment", NAME, timeout=120
    )
    assert job(node, NAME) is None
    wait_until(
        lambda: not [i for i in node.request("GET", "/v1/instances").json() if i["job"] == NAME],
        timeout=90,
        what="its instances gone",
    )


def node_status(node: NodeProcess, name: str) -> str:
    response = node.request("GET", "/v1/nodes")
    response.raise_for_status()
    return str(next(item for item in response.json() if item["name"] == name)["status"])


@pytest.mark.timeout(600)
def test_kubectl_delete_pod_on_another_node(make_node: NodeFactory, tmp_path: Path) -> None:
    """The node kubectl talks to passes the restart on to the node that runs the instance."""
    asked = make_node("kube-a")
    runs = make_node("kube-b")
    asked.apply(web_job("far", 1, extra=pinned_to("kube-b"), healthcheck=True)).raise_for_status()
    wait_until(lambda: len(running(runs, "far")) == 1, timeout=90, what="far-0 running")
    kubectl = kubectl_for(asked, tmp_path)
    before = yaml.safe_load(ok(kubectl, "get", "pod", "far-0", "-o", "yaml"))
    assert before["spec"]["nodeName"] == "kube-b"
    assert 'pod "far-0" deleted' in ok(kubectl, "delete", "pod", "far-0", timeout=120)
    after = yaml.safe_load(ok(kubectl, "get", "pod", "far-0", "-o", "yaml"))
    assert after["metadata"]["uid"] != before["metadata"]["uid"]
    wait_until(lambda: len(running(runs, "far")) == 1, timeout=90, what="far-0 running again")
