"""The Kubernetes API's answers before any state is read (kube_api/app.py): the open version,
and every refusal as a Kubernetes Status (no token, an unknown one, a low role, an unknown
path, a body too large), which is what kubectl prints."""

from __future__ import annotations

from typing import Any, cast

import pytest
from fastapi.testclient import TestClient

from ozymandias.acl.roles import Role
from ozymandias.acl.tokens import new_secret, secret_hash
from ozymandias.api.auth import Guard
from ozymandias.api.request_limits import ApiLimits
from ozymandias.cluster.records import AclToken
from ozymandias.kube_api.app import create_kube_app
from ozymandias.store.mirror import Mirror

READER = new_secret()


@pytest.fixture
def client() -> TestClient:
    tokens: Mirror[AclToken] = Mirror(
        cast(Any, None), b"/ozy/acl/tokens/", lambda _, r: cast(Any, r)
    )
    reader = AclToken(
        accessor="r", name="r", role=Role.READ.value, secret_hash=secret_hash(READER), create_time=0
    )
    tokens.items = {b"r": reader}
    tokens.revision = 1
    # No route that reads state is called: the services are never touched.
    app = create_kube_app(cast(Any, None), Guard(tokens), ApiLimits(max_body_bytes=1024))
    return TestClient(app)


def status_of(response: Any, code: int, reason: str) -> dict[str, Any]:
    assert response.status_code == code
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert (body["kind"], body["status"], body["code"], body["reason"]) == (
        "Status",
        "Failure",
        code,
        reason,
    )
    return cast(dict[str, Any], body)


def test_the_version_needs_no_token(client: TestClient) -> None:
    assert client.get("/version").json()["minor"] == "32"


def test_without_a_known_token_every_path_is_401(client: TestClient) -> None:
    for path in ("/api", "/api/v1/pods", "/apis/apps/v1", "/nothing"):
        status_of(client.get(path), 401, "Unauthorized")
    unknown = client.get("/api", headers={"authorization": f"Bearer {new_secret()}"})
    assert "not known to this cluster" in status_of(unknown, 401, "Unauthorized")["message"]


def test_a_low_role_is_403_as_a_status(client: TestClient) -> None:
    logs = client.get(
        "/api/v1/namespaces/default/pods/web-0/log", headers={"authorization": f"Bearer {READER}"}
    )
    assert "deploy" in status_of(logs, 403, "Forbidden")["message"]


def test_discovery_and_the_refusals_of_a_known_caller(client: TestClient) -> None:
    headers = {"authorization": f"Bearer {READER}"}
    assert client.get("/api", headers=headers).json()["versions"] == ["v1"]
    assert client.get("/apis/apps/v1", headers=headers).json()["groupVersion"] == "apps/v1"
    status_of(client.get("/apis/batch", headers=headers), 404, "NotFound")
    status_of(client.get("/openapi/v3", headers=headers), 404, "NotFound")
    large = client.post(
        "/apis/apps/v1/namespaces/default/deployments", headers=headers, content=b"x" * 2048
    )
    status_of(large, 413, "RequestEntityTooLarge")
