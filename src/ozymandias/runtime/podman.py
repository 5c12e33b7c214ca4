"""The podman runtime adapter: the only code in Ozymandias that talks to podman.

It talks to podman's libpod REST API (v4) over a unix socket served by a
`podman system service` child it owns (see podman_service.py). Going through
the API rather than the CLI saves a process start per operation (a container
create + start takes ~125 ms against ~215 ms with the CLI) and gives a stream
of events, so container exits are learned as they happen instead of by polling.

`PodmanRuntime` is the one class users construct; this module holds its
networks, pods and containers. The rest is split by concern:
podman_connection.py (the service, the HTTP client and error translation),
podman_json.py (pure JSON <-> model translation), podman_exec.py (exec
sessions) and podman_streams.py (logs and the exit event stream).
"""

from __future__ import annotations

import asyncio
import json
import logging
import shutil
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterable
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Self, TypeVar, cast

from ozymandias.runtime import podman_streams
from ozymandias.runtime.models import (
    POD_LABEL,
    BridgeNetwork,
    ContainerExit,
    ContainerNotFound,
    ContainerPlan,
    ContainerRun,
    ExecExit,
    ExecOutput,
    ImageNotFound,
    LogEntry,
    PodInfo,
    PodmanError,
    PodPlan,
    RegistryAccess,
    RuntimeUnavailable,
    StreamConnected,
)
from ozymandias.runtime.oom_kills import OomKills
from ozymandias.runtime.podman_connection import COMPAT, LIBPOD, REQUEST_TIMEOUT, PodmanConnection
from ozymandias.runtime.podman_exec import run_exec, stream_exec
from ozymandias.runtime.podman_images import ImagePuller
from ozymandias.runtime.podman_json import (
    container_spec,
    label_filters,
    pod_infos,
    pod_spec,
    running_containers,
)
from ozymandias.spec.models import MAX_STOP_GRACE_SECONDS

log = logging.getLogger(__name__)

T = TypeVar("T")
U = TypeVar("U")


class PodmanRuntime:
    """Runs job instances as podman pods.

    Everything the adapter creates carries the caller's labels plus `ozy.pod`
    (the pod's name) and, on containers, `ozy.container` (the spec's name);
    podman names a container `<pod name>-<container name>`.
    Restart policies are the caller's job: podman's are never used.
    """

    def __init__(
        self,
        socket_path: Path,
        *,
        podman_binary: str = "podman",
        env: dict[str, str] | None = None,
        home: Path | None = None,
    ) -> None:
        """`env` is added to the daemon's environment for podman (e.g. CONTAINERS_CONF);
        `home`, a directory of the node's own, becomes the podman service's HOME, where
        registries' CAs are put (see podman_images.py)."""
        service_env = dict(env or {})
        if home is not None:
            service_env.setdefault("HOME", str(home))
        self._podman = PodmanConnection(socket_path, podman_binary, service_env or None)
        self._oom_kills = OomKills()
        self._images = ImagePuller(self._podman, home)
        self._home = home

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    @property
    def pulls_started(self) -> int:
        """Pulls sent to podman since the start; concurrent pulls of one image count once."""
        return self._images.pulls_started

    async def image_present(self, image: str) -> bool:
        return await self._images.exists(image)

    async def pull_image(
        self,
        image: str,
        access: RegistryAccess,
        progress: Callable[[str], None] | None = None,
    ) -> None:
        """Pull `image` (joining a pull of it in flight); `ImagePullFailed` with the reason."""
        await self._images.pull(image, access, progress)

    async def start(self) -> None:
        """Starts our podman service and waits until it answers."""
        if self._home is not None:
            self._home.mkdir(parents=True, exist_ok=True)
        self._oom_kills.open()
        await self._podman.start()

    async def close(self) -> None:
        """Stops the service; containers keep running under their conmon. The service's
        HOME goes with it: it holds only registries' CAs, written again before each pull."""
        await self._podman.close()
        self._oom_kills.close()
        if self._home is not None:
            shutil.rmtree(self._home, ignore_errors=True)

    async def ensure_network(self, name: str, subnet: str, mtu: int | None = None) -> None:
        """Make sure a bridge network `name` with exactly `subnet` (and `mtu`) exists.

        A network of that name with another subnet or MTU (a node whose pod
        subnet or network backend changed) is replaced; podman refuses that
        while pods still use it.
        """
        options = {"mtu": str(mtu)} if mtu is not None else {}
        response = await self._podman.call("GET", f"{LIBPOD}/networks/{name}/json", allow=(404,))
        if response.status_code == 200:
            found = response.json()
            subnets = [item.get("subnet") for item in found.get("subnets") or []]
            found_mtu = (found.get("options") or {}).get("mtu")
            if subnets == [subnet] and found_mtu == options.get("mtu"):
                return
            log.warning("network %s has subnets %s, not %s: recreating it", name, subnets, subnet)
            await self.remove_network(name)
        await self._podman.call(
            "POST",
            f"{LIBPOD}/networks/create",
            json={
                "name": name,
                "driver": "bridge",
                "subnets": [{"subnet": subnet}],
                "options": options,
            },
        )

    async def networks(self) -> list[BridgeNetwork]:
        """Every podman network on this host: name, bridge interface and IPv4 subnets."""
        response = await self._podman.call("GET", f"{LIBPOD}/networks/json")
        return [
            BridgeNetwork(
                name=found["name"],
                interface=found.get("network_interface") or "",
                subnets=tuple(
                    item["subnet"]
                    for item in found.get("subnets") or []
                    if ":" not in item.get("subnet", ":")
                ),
            )
            for found in response.json()
        ]

    async def remove_network(self, name: str) -> None:
        """Remove a network; a missing one is fine."""
        await self._podman.call("DELETE", f"{LIBPOD}/networks/{name}", allow=(404,))

    async def list_pods(self, label_filter: dict[str, str]) -> list[PodInfo]:
        """The pods carrying all the given labels, with their containers."""
        return await self._list_pods(label_filters(label_filter))

    async def run_pod(self, plan: PodPlan) -> PodInfo:
        """Creates the pod and its containers, and starts them wave by wave.

        On failure nothing of the pod is left behind (unless the pod's name was
        already taken: then that other pod is left alone).
        """
        try:
            await self._podman.call("POST", f"{LIBPOD}/pods/create", json=pod_spec(plan))
        except PodmanError as error:
            # Podman 4.3 leaves an empty pod behind when the creation fails halfway.
            if error.status != 409:
                await asyncio.shield(self._remove_pod_now(plan.pod_name))
            raise
        try:
            plans = [container for wave in plan.start_waves for container in wave]
            # Creation doesn't depend on the order of start, so all waves are created at
            # once, while the infra container (the pod's network namespace) starts.
            _, ids = await _both(
                self._podman.call("POST", f"{LIBPOD}/pods/{plan.pod_name}/start"),
                _all(self._create_container(plan, container) for container in plans),
            )
            id_of = {container.name: id_ for container, id_ in zip(plans, ids, strict=True)}
            for wave in plan.start_waves:
                await _all(self._start(id_of[container.name]) for container in wave)
            return await self._pod_info(plan.pod_name)
        except BaseException:
            await asyncio.shield(self._remove_pod_now(plan.pod_name))
            raise

    async def start_container(self, container_id: str) -> None:
        """Starts a container again (e.g. after it exited); a running one is left as is."""
        self._oom_kills.forget(container_id)
        await self._start(container_id)

    async def stop_container(self, container_id: str, *, stop_timeout: int | None = None) -> None:
        """Stops a container (its stop signal, then SIGKILL after `stop_timeout` s, by default
        its plan's `stop_timeout`); its exit is reported by `container_exits` like any other.
        A stopped or missing one is fine."""
        await self._stop(container_id, stop_timeout)

    async def remove_pod(self, pod_name: str, *, stop_timeout: int | None = None) -> None:
        """Stops (each container's stop signal, then SIGKILL after `stop_timeout` s, by
        default each container's own `stop_timeout`) and removes a pod and its
        containers. A missing pod is fine."""
        try:
            pod = (await self._podman.call("GET", f"{LIBPOD}/pods/{pod_name}/json")).json()
        except PodmanError as error:
            if error.status == 404:
                return
            raise
        # Podman's pod stop does nothing (304) when the pod is "Degraded", i.e. when any
        # container has exited, and the forced pod removal stops containers one after the
        # other, so the running containers are stopped here, concurrently.
        running = running_containers(pod)
        await _all(self._stop(container_id, stop_timeout) for container_id in running)
        await self._podman.call(
            "DELETE",
            f"{LIBPOD}/pods/{pod_name}",
            params={"force": "true", **_timeout_param(stop_timeout)},
            time_limit=_grace_limit(stop_timeout) + REQUEST_TIMEOUT,
            allow=(404,),
        )

    def container_exits(
        self, label_filter: dict[str, str]
    ) -> AsyncGenerator[ContainerExit | StreamConnected, None]:
        """Exits of our containers carrying all the given labels, as podman reports them.

        Yields `StreamConnected` first and again after each reconnection (the stream
        is re-established with a backoff of 0.1 s doubling up to 5 s, restarting the
        podman service if it died); see `StreamConnected` for what the caller must do.
        Exits of podman's infra containers are not reported; those of containers
        stopped by `remove_pod` are (code 143, or 137 when killed). Runs until closed.
        """
        return podman_streams.container_exits(self._podman, label_filter, self._oom_kills)

    # The timeout is a parameter, not the caller's business, because on expiry the
    # command must be killed: cancelling the request would leave it running.
    async def exec(
        self,
        container_id: str,
        command: list[str],
        timeout: float,  # noqa: ASYNC109
    ) -> tuple[int, str]:
        """Runs a command in a running container: (exit code, stdout and stderr merged).

        Raises TimeoutError after `timeout` seconds, having killed the command.
        Podman 4.3 keeps each API exec session, and its conmon, for `exit_command_delay`
        (containers.conf, 300 s by default); removing a pod within that time takes ~3 s
        longer, as podman then kills those conmons.
        """
        return await run_exec(self._podman, container_id, command, timeout)

    def exec_stream(
        self,
        container_id: str,
        command: list[str],
        timeout: float,
    ) -> AsyncGenerator[ExecOutput | ExecExit, None]:
        """Runs a command in a running container: its output as it comes, stdout and stderr
        apart, then its exit code. TimeoutError once it ran `timeout` seconds (it is killed
        then, and also if the caller stops reading before its end)."""
        return stream_exec(self._podman, container_id, command, timeout)

    def logs(
        self,
        container_id: str,
        *,
        follow: bool,
        tail: int | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> AsyncGenerator[LogEntry, None]:
        """The container's output, stdout and stderr merged, each frame with its time;
        `tail` lines of the past only (all if None), written after `since` and before
        `until`; with `follow`, then new output until the container stops."""
        return podman_streams.logs(
            self._podman, container_id, follow=follow, tail=tail, since=since, until=until
        )

    async def container_runs(self, container_id: str) -> list[ContainerRun]:
        """The container's runs, oldest first (a restart starts a run)."""
        return await podman_streams.container_runs(self._podman, container_id)

    # --- pods and containers ------------------------------------------------------

    async def _list_pods(self, filters: dict[str, list[str]]) -> list[PodInfo]:
        # Three concurrent calls whatever the number of pods: pods (exact labels),
        # libpod containers (states, exit codes, pod names) and compat containers (IPs).
        pod_params = {"filters": json.dumps(filters)}
        container_params = {**pod_params, "all": "true"}
        pods, containers, compat_containers = await _all(
            [
                self._podman.call("GET", f"{LIBPOD}/pods/json", params=pod_params),
                self._podman.call("GET", f"{LIBPOD}/containers/json", params=container_params),
                self._podman.call("GET", f"{COMPAT}/containers/json", params=container_params),
            ]
        )
        return pod_infos(pods.json(), containers.json(), compat_containers.json())

    async def _pod_info(self, pod_name: str) -> PodInfo:
        pods = await self._list_pods(label_filters({POD_LABEL: pod_name}))
        for pod in pods:
            if pod.name == pod_name:
                return pod
        raise PodmanError(404, f"pod {pod_name} vanished", "no such pod")

    async def _create_container(self, plan: PodPlan, container: ContainerPlan) -> str:
        spec = container_spec(plan, container)
        path = f"{LIBPOD}/containers/create"
        try:
            response = await self._podman.call("POST", path, json=spec)
        except PodmanError as error:
            # The API, unlike `podman run`, never pulls: `pull_image` comes first.
            if error.cause != "image not known":
                raise
            raise ImageNotFound(f"image {container.image} is not present") from error
        container_id: str = response.json()["Id"]
        return container_id

    async def _start(self, container_id: str) -> None:
        await self._podman.call(
            "POST",
            f"{LIBPOD}/containers/{container_id}/start",
            allow=(304,),  # already running
            not_found=ContainerNotFound,
        )

    async def _stop(self, container_id: str, grace_seconds: int | None) -> None:
        await self._podman.call(
            "POST",
            f"{LIBPOD}/containers/{container_id}/stop",
            params=_timeout_param(grace_seconds),
            time_limit=_grace_limit(grace_seconds) + REQUEST_TIMEOUT,
            allow=(304, 404),  # already stopped, or gone
        )

    async def _remove_pod_now(self, pod_name: str) -> None:
        """Clean-up after a failed run_pod; never raises, the original error matters more."""
        try:
            await self._podman.call(
                "DELETE",
                f"{LIBPOD}/pods/{pod_name}",
                params={"force": "true", "timeout": "0"},
                allow=(404,),
            )
        except (PodmanError, RuntimeUnavailable) as error:
            log.warning("could not remove pod %s after a failed start: %s", pod_name, error)


def _timeout_param(grace_seconds: int | None) -> dict[str, str]:
    # Without one, podman uses the container's own stop timeout, set at its creation.
    return {} if grace_seconds is None else {"timeout": str(grace_seconds)}


def _grace_limit(grace_seconds: int | None) -> int:
    """The longest a stop may wait for a container: the given grace, else the longest a spec
    may set."""
    return MAX_STOP_GRACE_SECONDS if grace_seconds is None else grace_seconds


async def _all(awaitables: Iterable[Awaitable[T]]) -> list[T]:
    """Awaits concurrently, lets every one finish, then raises the first failure.

    Letting all finish (rather than cancelling the rest) means nothing is still
    being created in podman when the caller cleans up after a failure.
    """
    results = await asyncio.gather(*awaitables, return_exceptions=True)
    _raise_first_failure(results)
    return cast(list[T], results)


async def _both(first: Awaitable[T], second: Awaitable[U]) -> tuple[T, U]:
    """`_all` for two awaitables of different types."""
    results = await asyncio.gather(first, second, return_exceptions=True)
    _raise_first_failure(results)
    return cast(tuple[T, U], tuple(results))


def _raise_first_failure(results: Iterable[object]) -> None:
    for result in results:
        if isinstance(result, BaseException):
            raise result
