"""Who is calling: a bearer token checked on every request, and each route's role.

Two parts, so that a refusal never says whether an object exists:

- `Authentication`, an ASGI middleware in front of everything (before the
  request limits read a body): a request without a known token is answered
  401 at once, whatever its path. Only the health check, the bootstrap and
  the dashboard's static files (api/ui.py; the page asks for a token) are
  open. The token is found in the node's mirror of tokens, by the hash of
  its secret: no etcd read, and a revocation applies as soon as the mirror
  sees it.
- `requires(role)`, a dependency every route declares: a token whose role
  is too low is answered 403, before the handler looks anything up. The
  peers' route declares `requires_peer()` instead, which only the peers'
  credential passes; that credential passes nothing else.

`check_every_route_declares_a_role` makes a route without a declaration a
startup error; `route_roles` gives each route's role to the OpenAPI
document (`x-ozy-role`), which the role-matrix tests read.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from fastapi import Depends, FastAPI, Request
from fastapi.routing import APIRoute, iter_route_contexts
from starlette.types import ASGIApp, Receive, Scope, Send

from ozymandias.acl.roles import Role, allows
from ozymandias.acl.tokens import TokenIndex, same_secret
from ozymandias.api.problems import Problem, problem_response
from ozymandias.api.ui import is_ui_request
from ozymandias.cluster.records import AclToken
from ozymandias.store.mirror import Mirror

HEALTH_PATH = "/v1/health"
BOOTSTRAP_PATH = "/v1/acl/bootstrap"
# Open to anyone: a load balancer's health probe has no token, and the
# bootstrap is how the first token comes to be (it answers once per cluster).
OPEN_ROUTES = frozenset({("GET", HEALTH_PATH), ("POST", BOOTSTRAP_PATH)})
ROLE_EXTENSION = "x-ozy-role"
PEER = "peer"


@dataclass(frozen=True)
class Identity:
    """Who a request comes from: a user's token, or a peer node."""

    kind: Literal["token", "peer"]
    token: AclToken | None = None

    @property
    def role(self) -> Role | None:
        return Role(self.token.role) if self.token is not None else None


class Guard:
    """Tells a presented secret's identity, from the tokens mirror and the peers' credential."""

    def __init__(self, tokens: Mirror[AclToken]) -> None:
        self._tokens = tokens
        self._index = TokenIndex([])
        self._indexed_revision = -1
        self._peer_secret: str | None = None

    def set_peer_secret(self, secret: str) -> None:
        self._peer_secret = secret

    def identify(self, secret: str) -> Identity | None:
        if self._peer_secret is not None and same_secret(secret, self._peer_secret):
            return Identity("peer")
        # Rebuilt only when the mirror has moved: a request costs one dict lookup.
        if self._indexed_revision != self._tokens.revision:
            self._index = TokenIndex(self._tokens.items.values())
            self._indexed_revision = self._tokens.revision
        token = self._index.find(secret)
        return Identity("token", token) if token is not None else None


def bearer_secret(scope: Scope) -> str | None:
    name: bytes
    value: bytes
    for name, value in scope["headers"]:
        if name == b"authorization":
            scheme, _, secret = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and secret.strip():
                return secret.strip()
            return None
    return None


def _unauthorized(detail: str) -> Problem:
    return Problem(401, "unauthorized", "Unauthorized", detail)


class Authentication:
    """The middleware: see the module's docstring."""

    def __init__(self, app: ASGIApp, guard: Guard) -> None:
        self._app = app
        self._guard = guard

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or (scope["method"], scope["path"]) in OPEN_ROUTES
            or is_ui_request(scope["method"], scope["path"])
        ):
            await self._app(scope, receive, send)
            return
        secret = bearer_secret(scope)
        identity = self._guard.identify(secret) if secret is not None else None
        if identity is None:
            detail = (
                "this API needs a token: send `Authorization: Bearer <secret>` "
                "(the CLI reads --token, OZY_TOKEN or ~/.config/ozymandias/token)"
                if secret is None
                else "the token is not known to this cluster (revoked, or never made)"
            )
            response = problem_response(_unauthorized(detail))
            response.headers["WWW-Authenticate"] = 'Bearer realm="ozymandias"'
            # The client may still be sending a body nobody reads: close after answering.
            response.headers["Connection"] = "close"
            await response(scope, receive, send)
            return
        scope.setdefault("state", {})["identity"] = identity
        await self._app(scope, receive, send)


def identity_of(request: Request) -> Identity:
    identity = request.scope.get("state", {}).get("identity")
    if not isinstance(identity, Identity):
        # Only an open route has none, and open routes check no role.
        raise _unauthorized("this API needs a token")
    return identity


def require_role(request: Request, role: Role, what: str) -> None:
    """For a call whose role depends on its arguments: refuse it unless the token holds `role`."""
    held = identity_of(request).role
    if held is None or not allows(held, role):
        raise forbidden(f"{what} needs a token of role {role} or above")


class _RoleCheck:
    """The dependency behind `requires`: the caller's token must hold `role`."""

    def __init__(self, role: Role) -> None:
        self.role = role

    async def __call__(self, request: Request) -> Identity:
        identity = identity_of(request)
        held = identity.role
        if held is None or not allows(held, self.role):
            raise forbidden(f"this needs a token of role {self.role} or above")
        return identity


class _PeerCheck:
    role = PEER

    async def __call__(self, request: Request) -> Identity:
        identity = identity_of(request)
        if identity.kind != "peer":
            raise forbidden("only the cluster's nodes may call this")
        return identity


def forbidden(detail: str) -> Problem:
    return Problem(403, "forbidden", "Forbidden", detail)


def requires(role: Role) -> Any:
    """Declare a route's role: `@router.get(..., dependencies=[requires(Role.READ)])`."""
    return Depends(_RoleCheck(role))


def requires_peer() -> Any:
    return Depends(_PeerCheck())


def route_roles(app: FastAPI) -> dict[tuple[str, str], str]:
    """(METHOD, path) -> the role each route declares ("none" for the open ones).

    Walks included routers too: the app's own `routes` holds them unexpanded.
    RuntimeError names a route that declares no role, or more than one.
    """
    roles: dict[tuple[str, str], str] = {}
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if not isinstance(route, APIRoute) or context.path is None:
            continue
        declared = [
            str(dependency.call.role)
            for dependency in route.dependant.dependencies
            if isinstance(dependency.call, _RoleCheck | _PeerCheck)
        ]
        for method in route.methods or ():
            if (method, context.path) in OPEN_ROUTES:
                roles[method, context.path] = "none"
            elif len(declared) == 1:
                roles[method, context.path] = declared[0]
            else:
                raise RuntimeError(
                    f"route {context.path} must declare exactly one role (api/auth.py)"
                )
    return roles


def check_every_route_declares_a_role(app: FastAPI) -> None:
    """Fail at startup if a route forgot its role."""
    route_roles(app)
