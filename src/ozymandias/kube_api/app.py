"""The Kubernetes API every node serves beside the ozy API (`--kube-port`, 6443).

A second FastAPI app over the same `ApiServices` as the ozy API's: the same
mirrors, the same JobService, so a job applied with `ozy apply` is a
Deployment here and a Deployment applied with kubectl is a job there, with
no second copy of the state. This module only composes: the reads
(routes.py), logs, discovery, the writes (writes.py), the bearer-token
check in front of everything (auth.py), the request limits, and every error
as a Kubernetes Status (errors.py).
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from ozymandias import __version__
from ozymandias.api.auth import Guard, check_every_route_declares_a_role
from ozymandias.api.problems import Problem
from ozymandias.api.request_limits import ApiLimits, RequestLimits
from ozymandias.api.services import ApiServices
from ozymandias.kube.status import KubeError
from ozymandias.kube_api import discovery, errors, logs, routes, writes
from ozymandias.kube_api.auth import KubeAuthentication


def create_kube_app(services: ApiServices, guard: Guard, limits: ApiLimits) -> FastAPI:
    app = FastAPI(
        title="Ozymandias: the Kubernetes API",
        version=__version__,
        description="The subset of the Kubernetes API kubectl's daily commands use. "
        "Every error is a Kubernetes Status.",
        # Not FastAPI's pages: /openapi/v2 is the document kubectl reads (discovery.py).
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
    )
    app.add_exception_handler(KubeError, errors.handle_kube_error)
    app.add_exception_handler(Problem, errors.handle_problem)
    app.add_exception_handler(RequestValidationError, errors.handle_validation_error)
    app.add_exception_handler(StarletteHTTPException, errors.handle_http_error)
    app.add_exception_handler(Exception, errors.handle_unexpected_error)
    app.add_middleware(RequestLimits, limits=limits, render=errors.problem_as_status)
    # Added last, so it runs first: a caller without a token is refused before the limits
    # read its body.
    app.add_middleware(KubeAuthentication, guard=guard)
    app.state.services = services
    for router in (discovery.router, routes.router, logs.router, writes.router):
        app.include_router(router)
    app.router.routes.extend(discovery.OPEN_ROUTES)
    check_every_route_declares_a_role(app)
    return app
