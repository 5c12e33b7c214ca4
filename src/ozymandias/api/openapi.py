"""The API's OpenAPI document, precise about errors: every answer but a 2xx is problem+json.

FastAPI documents a 422 with its own validation-error shape on every
operation that takes input, but this API answers bad input with a 400
problem (see problems.py), and every operation can also answer with the
limits' problems (413, 408, 429, see request_limits.py), a 503 while etcd is
away, or a 500 with a request id. A client generator, or the fuzzing test
that checks every answer against this document, must see those as they are.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from ozymandias.api.auth import ROLE_EXTENSION, route_roles
from ozymandias.api.problems import PROBLEM_MEDIA_TYPE

PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "RFC 7807 problem details; `type` leads to its section of docs/errors.md",
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "placement": {
            "type": "object",
            "description": (
                "A job that does not fit (422): what the scheduler saw, as Nomad's placement "
                "metrics. `nodesFiltered` counts the nodes each reason ruled out (`down`, "
                "`cordoned`, or a constraint as written; a node may count under several), "
                "`nodesExhausted` those left without room for one more instance, per resource"
            ),
            "properties": {
                "nodesEvaluated": {"type": "integer", "minimum": 0},
                "nodesFiltered": {
                    "type": "object",
                    "additionalProperties": {"type": "integer", "minimum": 0},
                },
                "nodesExhausted": {
                    "type": "object",
                    "additionalProperties": {"type": "integer", "minimum": 0},
                },
                "instancesToPlace": {"type": "integer", "minimum": 0},
                "instancesFitting": {"type": "integer", "minimum": 0},
            },
            "required": [
                "nodesEvaluated",
                "nodesFiltered",
                "nodesExhausted",
                "instancesToPlace",
                "instancesFitting",
            ],
        },
    },
    "required": ["type", "title", "status", "detail"],
}

# What each status means here; every operation may answer with any of them.
_PROBLEMS = {
    "400": "The request is malformed; `errors` names each bad field",
    "401": "No token, or one this cluster does not know",
    "403": "The token's role does not allow this",
    "404": "No such object",
    "405": "Not allowed on this path",
    "408": "The request body did not arrive in time",
    "409": "The request conflicts with the object's state",
    "413": "The request body is larger than the node accepts",
    "422": "Well-formed, but refused: a limit, or no room to place it",
    "429": "The node is handling as many requests as it may; see Retry-After",
    "500": "A bug; the node's log has it under `requestId`",
    "503": "etcd or a peer node is unavailable",
}


def problem_openapi(app: FastAPI, schemas: dict[str, Any]) -> dict[str, Any]:
    """The app's OpenAPI document, with the problem answers on every operation (cached),
    and `schemas` (e.g. the job spec's models, which bodies refer to) among its components."""
    if app.openapi_schema is None:
        document = get_openapi(
            title=app.title,
            version=app.version,
            description=app.description,
            routes=app.routes,
        )
        components = document.setdefault("components", {}).setdefault("schemas", {})
        for unused in ("HTTPValidationError", "ValidationError"):
            components.pop(unused, None)
        components.update(schemas)
        components["Problem"] = PROBLEM_SCHEMA
        document["components"]["securitySchemes"] = {
            "token": {"type": "http", "scheme": "bearer", "description": "an API token's secret"}
        }
        roles = route_roles(app)
        for path, operations in document["paths"].items():
            for method, operation in operations.items():
                operation[ROLE_EXTENSION] = roles[method.upper(), path]
                if operation[ROLE_EXTENSION] != "none":
                    operation["security"] = [{"token": []}]
                responses = operation.setdefault("responses", {})
                for status, description in _PROBLEMS.items():
                    responses[status] = {
                        "description": description,
                        "content": {
                            PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}
                        },
                    }
        app.openapi_schema = document
    return app.openapi_schema
