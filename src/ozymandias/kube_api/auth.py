"""Who calls the Kubernetes API: the cluster's own tokens, as kubectl's bearer token.

The same `Guard` as the ozy API's (api/auth.py) identifies a secret, and the
same `requires(role)` guards each route; only the answers differ: a
Kubernetes `Status` (401 here, 403 through errors.py), which kubectl prints.
The version and health paths are open, as the apiserver's public-info
paths are: they hold nothing but the version (the gcloud kubectl
dispatcher asks /version to pick its binary).
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from ozymandias.api.auth import Guard, bearer_secret
from ozymandias.kube.status import status
from ozymandias.kube_api.errors import status_response

# discovery.py's open routes.
OPEN_PATHS = frozenset({"/version", "/healthz", "/livez", "/readyz"})


class KubeAuthentication:
    """An ASGI middleware: a request without a known token is answered 401 before anything."""

    def __init__(self, app: ASGIApp, guard: Guard) -> None:
        self._app = app
        self._guard = guard

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or (scope["method"] == "GET" and scope["path"] in OPEN_PATHS):
            await self._app(scope, receive, send)
            return
        secret = bearer_secret(scope)
        identity = self._guard.identify(secret) if secret is not None else None
        if identity is None or identity.kind != "token":
            message = (
                "Unauthorized: send a token of this cluster as `Authorization: Bearer` "
                "(`ozy kubeconfig` writes one into a kubeconfig)"
                if secret is None
                else "Unauthorized: the token is not known to this cluster (revoked, or never made)"
            )
            response = status_response(
                status(401, "Unauthorized", message),
                # The client may still be sending a body nobody reads: close after answering.
                {"WWW-Authenticate": 'Bearer realm="ozymandias"', "Connection": "close"},
            )
            await response(scope, receive, send)
            return
        scope.setdefault("state", {})["identity"] = identity
        await self._app(scope, receive, send)
