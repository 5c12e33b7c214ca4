"""How long the runtime adapter takes to start pods, against raw podman CLI calls.

Run as root on a machine with podman: `.venv/bin/python bench/runtime_start.py`.
Each figure is the median of several rounds; pods are removed between rounds.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.integration.test_runtime import IMAGE, ensure_test_image

from ozymandias.runtime import ContainerPlan, PodmanRuntime, PodPlan

MEMORY = 64 * 1024 * 1024


def two_wave_plan(pod_name: str) -> PodPlan:
    return PodPlan(
        pod_name=pod_name,
        labels={"ozy.job": "bench"},
        network=None,
        hostname=pod_name,
        start_waves=[
            [ContainerPlan("db", IMAGE, ["sleep", "3600"], {}, MEMORY)],
            [ContainerPlan("app", IMAGE, ["sleep", "3600"], {}, MEMORY)],
        ],
    )


async def podman(*args: str) -> None:
    process = await asyncio.create_subprocess_exec(
        "podman", *args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    if await process.wait() != 0:
        raise RuntimeError(f"podman {' '.join(args)} failed")


async def raw_cli_pod(pod_name: str) -> None:
    """The baseline: `podman pod create && podman run && podman run`."""
    await podman("pod", "create", "--name", pod_name, "--label", "ozy.job=bench")
    for container in ("db", "app"):
        await podman(
            "run", "-d", "--pod", pod_name, "--name", f"{pod_name}-{container}",
            "--memory", str(MEMORY), "--memory-swap", str(MEMORY), IMAGE, "sleep", "3600",
        )  # fmt: skip


async def median_seconds(
    rounds: int, pods: int, start: Callable[[str], Awaitable[object]], runtime: PodmanRuntime
) -> float:
    durations = []
    for _ in range(rounds):
        names = [f"bench-{uuid.uuid4().hex[:8]}" for _ in range(pods)]
        began = time.perf_counter()
        await asyncio.gather(*(start(name) for name in names))
        durations.append(time.perf_counter() - began)
        await asyncio.gather(*(runtime.remove_pod(name, stop_timeout=0) for name in names))
    return statistics.median(durations)


async def main(rounds: int) -> None:
    ensure_test_image()
    with tempfile.TemporaryDirectory() as directory:
        async with PodmanRuntime(Path(directory) / "podman.sock") as runtime:

            async def run_pod(pod_name: str) -> None:
                await runtime.run_pod(two_wave_plan(pod_name))

            for pods in (1, 3):
                for label, start in (("raw podman CLI", raw_cli_pod), ("run_pod", run_pod)):
                    seconds = await median_seconds(rounds, pods, start, runtime)
                    print(f"{pods} pod(s) x 2 containers, 2 waves, {label:22}: {seconds:.3f} s")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    asyncio.run(main(parser.parse_args().rounds))
