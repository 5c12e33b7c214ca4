"""`kubectl apply` of a Deployment until `kubectl rollout status` returns, against `ozy apply`.

On one real node (embedded in this run: etcd and `ozy node run`, as bench/deploy.py
does), in alternation, each round with a fresh name, deleted after:

- kubectl: `kubectl apply -f deploy.yaml` then `kubectl rollout status deployment/NAME`
  (through the node's Kubernetes API, with `ozy kubeconfig`'s kubeconfig);
- ozy: `ozy apply -f job.yaml`, which follows the new version's deployment to its end.

job.yaml is the Deployment turned into a job spec by the very mapping the Kubernetes
API uses (kube/deployments.py), so both deploy the same job. Prints each one's p50 and
their ratio (goal: kubectl within 10% of ozy apply).

Run as root on a set-up machine (`make setup`):
  .venv/bin/python bench/kube.py [--rounds 5] [--replicas 3] [--kubectl PATH]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.support.auth import token_in_environment  # noqa: E402
from tests.support.etcd import EtcdServer  # noqa: E402
from tests.support.kubectl import KUBECTL_ENV, Kubectl, kubectl_for  # noqa: E402
from tests.support.machine import CLUSTER_CIDR, blackholed  # noqa: E402
from tests.support.nodes import NodeProcess, remove_everything_of_node  # noqa: E402
from tests.support.waiting import wait_until  # noqa: E402

from ozymandias.kube.deployment_spec import job_spec_from_deployment  # noqa: E402

WEB = "localhost/ozy-example-web:latest"


def deployment(name: str, replicas: int) -> dict[str, object]:
    """The Kubernetes documentation's nginx Deployment, on the example web image."""
    labels = {"app": name}
    probe = {"httpGet": {"path": "/healthcheck", "port": 3000}, "periodSeconds": 1}
    container = {
        "name": "web",
        "image": WEB,
        "ports": [{"containerPort": 3000}],
        "resources": {"limits": {"memory": "32Mi"}},
        "readinessProbe": probe,
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": {"containers": [container]}},
        },
    }


def kubectl_round(
    kubectl: Kubectl, node: NodeProcess, directory: Path, name: str, replicas: int
) -> float:
    path = directory / f"{name}.yaml"
    path.write_text(yaml.safe_dump(deployment(name, replicas)))
    started = time.perf_counter()
    kubectl("apply", "-f", str(path))
    kubectl("rollout", "status", f"deployment/{name}", "--timeout=2m", timeout=150)
    elapsed = time.perf_counter() - started
    # Done means done: every instance healthy when kubectl says so, as when ozy apply returns.
    healthy = [i for i in node.instances(name) if i["health"] == "healthy"]
    assert len(healthy) == replicas, f"rollout status returned with {len(healthy)} healthy"
    delete(node, name)
    return elapsed


def ozy_round(node: NodeProcess, directory: Path, name: str, replicas: int) -> float:
    path = directory / f"{name}.job.yaml"
    path.write_text(yaml.safe_dump(job_spec_from_deployment(deployment(name, replicas))))
    command = [sys.executable, "-m", "ozymandias.cli.main", "apply", "-f", str(path)]
    started = time.perf_counter()
    subprocess.run([*command, "--api", node.api], check=True, capture_output=True, timeout=330)
    elapsed = time.perf_counter() - started
    healthy = [i for i in node.instances(name) if i["health"] == "healthy"]
    assert len(healthy) == replicas, f"ozy apply returned with {len(healthy)} healthy"
    delete(node, name)
    return elapsed


def delete(node: NodeProcess, name: str) -> None:
    node.request("DELETE", f"/v1/jobs/{name}").raise_for_status()

    def gone() -> bool:
        listed = node.request("GET", "/v1/instances").json()
        return not [instance for instance in listed if instance["job"] == name]

    wait_until(gone, timeout=120, what=f"{name}'s instances gone")


def summary(samples: list[float]) -> str:
    return (
        f"p50 {statistics.median(samples):6.2f} s  "
        f"min {min(samples):6.2f} s  max {max(samples):6.2f} s  (n={len(samples)})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--replicas", type=int, default=3)
    parser.add_argument("--kubectl", default=None, help=f"default: {KUBECTL_ENV}, else PATH")
    args = parser.parse_args()
    if args.kubectl:
        os.environ[KUBECTL_ENV] = args.kubectl
    results: dict[str, list[float]] = {"kubectl apply + rollout status": [], "ozy apply": []}
    with tempfile.TemporaryDirectory() as scratch, blackholed(CLUSTER_CIDR), token_in_environment():
        directory = Path(scratch)
        (directory / "etcd").mkdir()
        etcd = EtcdServer(directory / "etcd" / "data")
        node = NodeProcess(
            "bench", "", directory / "nodes", pod_subnet="10.213.240.0/24", log_level="INFO"
        )
        try:
            etcd.start()
            node.etcd_url = etcd.url
            node.start()
            kubectl = kubectl_for(node, directory)
            for number in range(args.rounds):
                # Alternating, and which goes first alternates too, so neither gets a warmer host.
                order = ["kubectl", "ozy"] if number % 2 == 0 else ["ozy", "kubectl"]
                for tool in order:
                    name = f"bench-{tool}-{number}"
                    if tool == "kubectl":
                        sample = kubectl_round(kubectl, node, directory, name, args.replicas)
                        results["kubectl apply + rollout status"].append(sample)
                    else:
                        results["ozy apply"].append(ozy_round(node, directory, name, args.replicas))
                print(f"round {number + 1}/{args.rounds} done", file=sys.stderr)
        except Exception:
            print(node.log_tail(80), file=sys.stderr)
            raise
        finally:
            node.stop()
            remove_everything_of_node("bench")
            etcd.stop()

    print(
        f"A Deployment of {args.replicas} replicas, until its rollout is done ({kubectl.binary}):"
    )
    for method, samples in results.items():
        print(f"  {method:<32} {summary(samples)}")
    kube = statistics.median(results["kubectl apply + rollout status"])
    ozy = statistics.median(results["ozy apply"])
    print(f"  kubectl / ozy apply = {kube / ozy:.2f} (goal: at most 1.10)")


if __name__ == "__main__":
    main()
