"""The writes' refusals before any state is read, through the Kubernetes API's app: each as the
Status kubectl prints. A read token may write nothing; a deploy token may not cordon; a
patch type kubectl's server-side apply sends, a body that is not JSON, a dryRun other than
All and a namespace other than default are refused with the apiserver's reasons."""

from __future__ import annotations

from typing import Any, cast

import pytest
from fastapi.testclient import TestClient

from ozymandias.acl.roles import Role
from ozymandias.acl.tokens import new_secret, secret_hash
from ozymandias.api.auth import Guard
from ozymandias.api.request_limits import ApiLimits
from ozymandias.api.services import ApiServices
from ozymandias.cluster.records import AclToken
from ozymandias.kube_api.app import create_kube_app
from ozymandias.store.mirror import Mirror

READER, DEPLOYER = new_secret(), new_secret()
DEPLOYMENT = "/apis/apps/v1/namespaces/default/deployments/web"
STRATEGIC = {"content-type": "application/strategic-merge-patch+json"}


def _token(secret: str, role: Role) -> AclToken:
    return AclToken(
        accessor=role.value, name=role.value, role=role.value, secret_hash=secret_hash(secret),
        create_time=0,
    )  # fmt: skip


@pytest.fixture
def client() -> TestClient:
    tokens: Mirror[AclToken] = Mirror(
        cast(Any, None), b"/ozy/acl/tokens/", lambda _, r: cast(Any, r)
    )
    tokens.items = {b"r": _token(READER, Role.READ), b"d": _token(DEPLOYER, Role.DEPLOY)}
    tokens.revision = 1
    # Every request here is refused before a route reads state: the services, an instance
    # with none of its fields set, are never touched (any read would fail the test).
    services = object.__new__(ApiServices)
    app = create_kube_app(services, Guard(tokens), ApiLimits(max_body_bytes=4096))
    return TestClient(app)


def as_(secret: str, **headers: str) -> dict[str, str]:
    return {"authorization": f"Bearer {secret}", **headers}


def status_of(response: Any, code: int, reason: str) -> dict[str, Any]:
    assert response.status_code == code, response.text
    body = response.json()
    assert (body["kind"], body["status"], body["code"], body["reason"]) == (
        "Status",
        "Failure",
        code,
        reason,
    )
    return cast(dict[str, Any], body)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/apis/apps/v1/namespaces/default/deployments"),
        ("PUT", DEPLOYMENT),
        ("PATCH", DEPLOYMENT),
        ("DELETE", DEPLOYMENT),
        ("PUT", f"{DEPLOYMENT}/scale"),
        ("PATCH", f"{DEPLOYMENT}/scale"),
        ("DELETE", "/api/v1/namespaces/default/pods/web-0"),
        ("PATCH", "/api/v1/nodes/n1"),
    ],
)
def test_a_read_token_writes_nothing(client: TestClient, method: str, path: str) -> None:
    response = client.request(method, path, content=b"{}", headers=as_(READER, **STRATEGIC))
    status_of(response, 403, "Forbidden")


def test_cordoning_needs_an_admin(client: TestClient) -> None:
    patch = b'{"spec":{"unschedulable":true}}'
    response = client.patch("/api/v1/nodes/n1", content=patch, headers=as_(DEPLOYER, **STRATEGIC))
    status_of(response, 403, "Forbidden")


@pytest.mark.parametrize(
    "content_type",
    ["application/apply-patch+yaml", "application/json", "text/plain"],
)
def test_a_patch_of_another_type_is_unsupported(client: TestClient, content_type: str) -> None:
    response = client.patch(
        DEPLOYMENT, content=b"{}", headers=as_(DEPLOYER, **{"content-type": content_type})
    )
    body = status_of(response, 415, "UnsupportedMediaType")
    assert "application/strategic-merge-patch+json" in body["message"]


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("PATCH", DEPLOYMENT, b"{not json"),
        ("PATCH", DEPLOYMENT, b"[" * 3000),
        ("POST", "/apis/apps/v1/namespaces/default/deployments", b"[1, 2]"),
        ("POST", "/apis/apps/v1/namespaces/default/deployments", b'{"kind": "Pod"}'),
        ("PUT", f"{DEPLOYMENT}/scale", b'{"spec": {"replicas": -1}}'),
        ("PUT", f"{DEPLOYMENT}/scale", b'{"spec": {"replicas": "3"}}'),
    ],
)
def test_a_bad_body_is_a_bad_request(
    client: TestClient, method: str, path: str, body: bytes
) -> None:
    response = client.request(method, path, content=body, headers=as_(DEPLOYER, **STRATEGIC))
    status_of(response, 400, "BadRequest")


def test_a_deployment_without_a_name_is_invalid(client: TestClient) -> None:
    response = client.post(
        "/apis/apps/v1/namespaces/default/deployments",
        content=b'{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {}}',
        headers=as_(DEPLOYER),
    )
    body = status_of(response, 422, "Invalid")
    assert body["details"]["causes"][0]["field"] == "metadata.name"


def test_dry_run_is_all_or_nothing(client: TestClient) -> None:
    response = client.patch(
        f"{DEPLOYMENT}?dryRun=Server", content=b"{}", headers=as_(DEPLOYER, **STRATEGIC)
    )
    assert 'only "All"' in status_of(response, 400, "BadRequest")["message"]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("PATCH", "/apis/apps/v1/namespaces/kube-system/deployments/web"),
        ("POST", "/apis/apps/v1/namespaces/kube-system/deployments"),
        ("DELETE", "/api/v1/namespaces/kube-system/pods/web-0"),
        ("PUT", "/apis/apps/v1/namespaces/kube-system/deployments/web/scale"),
    ],
)
def test_only_the_default_namespace_exists(client: TestClient, method: str, path: str) -> None:
    response = client.request(method, path, content=b"{}", headers=as_(DEPLOYER, **STRATEGIC))
    body = status_of(response, 404, "NotFound")
    assert body["message"] == 'namespaces "kube-system" not found'
