"""Every error of the Kubernetes API as a `Status` object: the contract kubectl reads.

Handlers raise kube/status.py's `KubeError`; the API's own `Problem`s (raised
by the shared helpers and by `requires(...)`) become the Status of the same
code, so a route may use either. The reasons are the apiserver's
(metav1.StatusReason), which kubectl prints and some commands branch on
(NotFound, AlreadyExists, Conflict).
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from ozymandias.api.problems import Problem
from ozymandias.kube.status import KubeError, status

log = logging.getLogger(__name__)

# The apiserver's reason for each code (k8s.io/apimachinery metav1.StatusReason).
REASONS = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    406: "NotAcceptable",
    408: "Timeout",
    409: "Conflict",
    410: "Expired",
    413: "RequestEntityTooLarge",
    415: "UnsupportedMediaType",
    422: "Invalid",
    429: "TooManyRequests",
    500: "InternalError",
    503: "ServiceUnavailable",
}


def failure(code: int, message: str) -> dict[str, Any]:
    """A Status of `code`, with the apiserver's reason for it."""
    return status(code, REASONS.get(code, "Unknown"), message)


def status_response(body: dict[str, Any], headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(body, status_code=int(body["code"]), headers=headers)


def of_problem(problem: Problem) -> dict[str, Any]:
    """The Status a problem of the ozy API stands for."""
    return failure(problem.status, problem.detail)


def problem_as_status(problem: Problem) -> JSONResponse:
    """A refusal of the request limits (413, 408, 429), as a Status."""
    return status_response(of_problem(problem))


async def handle_kube_error(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, KubeError)
    return status_response(error.status)


async def handle_problem(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, Problem)
    return status_response(of_problem(error))


async def handle_validation_error(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    causes = [
        {
            "field": ".".join(str(part) for part in item["loc"][1:]),
            "message": item["msg"],
            "reason": "FieldValueInvalid",
        }
        for item in error.errors()
    ]
    message = "; ".join(f"{cause['field']}: {cause['message']}" for cause in causes)
    return status_response(status(400, "BadRequest", message, {"causes": causes}))


async def handle_http_error(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, StarletteHTTPException)
    message = error.detail if isinstance(error.detail, str) else "the request failed"
    if error.status_code == 404:
        message = "the server could not find the requested resource"
    return status_response(failure(error.status_code, message), dict(error.headers or {}))


async def handle_unexpected_error(request: Request, error: Exception) -> JSONResponse:
    log.exception("Kubernetes API: %s %s failed", request.method, request.url.path)
    return status_response(failure(500, f"an internal error occurred: {type(error).__name__}"))
