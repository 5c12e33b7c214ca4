"""The podman runtime adapter against the real podman of this machine.

Every test uses its own pod names and job label, and removes what it made even
when it fails. The pods use podman's default network, so no route is needed.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import TypeVar

import pytest

from ozymandias.runtime import (
    ContainerExit,
    ContainerPlan,
    ImageNotFound,
    PodInfo,
    PodmanError,
    PodmanRuntime,
    PodPlan,
    StreamConnected,
)
from ozymandias.runtime.framing import StreamDemuxer

pytestmark = pytest.mark.integration

IMAGE = "localhost/ozy-test-busybox:latest"
MEMORY = 64 * 1024 * 1024
SLEEP = ["sleep", "3600"]
# Marks everything these tests create, for the final leftover check.
RUN_LABEL = {"ozy.test-run": uuid.uuid4().hex[:12]}
T = TypeVar("T")


def podman(*arguments: str, check: bool = True) -> str:
    return subprocess.run(
        ["podman", *arguments], capture_output=True, text=True, check=check
    ).stdout.strip()


def exists(kind: str, name: str) -> bool:
    return subprocess.run(["podman", kind, "exists", name], check=False).returncode == 0


def ensure_test_image() -> None:
    """Imports a busybox-only image with every applet: no registry is needed."""
    if exists("image", IMAGE):
        return
    with tempfile.TemporaryDirectory() as root:
        bin_dir = Path(root) / "bin"
        bin_dir.mkdir()
        shutil.copy("/usr/bin/busybox", bin_dir / "busybox")
        applets = subprocess.run(
            ["busybox", "--list"], capture_output=True, text=True, check=True
        ).stdout.split()
        for applet in set(applets) - {"busybox"}:
            (bin_dir / applet).symlink_to("busybox")
        tar = subprocess.Popen(["tar", "-C", root, "-c", "."], stdout=subprocess.PIPE)
        subprocess.run(
            ["podman", "import", "--change", 'CMD ["/bin/sh"]', "-", IMAGE],
            stdin=tar.stdout,
            capture_output=True,
            check=True,
        )
        tar.wait()


def service_pids(socket_path: Path) -> list[int]:
    found = subprocess.run(
        ["pgrep", "-f", f"podman system service --time=0 unix://{socket_path}"],
        capture_output=True,
        text=True,
        check=False,
    )
    return [int(pid) for pid in found.stdout.split()]


def is_gone(pid: int) -> bool:
    """Dead, or a zombie nobody has reaped yet."""
    try:
        return "State:\tZ" in Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return True


async def eventually(check: Callable[[], Awaitable[T]], *, within: float = 10.0) -> T:
    """Polls until `check` returns something truthy."""
    async with asyncio.timeout(within):
        while True:
            if result := await check():
                return result
            await asyncio.sleep(0.1)


@pytest.fixture(scope="module", autouse=True)
def image_and_leftover_check() -> Iterator[None]:
    """Provides the test image; afterwards, checks that the tests left no container,
    pod or podman service behind."""
    ensure_test_image()
    yield
    label = "ozy.test-run={}".format(RUN_LABEL["ozy.test-run"])
    assert podman("ps", "-a", "-q", "--filter", f"label={label}") == ""
    assert podman("pod", "ps", "-q", "--filter", f"label={label}") == ""
    assert service_pids(Path(tempfile.gettempdir()) / "ozy-rt-") == []


@pytest.fixture
def socket_path() -> Iterator[Path]:
    # Short: a unix socket path can't exceed 107 bytes, pytest's tmp_path can.
    directory = Path(tempfile.mkdtemp(prefix="ozy-rt-"))
    yield directory / "podman.sock"
    shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
async def runtime(socket_path: Path) -> AsyncIterator[PodmanRuntime]:
    async with PodmanRuntime(socket_path) as started:
        yield started


@pytest.fixture
def job() -> str:
    return f"rt-{uuid.uuid4().hex[:8]}"


@pytest.fixture
async def pods(runtime: PodmanRuntime, job: str) -> AsyncIterator[list[str]]:
    """Names of the pods a test made: removed at the end, whatever happened."""
    names: list[str] = []
    yield names
    for name in names:
        await runtime.remove_pod(name, stop_timeout=0)
    for leftover in podman("pod", "ps", "-q", "--filter", f"label=ozy.job={job}").split():
        podman("pod", "rm", "-f", "-t", "0", leftover, check=False)


def container(name: str, command: list[str], **environment: str) -> ContainerPlan:
    return ContainerPlan(name, IMAGE, command, environment, MEMORY)


def plan(job: str, index: int, *waves: list[ContainerPlan]) -> PodPlan:
    return PodPlan(
        pod_name=f"{job}-{index}",
        labels={**RUN_LABEL, "ozy.job": job, "ozy.index": str(index)},
        network=None,
        hostname=f"{job}-{index}",
        start_waves=list(waves),
    )


async def run(runtime: PodmanRuntime, pods: list[str], pod_plan: PodPlan) -> PodInfo:
    pods.append(pod_plan.pod_name)
    return await runtime.run_pod(pod_plan)


def by_name(pod: PodInfo) -> dict[str, str]:
    return {c.name: c.id for c in pod.containers}


async def test_run_pod_starts_the_waves_with_labels(
    runtime: PodmanRuntime, pods: list[str], job: str
) -> None:
    pod = await run(
        runtime, pods, plan(job, 0, [container("db", SLEEP)], [container("app", SLEEP)])
    )

    assert pod.name == f"{job}-0"
    assert pod.labels == {**RUN_LABEL, "ozy.job": job, "ozy.index": "0", "ozy.pod": pod.name}
    assert pod.ip.count(".") == 3
    assert [(c.name, c.state) for c in pod.containers] == [("app", "running"), ("db", "running")]
    for started in pod.containers:
        assert started.labels["ozy.job"] == job
        assert started.labels["ozy.pod"] == pod.name
        assert started.labels["ozy.container"] == started.name
        assert started.started_at is not None
        assert started.exit_code is None
    db_started, app_started = (
        int(podman("inspect", "--format", "{{.State.StartedAt.UnixNano}}", by_name(pod)[name]))
        for name in ("db", "app")
    )
    assert db_started < app_started
    # Containers share the pod's UTS namespace: the hostname is the pod's.
    assert await runtime.exec(by_name(pod)["app"], ["hostname"], 5) == (0, f"{job}-0\n")


async def test_network_and_dns_servers_are_applied(
    runtime: PodmanRuntime, pods: list[str], job: str
) -> None:
    on_network = replace(
        plan(job, 0, [container("app", SLEEP)]), network="podman", dns_servers=["192.0.2.53"]
    )
    pod = await run(runtime, pods, on_network)

    assert pod.ip.startswith("10.88.")  # podman's default network
    exit_code, resolv_conf = await runtime.exec(by_name(pod)["app"], ["cat", "/etc/resolv.conf"], 5)
    assert exit_code == 0
    assert "nameserver 192.0.2.53" in resolv_conf.splitlines()


async def test_memory_limit_and_environment_are_visible_inside(
    runtime: PodmanRuntime, pods: list[str], job: str
) -> None:
    app = container("app", SLEEP, GREETING="hello from ozymandias")
    pod = await run(runtime, pods, plan(job, 0, [app]))
    app_id = by_name(pod)["app"]

    cgroup = "/sys/fs/cgroup/memory"  # cgroup v1 on this machine
    limits = f"cat {cgroup}/memory.limit_in_bytes {cgroup}/memory.memsw.limit_in_bytes"
    assert await runtime.exec(app_id, ["sh", "-c", limits], 5) == (0, f"{MEMORY}\n{MEMORY}\n")
    assert await runtime.exec(app_id, ["sh", "-c", "echo $GREETING"], 5) == (
        0,
        "hello from ozymandias\n",
    )
    assert await runtime.exec(app_id, ["sh", "-c", "echo oops >&2; exit 4"], 5) == (4, "oops\n")


async def test_exits_are_streamed_and_start_container_restarts(
    runtime: PodmanRuntime, pods: list[str], job: str
) -> None:
    exits = runtime.container_exits({"ozy.job": job})
    try:
        assert await asyncio.wait_for(anext(exits), 10) == StreamConnected()
        pod = await run(runtime, pods, plan(job, 0, [container("once", ["sh", "-c", "exit 3"])]))
        once = by_name(pod)["once"]

        first = await asyncio.wait_for(anext(exits), 10)
        assert first == ContainerExit(
            container_id=once,
            pod_name=pod.name,
            container_name="once",
            exit_code=3,
            labels={
                **RUN_LABEL,
                "ozy.job": job,
                "ozy.index": "0",
                "ozy.pod": pod.name,
                "ozy.container": "once",
            },
            oom_killed=False,
        )
        [listed] = await runtime.list_pods({"ozy.job": job})
        [listed_once] = listed.containers
        assert listed_once.exit_code == 3
        # "stopped" until podman's clean-up process has run, then "exited".
        assert listed_once.state in ("stopped", "exited")

        await runtime.start_container(once)
        again = await asyncio.wait_for(anext(exits), 10)
        assert isinstance(again, ContainerExit)
        assert (again.container_id, again.exit_code) == (once, 3)
    finally:
        await exits.aclose()


async def test_exit_stream_reconnects_after_the_service_dies(
    runtime: PodmanRuntime, socket_path: Path, pods: list[str], job: str
) -> None:
    exits = runtime.container_exits({"ozy.job": job})
    try:
        assert await asyncio.wait_for(anext(exits), 10) == StreamConnected()
        [service] = service_pids(socket_path)
        os.kill(service, signal.SIGKILL)

        assert await asyncio.wait_for(anext(exits), 20) == StreamConnected()
        assert service_pids(socket_path) not in ([], [service])
        pod = await run(runtime, pods, plan(job, 0, [container("once", ["sh", "-c", "exit 5"])]))
        exited = await asyncio.wait_for(anext(exits), 10)
        assert isinstance(exited, ContainerExit)
        assert (exited.container_id, exited.exit_code) == (by_name(pod)["once"], 5)
    finally:
        await exits.aclose()


async def test_an_oom_kill_is_told_from_a_plain_sigkill(
    runtime: PodmanRuntime, pods: list[str], job: str
) -> None:
    exits = runtime.container_exits({"ozy.job": job})
    try:
        assert await asyncio.wait_for(anext(exits), 10) == StreamConnected()
        # A shell variable growing past the 64 MiB limit, in the shell itself:
        # the kernel kills the container's first process.
        hog = container("hog", ["sh", "-c", 'x=x; while true; do x="$x$x"; done'])
        # The same exit code from a SIGKILL that is not the OOM killer's: a child
        # shell kills itself (the container's first process, its namespace's
        # init, would not die of its own SIGKILL) and the first one exits 128 + 9.
        kill_itself = 'sleep 1; sh -c "kill -9 \\$\\$"; exit $?'
        killed = container("killed", ["sh", "-c", kill_itself])
        await run(runtime, pods, plan(job, 0, [hog, killed]))
        seen: dict[str, tuple[int, bool]] = {}
        while len(seen) < 2:
            exited = await asyncio.wait_for(anext(exits), 30)
            # podman ends the stream when it rotates its (host-wide) events log: a reconnect.
            if isinstance(exited, StreamConnected):
                continue
            assert isinstance(exited, ContainerExit)
            seen[exited.container_name] = (exited.exit_code, exited.oom_killed)
        assert seen == {"hog": (137, True), "killed": (137, False)}
    finally:
        await exits.aclose()


async def test_remove_pod_leaves_nothing_and_is_idempotent(
    runtime: PodmanRuntime, pods: list[str], job: str
) -> None:
    pod = await run(runtime, pods, plan(job, 0, [container("db", SLEEP), container("app", SLEEP)]))
    # A recent exec session makes podman's removal slower (see PodmanRuntime.exec).
    await runtime.exec(by_name(pod)["app"], ["true"], 5)

    await runtime.remove_pod(pod.name, stop_timeout=1)

    assert await runtime.list_pods({"ozy.job": job}) == []
    assert podman("ps", "-a", "-q", "--filter", f"label=ozy.job={job}") == ""
    assert not exists("pod", pod.name)
    await runtime.remove_pod(pod.name)


@pytest.mark.parametrize(
    "image", ["localhost/ozy-does-not-exist", "docker.io/ozymandias/does-not-exist:1"]
)
async def test_a_missing_image_fails_and_leaves_nothing(
    runtime: PodmanRuntime, pods: list[str], job: str, image: str
) -> None:
    missing = ContainerPlan("app", image, None, {}, MEMORY)
    doomed = plan(job, 0, [container("db", SLEEP)], [missing])

    # run_pod never pulls: the agent pulls first, as the container's policy says.
    with pytest.raises(ImageNotFound, match=f"{image} is not present"):
        await run(runtime, pods, doomed)

    assert await runtime.list_pods({"ozy.job": job}) == []
    assert podman("ps", "-a", "-q", "--filter", f"label=ozy.job={job}") == ""


async def test_a_failing_start_leaves_nothing(
    runtime: PodmanRuntime, pods: list[str], job: str
) -> None:
    doomed = plan(job, 0, [container("db", SLEEP)], [container("app", ["/no/such/program"])])

    with pytest.raises(PodmanError, match="/no/such/program"):
        await run(runtime, pods, doomed)

    assert await runtime.list_pods({"ozy.job": job}) == []
    assert podman("ps", "-a", "-q", "--filter", f"label=ozy.job={job}") == ""


async def test_list_pods_matches_all_labels(
    runtime: PodmanRuntime, pods: list[str], job: str
) -> None:
    await asyncio.gather(
        run(runtime, pods, plan(job, 0, [container("app", SLEEP)])),
        run(runtime, pods, plan(job, 1, [container("app", SLEEP)])),
    )

    assert sorted(p.name for p in await runtime.list_pods({"ozy.job": job})) == [
        f"{job}-0",
        f"{job}-1",
    ]
    [second] = await runtime.list_pods({"ozy.job": job, "ozy.index": "1"})
    assert second.name == f"{job}-1"
    assert second.ip and [c.state for c in second.containers] == ["running"]
    assert await runtime.list_pods({"ozy.job": job, "ozy.index": "2"}) == []


async def test_logs_are_demultiplexed(runtime: PodmanRuntime, pods: list[str], job: str) -> None:
    # conmon reads stdout and stderr from separate pipes, so only the pause orders them.
    script = "echo out; echo err >&2; sleep 0.3; echo last; sleep 3600"
    pod = await run(runtime, pods, plan(job, 0, [container("talker", ["sh", "-c", script])]))
    talker_id = by_name(pod)["talker"]

    async def everything_once_written() -> bytes:
        logged = b"".join([e.data async for e in runtime.logs(talker_id, follow=False)])
        return logged if logged.endswith(b"last\n") else b""

    logged = await eventually(everything_once_written)
    assert sorted(logged.splitlines()) == [b"err", b"last", b"out"]
    tail = [e.data async for e in runtime.logs(talker_id, follow=False, tail=1)]
    assert tail == [b"last\n"]


async def test_exec_timeout_kills_the_command(
    runtime: PodmanRuntime, pods: list[str], job: str
) -> None:
    pod = await run(runtime, pods, plan(job, 0, [container("app", SLEEP)]))
    app = by_name(pod)["app"]

    with pytest.raises(TimeoutError):
        await runtime.exec(app, ["sleep", "30"], 0.5)

    # Only the container's own `sleep 3600`, PID 1 in its namespace, is left.
    assert await runtime.exec(app, ["pidof", "sleep"], 5) == (0, "1\n")


async def test_start_replaces_a_leftover_service_and_containers_outlive_the_daemon(
    socket_path: Path, job: str
) -> None:
    """A daemon killed with SIGKILL takes its podman service along but not its
    containers; the next daemon starts its own service and finds them."""
    pod_plan = plan(job, 0, [container("app", SLEEP)])
    daemon = f"""
import asyncio
from pathlib import Path
from ozymandias.runtime import PodmanRuntime, PodPlan, ContainerPlan

async def main() -> None:
    runtime = PodmanRuntime(Path({str(socket_path)!r}))
    await runtime.start()
    await runtime.run_pod({pod_plan!r})
    print("started", flush=True)
    await asyncio.sleep(3600)

asyncio.run(main())
"""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", daemon, stdout=subprocess.PIPE
    )
    try:
        assert process.stdout is not None
        assert await asyncio.wait_for(process.stdout.readline(), 30) == b"started\n"
        [service] = service_pids(socket_path)
        process.kill()
        await process.wait()

        async def service_gone() -> bool:
            return is_gone(service)

        await eventually(service_gone)

        # A stale socket file is no obstacle, and a service still answering on the
        # socket (as if PR_SET_PDEATHSIG had failed) is replaced.
        await asyncio.to_thread(socket_path.touch)
        leftover = await asyncio.create_subprocess_exec(
            "podman", "system", "service", "--time=0", f"unix://{socket_path}"
        )

        async def leftover_listening() -> bool:
            try:
                _, writer = await asyncio.open_unix_connection(socket_path)
            except OSError:
                return False
            writer.close()
            return True

        try:
            await eventually(leftover_listening)
            async with PodmanRuntime(socket_path) as runtime:
                await asyncio.wait_for(leftover.wait(), 10)
                assert service_pids(socket_path) not in ([], [leftover.pid])

                [adopted] = await runtime.list_pods({"ozy.job": job})
                assert [c.state for c in adopted.containers] == ["running"]
                await runtime.remove_pod(pod_plan.pod_name, stop_timeout=0)
        finally:
            if leftover.returncode is None:
                leftover.kill()
                await leftover.wait()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
        podman("pod", "rm", "-f", "-t", "0", pod_plan.pod_name, check=False)


def test_stream_demuxer_splits_frames_across_chunks() -> None:
    framed = b"\x01\0\0\0\0\0\0\x03out" + b"\x02\0\0\0\0\0\0\x04err\n"
    demuxer = StreamDemuxer()
    payloads = [payload for i in range(len(framed)) for payload in demuxer.feed(framed[i : i + 1])]
    assert payloads == [b"out", b"err\n"]
    assert demuxer.flush() == b""

    raw = StreamDemuxer()
    assert raw.feed(b"hi") == []  # too short to tell yet
    assert raw.feed(b" there, raw tty") == [b"hi there, raw tty"]
    assert raw.flush() == b""
