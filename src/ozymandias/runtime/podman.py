"""The podman runtime adapter: the only code in Ozymandias that talks to podman.

It talks to podman's libpod REST API (v4) over a unix socket served by a
`podman system service` child it owns (see service.py). Going through the API
rather than the CLI saves a process start per operation (a container create +
start takes ~125 ms against ~215 ms with the CLI) and gives a stream of events,
so container exits are learned as they happen instead of by polling.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
from collections import defaultdict
from collections.abc import AsyncGenerator, Awaitable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Self, TypeVar, cast

import httpx

from ozymandias.runtime.framing import StreamDemuxer
from ozymandias.runtime.models import (
    CONTAINER_LABEL,
    POD_LABEL,
    ContainerExit,
    ContainerInfo,
    ContainerNotFound,
    ContainerPlan,
    ImageNotFound,
    PodInfo,
    PodmanError,
    PodPlan,
    RuntimeUnavailable,
    StreamConnected,
)
from ozymandias.runtime.podman_service import PodmanService

log = logging.getLogger(__name__)

_LIBPOD = "/v4.0.0/libpod"
# Only the docker-compatible container list reports IP addresses in bulk.
_COMPAT = "/v1.41"

_READY_TIMEOUT = 15.0
_REQUEST_TIMEOUT = 60.0
_PULL_TIMEOUT = 30.0
_EXEC_POLL_INTERVAL = 0.01
_RECONNECT_MIN_DELAY = 0.1
_RECONNECT_MAX_DELAY = 5.0
_EXIT_CODE_SIGKILL = 137
# Event attributes that are not container labels.
_EVENT_ATTRIBUTES = frozenset({"containerExitCode", "image", "name", "podId"})

T = TypeVar("T")
U = TypeVar("U")
Json = dict[str, Any]


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
    ) -> None:
        """`env` is added to the daemon's environment for podman (e.g. CONTAINERS_CONF)."""
        self._service = PodmanService(socket_path, podman_binary, env)
        self._client = httpx.AsyncClient(
            transport=httpx.AsyncHTTPTransport(uds=str(socket_path)),
            base_url="http://podman",  # the host is ignored over a unix socket
            timeout=_REQUEST_TIMEOUT,
        )
        self._service_lock = asyncio.Lock()
        self._closed = False

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

    async def start(self) -> None:
        """Starts our podman service and waits until it answers."""
        async with self._service_lock:
            await self._start_service()

    async def close(self) -> None:
        """Stops the service; containers keep running under their conmon."""
        self._closed = True
        await self._client.aclose()
        async with self._service_lock:
            await self._service.stop()

    async def ensure_network(self, name: str, subnet: str, mtu: int | None = None) -> None:
        """Make sure a bridge network `name` with exactly `subnet` (and `mtu`) exists.

        A network of that name with another subnet or MTU (a node whose pod
        subnet or network backend changed) is replaced; podman refuses that
        while pods still use it.
        """
        options = {"mtu": str(mtu)} if mtu is not None else {}
        response = await self._call("GET", f"{_LIBPOD}/networks/{name}/json", allow=(404,))
        if response.status_code == 200:
            found = response.json()
            subnets = [item.get("subnet") for item in found.get("subnets") or []]
            found_mtu = (found.get("options") or {}).get("mtu")
            if subnets == [subnet] and found_mtu == options.get("mtu"):
                return
            log.warning("network %s has subnets %s, not %s: recreating it", name, subnets, subnet)
            await self.remove_network(name)
        await self._call(
            "POST",
            f"{_LIBPOD}/networks/create",
            json={
                "name": name,
                "driver": "bridge",
                "subnets": [{"subnet": subnet}],
                "options": options,
            },
        )

    async def remove_network(self, name: str) -> None:
        """Remove a network; a missing one is fine."""
        await self._call("DELETE", f"{_LIBPOD}/networks/{name}", allow=(404,))

    async def list_pods(self, label_filter: dict[str, str]) -> list[PodInfo]:
        """The pods carrying all the given labels, with their containers."""
        return await self._list_pods(_label_filters(label_filter))

    async def run_pod(self, plan: PodPlan) -> PodInfo:
        """Creates the pod and its containers, and starts them wave by wave.

        On failure nothing of the pod is left behind (unless the pod's name was
        already taken: then that other pod is left alone).
        """
        try:
            await self._call("POST", f"{_LIBPOD}/pods/create", json=_pod_spec(plan))
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
                self._call("POST", f"{_LIBPOD}/pods/{plan.pod_name}/start"),
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
        await self._start(container_id)

    async def stop_container(self, container_id: str, *, stop_timeout: int = 5) -> None:
        """Stops a container (SIGTERM, then SIGKILL after `stop_timeout` s); its exit is
        reported by `container_exits` like any other. A stopped or missing one is fine."""
        await self._stop(container_id, stop_timeout)

    async def remove_pod(self, pod_name: str, *, stop_timeout: int = 5) -> None:
        """Stops (SIGTERM, then SIGKILL after `stop_timeout` s) and removes a pod and
        its containers. A missing pod is fine."""
        try:
            pod = (await self._call("GET", f"{_LIBPOD}/pods/{pod_name}/json")).json()
        except PodmanError as error:
            if error.status == 404:
                return
            raise
        # Podman's pod stop does nothing (304) when the pod is "Degraded", i.e. when any
        # container has exited, and the forced pod removal stops containers one after the
        # other, so the running containers are stopped here, concurrently.
        running = [
            container["Id"]
            for container in pod["Containers"] or []
            if container["State"] == "running" and container["Id"] != pod["InfraContainerID"]
        ]
        await _all(self._stop(container_id, stop_timeout) for container_id in running)
        await self._call(
            "DELETE",
            f"{_LIBPOD}/pods/{pod_name}",
            params={"force": "true", "timeout": str(stop_timeout)},
            time_limit=stop_timeout + _REQUEST_TIMEOUT,
            allow=(404,),
        )

    async def container_exits(
        self, label_filter: dict[str, str]
    ) -> AsyncGenerator[ContainerExit | StreamConnected, None]:
        """Exits of our containers carrying all the given labels, as podman reports them.

        Yields `StreamConnected` first and again after each reconnection (the stream
        is re-established with a backoff of 0.1 s doubling up to 5 s, restarting the
        podman service if it died); see `StreamConnected` for what the caller must do.
        Exits of podman's infra containers are not reported; those of containers
        stopped by `remove_pod` are (code 143, or 137 when killed). Runs until closed.
        """
        filters: dict[str, list[str]] = {"type": ["container"], "event": ["died"]}
        filters.update(_label_filters(label_filter))
        delay = _RECONNECT_MIN_DELAY
        loop = asyncio.get_running_loop()
        while not self._closed:
            connected_at: float | None = None
            try:
                async with self._client.stream(
                    "GET",
                    f"{_LIBPOD}/events",
                    params={
                        "stream": "true",
                        # Podman 4.3 may answer before it has opened its event log; with a
                        # `since` it reads the log from that time on, so no exit after the
                        # marker is lost.
                        "since": datetime.now(UTC).isoformat(),
                        "filters": json.dumps(filters),
                    },
                    timeout=httpx.Timeout(_REQUEST_TIMEOUT, read=None),
                ) as response:
                    await _raise_for_status(response)
                    connected_at = loop.time()
                    yield StreamConnected()
                    async for line in response.aiter_lines():
                        exit_ = _container_exit(line, label_filter) if line else None
                        if exit_ is not None:
                            yield exit_
                problem = "ended"
            except (httpx.TransportError, PodmanError) as error:
                if self._closed:
                    return
                problem = f"failed ({error!r})"
            if connected_at is not None and loop.time() - connected_at > _RECONNECT_MAX_DELAY:
                delay = _RECONNECT_MIN_DELAY  # it worked for a while: not a failure loop
            log.warning("podman event stream %s; reconnecting in %.1f s", problem, delay)
            await asyncio.sleep(delay)
            delay = min(2 * delay, _RECONNECT_MAX_DELAY)
            await self._revive_service()

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
        created = await self._call(
            "POST",
            f"{_LIBPOD}/containers/{container_id}/exec",
            json={"Cmd": command, "AttachStdout": True, "AttachStderr": True},
            not_found=ContainerNotFound,
        )
        exec_id: str = created.json()["Id"]
        try:
            async with asyncio.timeout(timeout):
                output = await self._exec_output(exec_id)
                return await self._exec_exit_code(exec_id), output
        except TimeoutError:
            await self._kill_exec(exec_id)
            raise TimeoutError(f"{command} in {container_id} ran over {timeout} s") from None

    async def logs(
        self, container_id: str, *, follow: bool, tail: int | None
    ) -> AsyncGenerator[bytes, None]:
        """The container's output, stdout and stderr merged; `tail` lines of the past only
        (all if None); with `follow`, then new output until the container stops."""
        params = {"stdout": "true", "stderr": "true", "follow": "true" if follow else "false"}
        if tail is not None:
            params["tail"] = str(tail)
        demuxer = StreamDemuxer()
        try:
            async with self._client.stream(
                "GET",
                f"{_LIBPOD}/containers/{container_id}/logs",
                params=params,
                timeout=httpx.Timeout(_REQUEST_TIMEOUT, read=None if follow else _REQUEST_TIMEOUT),
            ) as response:
                await _raise_for_status(response, not_found=ContainerNotFound)
                async for chunk in response.aiter_raw():
                    for payload in demuxer.feed(chunk):
                        yield payload
        except httpx.TransportError as error:
            raise self._unavailable(error) from error
        rest = demuxer.flush()
        if rest:
            yield rest

    # --- the service -------------------------------------------------------------

    async def _start_service(self) -> None:
        await self._service.spawn()
        try:
            await self._wait_until_ready()
        except BaseException:
            await self._service.stop()
            raise

    async def _wait_until_ready(self) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + _READY_TIMEOUT
        while True:
            if not self._service.running:
                raise RuntimeUnavailable(self._service.describe_failure())
            try:
                if (await self._client.get("/_ping", timeout=1.0)).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if loop.time() > deadline:
                raise RuntimeUnavailable(
                    f"no answer within {_READY_TIMEOUT:.0f} s: {self._service.describe_failure()}"
                )
            await asyncio.sleep(0.05)

    async def _revive_service(self) -> None:
        """Restarts the service if it died, so that the event stream can come back."""
        async with self._service_lock:
            if self._closed or self._service.running:
                return
            log.warning("%s; restarting it", self._service.describe_failure())
            try:
                await self._start_service()
            except RuntimeUnavailable as error:
                log.warning("podman service restart failed: %s", error)

    def _unavailable(self, error: Exception) -> RuntimeUnavailable:
        return RuntimeUnavailable(f"{error!r}; {self._service.describe_failure()}")

    # --- requests ----------------------------------------------------------------

    async def _call(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        json: Json | None = None,
        time_limit: float = _REQUEST_TIMEOUT,
        allow: tuple[int, ...] = (),
        not_found: type[PodmanError] = PodmanError,
    ) -> httpx.Response:
        """One request; error statuses raise PodmanError unless in `allow`."""
        try:
            response = await self._client.request(
                method, path, params=params, json=json, timeout=time_limit
            )
        except httpx.TransportError as error:
            raise self._unavailable(error) from error
        if response.status_code not in allow:
            await _raise_for_status(response, not_found=not_found)
        return response

    async def _list_pods(self, filters: dict[str, list[str]]) -> list[PodInfo]:
        # Three concurrent calls whatever the number of pods: pods (exact labels),
        # libpod containers (states, exit codes, pod names) and compat containers (IPs).
        pod_params = {"filters": json.dumps(filters)}
        container_params = {**pod_params, "all": "true"}
        pods, containers, compat_containers = await _all(
            [
                self._call("GET", f"{_LIBPOD}/pods/json", params=pod_params),
                self._call("GET", f"{_LIBPOD}/containers/json", params=container_params),
                self._call("GET", f"{_COMPAT}/containers/json", params=container_params),
            ]
        )
        ips = {container["Id"]: _ip_address(container) for container in compat_containers.json()}
        containers_of: defaultdict[str, list[ContainerInfo]] = defaultdict(list)
        for container in containers.json():
            if not container["IsInfra"]:
                containers_of[container["PodName"]].append(_container_info(container))
        return [
            PodInfo(
                name=pod["Name"],
                labels=pod["Labels"] or {},
                ip=ips.get(pod["InfraId"], ""),
                containers=sorted(containers_of[pod["Name"]], key=lambda c: c.name),
            )
            for pod in pods.json()
        ]

    async def _pod_info(self, pod_name: str) -> PodInfo:
        pods = await self._list_pods(_label_filters({POD_LABEL: pod_name}))
        for pod in pods:
            if pod.name == pod_name:
                return pod
        raise PodmanError(404, f"pod {pod_name} vanished", "no such pod")

    async def _create_container(self, plan: PodPlan, container: ContainerPlan) -> str:
        spec = _container_spec(plan, container)
        path = f"{_LIBPOD}/containers/create"
        try:
            response = await self._call("POST", path, json=spec)
        except PodmanError as error:
            # The API, unlike `podman run`, never pulls.
            if error.cause != "image not known":
                raise
            await self._pull(container.image, error)
            response = await self._call("POST", path, json=spec)
        container_id: str = response.json()["Id"]
        return container_id

    async def _pull(self, image: str, missing: PodmanError) -> None:
        if image.startswith("localhost/"):
            raise ImageNotFound(
                f"image {image} is not present (localhost/ images are never pulled)"
            ) from missing
        failure: str | None
        try:
            async with asyncio.timeout(_PULL_TIMEOUT):
                response = await self._call(
                    "POST",
                    f"{_LIBPOD}/images/pull",
                    params={"reference": image, "quiet": "true"},
                    time_limit=2 * _PULL_TIMEOUT,  # the bound is the asyncio timeout
                )
            # A failed pull still answers 200: the error is in the body's stream of JSON objects.
            reports = [json.loads(line) for line in response.text.splitlines()]
            failure = next((report["error"] for report in reports if report.get("error")), None)
        except TimeoutError:
            failure = f"no result within {_PULL_TIMEOUT:.0f} s"
        except PodmanError as error:
            failure = str(error)
        if failure is not None:
            raise ImageNotFound(
                f"image {image} is not present and pulling it failed: {failure}"
            ) from missing

    async def _start(self, container_id: str) -> None:
        await self._call(
            "POST",
            f"{_LIBPOD}/containers/{container_id}/start",
            allow=(304,),  # already running
            not_found=ContainerNotFound,
        )

    async def _stop(self, container_id: str, grace_seconds: int) -> None:
        await self._call(
            "POST",
            f"{_LIBPOD}/containers/{container_id}/stop",
            params={"timeout": str(grace_seconds)},
            time_limit=grace_seconds + _REQUEST_TIMEOUT,
            allow=(304, 404),  # already stopped, or gone
        )

    async def _remove_pod_now(self, pod_name: str) -> None:
        """Clean-up after a failed run_pod; never raises, the original error matters more."""
        try:
            await self._call(
                "DELETE",
                f"{_LIBPOD}/pods/{pod_name}",
                params={"force": "true", "timeout": "0"},
                allow=(404,),
            )
        except (PodmanError, RuntimeUnavailable) as error:
            log.warning("could not remove pod %s after a failed start: %s", pod_name, error)

    async def _exec_output(self, exec_id: str) -> str:
        demuxer = StreamDemuxer()
        payloads: list[bytes] = []
        try:
            # Podman hijacks the connection and closes it when the command is done.
            async with self._client.stream(
                "POST",
                f"{_LIBPOD}/exec/{exec_id}/start",
                json={"Detach": False, "Tty": False},
                timeout=httpx.Timeout(_REQUEST_TIMEOUT, read=None),
            ) as response:
                await _raise_for_status(response, not_found=ContainerNotFound)
                async for chunk in response.aiter_raw():
                    payloads.extend(demuxer.feed(chunk))
        except httpx.TransportError as error:
            raise self._unavailable(error) from error
        payloads.append(demuxer.flush())
        return b"".join(payloads).decode(errors="replace")

    async def _exec_exit_code(self, exec_id: str) -> int:
        # The session may be marked stopped shortly after its output ends.
        while True:
            session = (await self._call("GET", f"{_LIBPOD}/exec/{exec_id}/json")).json()
            if not session["Running"]:
                exit_code: int = session["ExitCode"]
                return exit_code
            await asyncio.sleep(_EXEC_POLL_INTERVAL)

    async def _kill_exec(self, exec_id: str) -> None:
        # The API can't stop an exec session, but its process is ours to kill.
        response = await self._call("GET", f"{_LIBPOD}/exec/{exec_id}/json", allow=(404,))
        if response.status_code == 404:
            return
        session = response.json()
        if session["Running"] and session["Pid"] > 0:
            with contextlib.suppress(ProcessLookupError):
                os.kill(session["Pid"], signal.SIGKILL)


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


async def _raise_for_status(
    response: httpx.Response, *, not_found: type[PodmanError] = PodmanError
) -> None:
    if response.status_code < 400:
        return
    await response.aread()
    try:
        body = response.json()
        message, cause = str(body["message"]), str(body.get("cause", ""))
    except (ValueError, KeyError, TypeError):
        message, cause = response.text.strip(), ""
    error_type = not_found if response.status_code == 404 else PodmanError
    raise error_type(response.status_code, message, cause)


def _label_filters(labels: dict[str, str]) -> dict[str, list[str]]:
    return {"label": [f"{key}={value}" for key, value in labels.items()]} if labels else {}


def _pod_spec(plan: PodPlan) -> Json:
    spec: Json = {
        "name": plan.pod_name,
        "hostname": plan.hostname,
        "labels": {**plan.labels, POD_LABEL: plan.pod_name},
    }
    if plan.network is not None:
        spec["Networks"] = {plan.network: {}}  # this field is capitalised in podman 4.3
    if plan.dns_servers is not None:
        spec["dns_server"] = plan.dns_servers
    return spec


def _container_spec(plan: PodPlan, container: ContainerPlan) -> Json:
    spec: Json = {
        "name": f"{plan.pod_name}-{container.name}",
        "pod": plan.pod_name,
        "image": container.image,
        "env": container.environment,
        "labels": {**plan.labels, POD_LABEL: plan.pod_name, CONTAINER_LABEL: container.name},
        # OCI's swap limit is memory + swap: equal to the memory limit means no swap.
        "resource_limits": {"memory": {"limit": container.memory, "swap": container.memory}},
    }
    if container.command is not None:
        spec["command"] = container.command
    if container.mounts:
        spec["mounts"] = [
            {
                "destination": mount.destination,
                "source": mount.source,
                "type": "bind",
                "options": ["rbind", "rw"],
            }
            for mount in container.mounts
        ]
    return spec


def _container_info(container: Json) -> ContainerInfo:
    labels: dict[str, str] = container["Labels"] or {}
    state: str = container["State"]
    return ContainerInfo(
        id=container["Id"],
        name=labels.get(CONTAINER_LABEL, ""),
        state=state,
        exit_code=container["ExitCode"] if state in ("exited", "stopped") else None,
        started_at=_timestamp(container["StartedAt"]),
        finished_at=_timestamp(container["ExitedAt"]) if container["Exited"] else None,
        labels=labels,
    )


def _timestamp(unix_seconds: int) -> datetime | None:
    # Podman reports "never" as 0 or as Go's zero time (year 1).
    return datetime.fromtimestamp(unix_seconds, UTC) if unix_seconds > 0 else None


def _ip_address(compat_container: Json) -> str:
    networks: Json = (compat_container.get("NetworkSettings") or {}).get("Networks") or {}
    for network in networks.values():
        if network.get("IPAddress"):
            address: str = network["IPAddress"]
            return address
    return ""


def _container_exit(line: str, label_filter: dict[str, str]) -> ContainerExit | None:
    """The exit in one line of the event stream, None if it's not for the caller."""
    event = json.loads(line)
    attributes: dict[str, str] = event["Actor"]["Attributes"] or {}
    labels = {key: value for key, value in attributes.items() if key not in _EVENT_ATTRIBUTES}
    # Podman matches any of several label filters; the caller wants all of them.
    if any(labels.get(key) != value for key, value in label_filter.items()):
        return None
    if CONTAINER_LABEL not in labels or "containerExitCode" not in attributes:
        return None  # an infra container, or not one of ours
    exit_code = int(attributes["containerExitCode"])
    return ContainerExit(
        container_id=event["Actor"]["ID"],
        pod_name=labels.get(POD_LABEL, ""),
        container_name=labels[CONTAINER_LABEL],
        exit_code=exit_code,
        labels=labels,
        oom_suspected=exit_code == _EXIT_CODE_SIGKILL,
    )
