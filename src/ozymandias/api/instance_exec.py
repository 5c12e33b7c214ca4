"""POST /v1/instances/{instance}/exec: run a command in a container of an instance.

Served by the node that runs the instance (any other passes it on, see
instance_proxy.py), with podman exec, without stdin or a TTY. The answer is
newline-delimited JSON, streamed as the command writes:

    {"stream": "stdout", "data": "hi\\n"}      (or "stderr"), any number of them
    {"exitCode": 0}                            last, when the command ended
    {"error": "...", "timedOut": true}         last instead, if it could not end well

`data` is the bytes decoded as UTF-8, with bytes that are not UTF-8 as lone
surrogates U+DC80..U+DCFF (Python's "surrogateescape"), so a client can get
the exact bytes back. The command's output is read only as fast as the client
reads it, so a chatty command waits on its pipe rather than filling memory.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, field_validator

from ozymandias.acl.roles import Role
from ozymandias.api.auth import requires
from ozymandias.api.instance_proxy import (
    caller_credential,
    container_of,
    forward_to_owner,
    locate_instance,
)
from ozymandias.api.problems import Problem, read_json_body
from ozymandias.api.request_limits import Follows
from ozymandias.api.services import Services
from ozymandias.runtime.models import ExecExit, ExecOutput

log = logging.getLogger(__name__)

router = APIRouter(tags=["instances"])

MAX_ARGUMENTS = 256
MAX_ARGUMENT_CHARS = 16 * 1024
MAX_COMMAND_CHARS = 64 * 1024
DEFAULT_TIMEOUT_SECONDS = 60.0
MAX_TIMEOUT_SECONDS = 3600.0
NDJSON = "application/x-ndjson"


class ExecRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    container: str | None = Field(
        None, max_length=63, description="the container (default: the job's first)"
    )
    command: list[Annotated[str, Field(max_length=MAX_ARGUMENT_CHARS)]] = Field(
        min_length=1,
        max_length=MAX_ARGUMENTS,
        description="the program and its arguments, run without a shell",
    )
    timeout: float = Field(
        DEFAULT_TIMEOUT_SECONDS,
        gt=0,
        le=MAX_TIMEOUT_SECONDS,
        description="seconds the command may run; it is killed past them",
    )

    @field_validator("command")
    @classmethod
    def _runnable(cls, command: list[str]) -> list[str]:
        if not command[0]:
            raise ValueError("the program (the command's first word) is empty")
        if any("\0" in argument for argument in command):
            raise ValueError("an argument holds a NUL character, which no program can receive")
        if sum(len(argument) for argument in command) > MAX_COMMAND_CHARS:
            raise ValueError(f"the command is longer than {MAX_COMMAND_CHARS} characters in all")
        return command


_EXEC_DOC: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "What to run, and where; JSON, whatever the content type.",
        "content": {"application/json": {"schema": ExecRequest.model_json_schema()}},
    },
    "responses": {
        "200": {
            "description": "The command's output as it comes, then its exit code: newline-"
            'delimited JSON objects, {"stream": "stdout"|"stderr", "data": TEXT} then'
            ' {"exitCode": N}, or {"error": TEXT, "timedOut": BOOL} last instead.',
            "content": {NDJSON: {}},
        }
    },
}


@router.post(
    "/v1/instances/{instance}/exec",
    dependencies=[requires(Role.DEPLOY)],
    openapi_extra=_EXEC_DOC,
    response_class=StreamingResponse,
)
async def exec_in_instance(instance: str, request: Request, services: Services) -> Response:
    """Run a command in a running container of the instance (no stdin, no TTY)."""
    body = read_json_body(ExecRequest, await request.body())
    mirrors = services.mirrors
    place = locate_instance(instance, mirrors)
    container = container_of(place, body.container, mirrors)
    if place.node != services.node.name:
        asked = body.model_copy(update={"container": container}).model_dump()
        path = f"/v1/instances/{instance}/exec"
        caller = caller_credential(request)
        return await _counted_peer_answer(
            services.follows,
            lambda: forward_to_owner(
                services, place.node, instance, caller, "POST", path, json=asked
            ),
        )
    execs = services.agent.execs
    if refusal := execs.refusal(place.job, place.index, container):
        status = next(
            (s for s in mirrors.instance_statuses(place.job) if s.index == place.index), None
        )
        state = status.state.value if status is not None else "pending"
        raise Problem(
            409, "instance-not-running", "Not running", f"{refusal} (the instance is {state})"
        )
    services.follows.begin()  # a long stream: counted, and refused past the node's bound
    frames = execs.run(place.job, place.index, container, body.command, body.timeout)
    lines = services.follows.counted(_lines(frames, body.timeout))
    return StreamingResponse(lines, media_type=NDJSON)


async def _counted_peer_answer(
    streams: Follows, answer: Callable[[], Awaitable[Response]]
) -> Response:
    """`answer()`, its stream counted among the node's long streams (a 429 past their bound)."""
    streams.begin()
    try:
        response = await answer()
    except BaseException:
        streams.end()
        raise
    if not isinstance(response, StreamingResponse):  # a peer's refusal, passed on
        streams.end()
        return response
    response.body_iterator = streams.counted(response.body_iterator)
    return response


async def _lines(
    frames: AsyncIterator[ExecOutput | ExecExit],
    timeout: float,  # noqa: ASYNC109
) -> AsyncIterator[bytes]:
    """The frames as JSON lines; a failure once the answer started is said in a last line."""
    # Closed when the client goes away too, which kills a command still running.
    async with contextlib.aclosing(frames):  # type: ignore[type-var]
        try:
            async for frame in frames:
                if isinstance(frame, ExecOutput):
                    text = frame.data.decode("utf-8", "surrogateescape")
                    yield _line({"stream": frame.stream, "data": text})
                else:
                    yield _line({"exitCode": frame.exit_code})
        except TimeoutError:
            message = f"the command ran over its timeout of {timeout:g} s and was killed"
            yield _line({"error": message, "timedOut": True})
        except Exception as error:
            log.warning("exec failed: %s", error)
            yield _line({"error": f"the command could not run: {error}", "timedOut": False})


def _line(item: dict[str, Any]) -> bytes:
    # ASCII: a lone surrogate (a byte that is not UTF-8) is escaped, never encoded.
    return json.dumps(item, separators=(",", ":")).encode("ascii") + b"\n"
