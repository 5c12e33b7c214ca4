"""RFC 7807 problem details: the one shape every API error takes."""

from __future__ import annotations

import json
import logging
import uuid
from typing import Any, TypeVar

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger(__name__)

PROBLEM_MEDIA_TYPE = "application/problem+json"

# Each problem type is a section of docs/errors.md, so the `type` URI of an
# error leads a user to its explanation.
ERRORS_DOC = "https://github.com/ozymandias-orchestrator/ozymandias/blob/main/docs/errors.md"


def problem_type(slug: str) -> str:
    return f"{ERRORS_DOC}#{slug}"


class Problem(Exception):
    """An error the API answers with a problem+json body."""

    def __init__(self, status: int, slug: str, title: str, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.status = status
        self.slug = slug
        self.title = title
        self.detail = detail
        self.extra = extra

    def body(self) -> dict[str, Any]:
        return {
            "type": problem_type(self.slug),
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            **self.extra,
        }


class _ProblemResponse(JSONResponse):
    """Rendered as ASCII: a problem may echo any input, and a lone surrogate in it
    would make UTF-8 encoding fail, turning a 4xx into a 500."""

    def render(self, content: Any) -> bytes:
        return json.dumps(content, separators=(",", ":")).encode("ascii")


def problem_response(problem: Problem) -> JSONResponse:
    return _ProblemResponse(
        problem.body(), status_code=problem.status, media_type=PROBLEM_MEDIA_TYPE
    )


async def handle_problem(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, Problem)
    return problem_response(error)


async def handle_validation_error(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    problems = [
        f"{'.'.join(str(part) for part in item['loc'])}: {item['msg']}" for item in error.errors()
    ]
    return problem_response(
        Problem(400, "invalid-request", "Invalid request", "; ".join(problems), errors=problems)
    )


async def handle_http_error(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, StarletteHTTPException)
    slug = {404: "not-found", 405: "method-not-allowed"}.get(error.status_code, "http-error")
    return problem_response(Problem(error.status_code, slug, str(error.detail), str(error.detail)))


async def handle_unexpected_error(request: Request, error: Exception) -> JSONResponse:
    """A bug: the client gets a request id to quote, and only the node's log the traceback."""
    request_id = uuid.uuid4().hex[:16]
    log.error(
        "request %s %s failed (request id %s)",
        request.method,
        request.url.path,
        request_id,
        exc_info=error,
    )
    return problem_response(
        Problem(
            500,
            "internal-error",
            "Internal error",
            f"the node failed to handle this request; its log has the details under request id "
            f"{request_id}",
            requestId=request_id,
        )
    )


Body = TypeVar("Body", bound=BaseModel)


def read_json_body(model: type[Body], body: bytes, *, empty_is_default: bool = False) -> Body:
    """A request body read as JSON whatever its content type (curl -d sends a form's);
    with `empty_is_default`, no body at all means the model's defaults. A bad one is
    reported as every other request error is (400 invalid-request, naming the field)."""
    if empty_is_default and not body.strip():
        return model()
    try:
        return model.model_validate_json(body)
    except ValidationError as error:
        raise RequestValidationError(
            [{**item, "loc": ("body", *item["loc"])} for item in error.errors()]
        ) from None
