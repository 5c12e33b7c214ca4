"""Running a command in a container through podman's exec sessions.

An API exec takes a session's creation, its start (a hijacked connection that
carries the multiplexed output and closes when the command is done), polls for
its exit code, and on timeout a SIGKILL to its process, since the API cannot
stop a session. `PodmanRuntime.exec` (output gathered, for checks) and
`PodmanRuntime.exec_stream` (output as it comes, for `ozy exec`) are the entry points.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import AsyncGenerator

import httpx

from ozymandias.runtime.framing import STDERR, StreamDemuxer
from ozymandias.runtime.models import ContainerNotFound, ExecExit, ExecOutput
from ozymandias.runtime.podman_connection import (
    LIBPOD,
    REQUEST_TIMEOUT,
    PodmanConnection,
    raise_for_status,
)

_EXEC_POLL_INTERVAL = 0.01


async def run_exec(
    podman: PodmanConnection,
    container_id: str,
    command: list[str],
    timeout: float,  # noqa: ASYNC109
) -> tuple[int, str]:
    """`PodmanRuntime.exec`: (exit code, output); TimeoutError once the command is killed."""
    exec_id = await _create_session(podman, container_id, command)
    try:
        async with asyncio.timeout(timeout):
            output = await _exec_output(podman, exec_id)
            return await _exec_exit_code(podman, exec_id), output
    except TimeoutError:
        await _kill_exec(podman, exec_id)
        raise TimeoutError(f"{command} in {container_id} ran over {timeout} s") from None


async def stream_exec(
    podman: PodmanConnection,
    container_id: str,
    command: list[str],
    timeout: float,  # noqa: ASYNC109
) -> AsyncGenerator[ExecOutput | ExecExit, None]:
    """`PodmanRuntime.exec_stream`: the output as podman sends it, then the exit code.

    Podman's connection is read only as fast as the caller reads, so a chatty
    command waits on its pipe instead of filling memory. The deadline covers
    reading only, not the caller's pauses between reads (a cancellation there
    would hit the caller). The command is killed past `timeout` (TimeoutError),
    or when the caller stops reading before its end (a client that went away).
    """
    exec_id = await _create_session(podman, container_id, command)
    deadline = asyncio.get_running_loop().time() + timeout
    finished = False
    try:
        demuxer = StreamDemuxer()
        try:
            async with podman.client.stream(
                "POST",
                f"{LIBPOD}/exec/{exec_id}/start",
                json={"Detach": False, "Tty": False},
                timeout=httpx.Timeout(REQUEST_TIMEOUT, read=None),
            ) as response:
                await raise_for_status(response, not_found=ContainerNotFound)
                chunks = response.aiter_raw()
                while True:
                    async with asyncio.timeout_at(deadline):
                        chunk = await anext(chunks, None)
                    if chunk is None:
                        break
                    for stream, payload in demuxer.feed_frames(chunk):
                        yield _output(stream, payload)
        except httpx.TransportError as error:
            raise podman.unavailable(error) from error
        stream, rest = demuxer.flush_frame()
        if rest:
            yield _output(stream, rest)
        async with asyncio.timeout_at(deadline):
            exit_code = await _exec_exit_code(podman, exec_id)
        finished = True
        yield ExecExit(exit_code)
    except TimeoutError:
        raise TimeoutError(f"{command} in {container_id} ran over {timeout} s") from None
    finally:
        if not finished:
            await asyncio.shield(_kill_exec(podman, exec_id))


def _output(stream: int, payload: bytes) -> ExecOutput:
    return ExecOutput("stderr" if stream == STDERR else "stdout", payload)


async def _create_session(podman: PodmanConnection, container_id: str, command: list[str]) -> str:
    created = await podman.call(
        "POST",
        f"{LIBPOD}/containers/{container_id}/exec",
        json={"Cmd": command, "AttachStdout": True, "AttachStderr": True},
        not_found=ContainerNotFound,
    )
    exec_id: str = created.json()["Id"]
    return exec_id


async def _exec_output(podman: PodmanConnection, exec_id: str) -> str:
    demuxer = StreamDemuxer()
    payloads: list[bytes] = []
    try:
        # Podman hijacks the connection and closes it when the command is done.
        async with podman.client.stream(
            "POST",
            f"{LIBPOD}/exec/{exec_id}/start",
            json={"Detach": False, "Tty": False},
            timeout=httpx.Timeout(REQUEST_TIMEOUT, read=None),
        ) as response:
            await raise_for_status(response, not_found=ContainerNotFound)
            async for chunk in response.aiter_raw():
                payloads.extend(demuxer.feed(chunk))
    except httpx.TransportError as error:
        raise podman.unavailable(error) from error
    payloads.append(demuxer.flush())
    return b"".join(payloads).decode(errors="replace")


async def _exec_exit_code(podman: PodmanConnection, exec_id: str) -> int:
    # The session may be marked stopped shortly after its output ends.
    while True:
        session = (await podman.call("GET", f"{LIBPOD}/exec/{exec_id}/json")).json()
        if not session["Running"]:
            exit_code: int = session["ExitCode"]
            return exit_code
        await asyncio.sleep(_EXEC_POLL_INTERVAL)


async def _kill_exec(podman: PodmanConnection, exec_id: str) -> None:
    # The API can't stop an exec session, but its process is ours to kill.
    response = await podman.call("GET", f"{LIBPOD}/exec/{exec_id}/json", allow=(404,))
    if response.status_code == 404:
        return
    session = response.json()
    if session["Running"] and session["Pid"] > 0:
        with contextlib.suppress(ProcessLookupError):
            os.kill(session["Pid"], signal.SIGKILL)
