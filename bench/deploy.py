"""How long from submitting a job until all its instances run, against the alternatives.

Measures, on this host, for a job of 3 instances × 2 containers (web + db):

- Ozymandias: PUT /v1/jobs/NAME until the API reports every instance running;
- raw podman, the physical limit: the same 3 pods made by hand with the CLI,
  one after another and all at once;
- podman-compose: `podman-compose up -d` of an equivalent compose file, until
  every container runs;
- the compose case: examples/compose/shop (3 services; the api waits for a healthy
  db) with `ozy compose up --detach` (one CLI process), beside `ozy apply --detach`
  of the equivalent jobs (`ozy compose convert`; one CLI process per job) and
  `podman-compose up -d` of the same file, each until every service runs.

Run as root on a set-up machine (`make setup`):  .venv/bin/python bench/deploy.py [--rounds 5]

`--pull` measures the pull case instead: the first pull of an image from a loopback
registry (tests/support/registry.py: TLS, a login), by the node's runtime adapter
(`PodmanRuntime.pull_image`, as the agent pulls) against `podman pull` by hand, in the
same run, the image removed between pulls.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.support.auth import token_in_environment  # noqa: E402
from tests.support.etcd import EtcdServer  # noqa: E402
from tests.support.machine import CLUSTER_CIDR, blackholed, run  # noqa: E402
from tests.support.nodes import NodeProcess, remove_everything_of_node  # noqa: E402
from tests.support.podman import containers_with_label  # noqa: E402
from tests.support.registry import RegistryServer  # noqa: E402
from tests.support.waiting import wait_until  # noqa: E402

from ozymandias.runtime.models import RegistryAccess  # noqa: E402
from ozymandias.runtime.podman import PodmanRuntime  # noqa: E402

WEB = "localhost/ozy-example-web:latest"
DB = "localhost/ozy-example-db:latest"
INSTANCES = 3
RAW_NETWORK = "ozy-bench-raw"
RAW_SUBNET = "10.213.251.0/24"

JOB = f"""
name: bench
numInstances: {INSTANCES}
containers:
  app:
    image: {WEB}
    memory: 64M
    depends_on: [db]
  db:
    image: {DB}
    memory: 32M
"""

# podman-compose ignores `deploy.replicas`, so each instance is its own pair of services.
COMPOSE = "services:\n" + "".join(
    f"""
  db{index}:
    image: {DB}
    mem_limit: 32m
  app{index}:
    image: {WEB}
    mem_limit: 64m
    depends_on: [db{index}]
"""
    for index in range(INSTANCES)
)


def timed(action: Callable[[], None]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def ozymandias_round(node: NodeProcess) -> float:
    def deploy() -> None:
        response = node.apply(JOB)
        assert response.status_code == 201, response.text
        while True:
            items = node.instances("bench")
            if len(items) == INSTANCES and all(i["state"] == "running" for i in items):
                return
            time.sleep(0.005)

    elapsed = timed(deploy)
    node.request("DELETE", "/v1/jobs/bench")
    wait_until(lambda: not containers_with_label("ozy.job=bench"), what="bench containers gone")
    return elapsed


def raw_pod(index: int) -> None:
    name = f"ozy-bench-raw-{index}"
    run("podman", "pod", "create", "--name", name, "--network", RAW_NETWORK)
    run("podman", "run", "-d", "--pod", name, "--memory", "32m", "--name", f"{name}-db", DB)
    run("podman", "run", "-d", "--pod", name, "--memory", "64m", "--name", f"{name}-app", WEB)


def remove_raw_pods() -> None:
    for index in range(INSTANCES):
        run("podman", "pod", "rm", "-f", "-t", "0", f"ozy-bench-raw-{index}", check=False)


def raw_sequential_round() -> float:
    def one_after_another() -> None:
        for index in range(INSTANCES):
            raw_pod(index)

    elapsed = timed(one_after_another)
    remove_raw_pods()
    return elapsed


def raw_parallel_round() -> float:
    def all_at_once() -> None:
        threads = [threading.Thread(target=raw_pod, args=(i,)) for i in range(INSTANCES)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    elapsed = timed(all_at_once)
    remove_raw_pods()
    return elapsed


def compose_round(directory: Path) -> float | None:
    compose = Path(sys.executable).parent / "podman-compose"  # the venv running this
    if not compose.exists():
        return None
    (directory / "compose.yaml").write_text(COMPOSE)
    command = [str(compose), "-p", "ozybench", "-f", str(directory / "compose.yaml")]

    def up_until_running() -> None:
        subprocess.run([*command, "up", "-d"], check=True, capture_output=True, timeout=120)
        wait_until(
            lambda: (
                len(
                    [
                        c
                        for c in containers_with_label("io.podman.compose.project=ozybench")
                        if c["State"] == "running"
                    ]
                )
                == 2 * INSTANCES
            ),
            interval=0.005,
            what="compose containers running",
        )

    try:
        return timed(up_until_running)
    finally:
        subprocess.run([*command, "down", "-t", "0"], check=False, capture_output=True, timeout=120)


# The pull case: an image of one 32 MiB layer of random bytes, which nothing else on the
# machine shares, so each first pull really moves it (through TLS, with a login).
PULL_LAYER_BYTES = 32 * 1024 * 1024


def pull_case(rounds: int) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        directory = Path(scratch)
        (directory / "registry").mkdir()
        registry = RegistryServer(directory / "registry")
        local = "localhost/ozy-bench-pull:latest"
        try:
            registry.start()
            image = f"{registry.host}/ozy-bench-pull:1"
            build = directory / "build"
            build.mkdir()
            (build / "blob").write_bytes(os.urandom(PULL_LAYER_BYTES))
            (build / "Containerfile").write_text("FROM scratch\nCOPY blob /blob\n")
            run("podman", "build", "--quiet", "-t", local, str(build), timeout=300)
            creds = f"{registry.username}:{registry.password}"
            cert_dir = str(registry.cert_dir)
            run("podman", "push", "--quiet", "--creds", creds, "--cert-dir", cert_dir, local, image)
            run("podman", "rmi", local)
            access = RegistryAccess(
                registry.username, registry.password, registry.ca_pem.read_text()
            )
            samples = asyncio.run(_pull_rounds(rounds, directory, image, access, creds, cert_dir))
        finally:
            registry.stop()
            run("podman", "rmi", "--ignore", local, check=False)
    print(f"First pull of a {PULL_LAYER_BYTES // 2**20} MiB image from a loopback registry:")
    for method, values in samples.items():
        print(f"  {method:<26} {summary(values)}")
    ours = statistics.median(samples["ozymandias runtime pull"])
    theirs = statistics.median(samples["podman pull"])
    print(f"  ozymandias / podman pull = {ours / theirs:.2f} (goal: at most 1.10)")


async def _pull_rounds(
    rounds: int, directory: Path, image: str, access: RegistryAccess, creds: str, cert_dir: str
) -> dict[str, list[float]]:
    samples: dict[str, list[float]] = {"ozymandias runtime pull": [], "podman pull": []}
    by_hand = ["podman", "pull", "--quiet", "--creds", creds, "--cert-dir", cert_dir, image]
    runtime = PodmanRuntime(directory / "podman.sock", home=directory / "podman-home")
    async with runtime:
        for round_number in range(rounds):
            start = time.perf_counter()
            await runtime.pull_image(image, access)
            samples["ozymandias runtime pull"].append(time.perf_counter() - start)
            run("podman", "rmi", image)
            start = time.perf_counter()
            run(*by_hand, timeout=300)
            samples["podman pull"].append(time.perf_counter() - start)
            run("podman", "rmi", image)
            print(f"round {round_number + 1}/{rounds} done", file=sys.stderr)
    return samples


# The compose case.

SHOP = REPO / "examples" / "compose" / "shop" / "compose.yaml"
SERVICES = ("web", "api", "db")


def ozy(node: NodeProcess, *arguments: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "ozymandias.cli.main", *arguments],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "OZY_API": node.api, "PYTHONPATH": str(REPO / "src")},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def all_running(node: NodeProcess, project: str) -> bool:
    for service in SERVICES:
        items = node.instances(f"{project}-{service}")
        if not items or any(item["state"] != "running" for item in items):
            return False
    return True


def timed_until_running(node: NodeProcess, project: str, submit: Callable[[], object]) -> float:
    start = time.perf_counter()
    submit()
    wait_until(
        lambda: all_running(node, project), interval=0.005, timeout=120, what=f"{project} running"
    )
    return time.perf_counter() - start


def compose_up_round(node: NodeProcess) -> float:
    project = "benchup"
    try:
        return timed_until_running(
            node,
            project,
            lambda: ozy(node, "compose", "up", "--detach", "-f", str(SHOP), "-p", project),
        )
    finally:
        ozy(node, "compose", "down", "-p", project, "--yes")
        wait_until(lambda: not containers_with_label(f"ozy.job={project}-db"), what="gone")


def apply_round(node: NodeProcess, directory: Path) -> float:
    project = "benchapply"
    jobs = list(yaml.safe_load_all(ozy(node, "compose", "convert", "-f", str(SHOP), "-p", project)))
    paths = []
    for job in jobs:
        path = directory / f"{job['name']}.yaml"
        path.write_text(yaml.safe_dump(job))
        paths.append(path)
    # The DNS names compose up makes, made beforehand: not part of applying jobs.
    for service in SERVICES:
        ozy(node, "alias", "set", f"{service}.{project}", f"{project}-{service}.job")

    def apply_each() -> None:
        for path in paths:
            ozy(node, "apply", "--detach", "-f", str(path))

    try:
        return timed_until_running(node, project, apply_each)
    finally:
        ozy(node, "compose", "down", "-p", project, "--yes")
        wait_until(lambda: not containers_with_label(f"ozy.job={project}-db"), what="gone")


def podman_compose_round() -> float | None:
    compose = Path(sys.executable).parent / "podman-compose"  # the venv running this
    if not compose.exists():
        return None
    command = [str(compose), "-p", "benchpc", "-f", str(SHOP)]

    def up() -> None:
        subprocess.run([*command, "up", "-d"], check=True, capture_output=True, timeout=300)
        wait_until(
            lambda: (
                len(
                    [
                        c
                        for c in containers_with_label("io.podman.compose.project=benchpc")
                        if c["State"] == "running"
                    ]
                )
                == len(SERVICES)
            ),
            interval=0.005,
            what="podman-compose containers running",
        )

    start = time.perf_counter()
    try:
        up()
        return time.perf_counter() - start
    finally:
        subprocess.run([*command, "down", "-t", "0"], check=False, capture_output=True, timeout=120)


def compose_rounds(node: NodeProcess, directory: Path, results: dict[str, list[float]]) -> None:
    """One round of each compose case, appended to `results`."""
    with token_in_environment():
        results.setdefault("compose: ozy compose up", []).append(compose_up_round(node))
        results.setdefault("compose: ozy apply x3", []).append(apply_round(node, directory))
    podman = podman_compose_round()
    if podman is not None:
        results.setdefault("compose: podman-compose", []).append(podman)


def summary(samples: list[float]) -> str:
    return (
        f"median {statistics.median(samples):.3f}s  "
        f"min {min(samples):.3f}s  max {max(samples):.3f}s  (n={len(samples)})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--pull", action="store_true", help="the pull case only (see above)")
    args = parser.parse_args()
    if args.pull:
        return pull_case(args.rounds)

    results: dict[str, list[float]] = {
        "ozymandias": [],
        "raw podman, sequential": [],
        "raw podman, parallel": [],
        "podman-compose": [],
    }
    with tempfile.TemporaryDirectory() as scratch, blackholed(CLUSTER_CIDR):
        directory = Path(scratch)
        etcd = EtcdServer(directory / "etcd" / "data")
        (directory / "etcd").mkdir()
        node = NodeProcess(
            "bench", "", directory / "nodes", pod_subnet="10.213.250.0/24", log_level="INFO"
        )
        try:
            etcd.start()
            node.etcd_url = etcd.url
            node.start()
            run("podman", "network", "create", "--subnet", RAW_SUBNET, RAW_NETWORK)
            for round_number in range(args.rounds):
                results["ozymandias"].append(ozymandias_round(node))
                results["raw podman, sequential"].append(raw_sequential_round())
                results["raw podman, parallel"].append(raw_parallel_round())
                compose = compose_round(directory)
                if compose is not None:
                    results["podman-compose"].append(compose)
                compose_rounds(node, directory, results)
                print(f"round {round_number + 1}/{args.rounds} done", file=sys.stderr)
        finally:
            remove_raw_pods()
            node.stop()
            remove_everything_of_node("bench")
            run("podman", "network", "rm", "-f", RAW_NETWORK, check=False)
            etcd.stop()

    print(f"Deploy {INSTANCES} instances × 2 containers (compose: 3 services), until all run:")
    for method, samples in results.items():
        if samples:
            print(f"  {method:<24} {summary(samples)}")
    ozy = statistics.median(results["ozymandias"])
    parallel = statistics.median(results["raw podman, parallel"])
    print(f"  ozymandias / raw parallel = {ozy / parallel:.2f} (goal: at most 1.10)")
    if results["podman-compose"]:
        compose = statistics.median(results["podman-compose"])
        print(f"  ozymandias / podman-compose = {ozy / compose:.2f}")
    up = statistics.median(results["compose: ozy compose up"])
    applied = statistics.median(results["compose: ozy apply x3"])
    print(f"  compose up / ozy apply = {up / applied:.2f} (goal: at most 1.10)")
    if results.get("compose: podman-compose"):
        podman = statistics.median(results["compose: podman-compose"])
        print(f"  compose up / podman-compose = {up / podman:.2f} (goal: under 1)")


if __name__ == "__main__":
    main()
