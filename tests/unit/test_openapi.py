"""The OpenAPI document says what the API really answers: problem+json for every error."""

from __future__ import annotations

from typing import Any, cast

from ozymandias.api.app import create_app
from ozymandias.api.request_limits import ApiLimits
from ozymandias.cluster.records import Node, Resources
from ozymandias.spec.limits import SpecLimits


def document() -> dict[str, Any]:
    none = cast(Any, None)
    app = create_app(
        service=none,
        mirrors=none,
        store=none,
        agent=none,
        node=Node(
            name="n1",
            address="127.0.0.1",
            api_url="http://127.0.0.1:7070",
            capacity=Resources(),
            started_at=0,
        ),
        dns=none,
        ingress=none,
        limits=ApiLimits(),
        spec_limits=SpecLimits(),
        acl_store=none,
        guard=none,
        etcd_contact=none,
        peers=none,
        secret_service=none,
        registry_service=none,
    )
    return app.openapi()


def test_every_operation_documents_its_problems_as_problem_json() -> None:
    doc = document()
    assert "HTTPValidationError" not in doc["components"]["schemas"]
    operations = [op for ops in doc["paths"].values() for op in ops.values()]
    assert len(operations) >= 20
    for operation in operations:
        for status in ("400", "404", "408", "413", "422", "429", "500", "503"):
            content = operation["responses"][status]["content"]
            assert list(content) == ["application/problem+json"]
            assert content["application/problem+json"]["schema"] == {
                "$ref": "#/components/schemas/Problem"
            }


def test_a_job_body_is_described_by_the_job_spec_schema() -> None:
    doc = document()
    body = doc["paths"]["/v1/jobs/{name}"]["put"]["requestBody"]["content"]
    assert body["application/json"]["schema"] == {"$ref": "#/components/schemas/JobSpec"}
    schemas = doc["components"]["schemas"]
    assert {"JobSpec", "ContainerSpec", "HealthCheck"} <= set(schemas)
    assert "numInstances" in schemas["JobSpec"]["properties"]


def role_the_issue_specifies(method: str, path: str) -> str:
    """The roles as the API's users were promised them (README, "Tokens and roles").

    read: every GET but logs; deploy: also logs, exec and restart of instances,
    jobs (apply, scale, delete) and DNS aliases; admin: the rest. The health
    check and the bootstrap are open; the peers' route is for nodes only.
    """
    if (method, path) in {("get", "/v1/health"), ("post", "/v1/acl/bootstrap")}:
        return "none"
    if path == "/v1/node/etcd-contact":
        return "peer"
    if path.endswith("/logs"):
        return "deploy"
    if method == "get":
        return "read"
    if path.startswith(("/v1/jobs/", "/v1/dns/aliases/", "/v1/instances/")):
        return "deploy"
    return "admin"


def test_every_operation_declares_the_role_users_were_promised() -> None:
    doc = document()
    declared = {
        (method, path): operation["x-ozy-role"]
        for path, operations in doc["paths"].items()
        for method, operation in operations.items()
    }
    assert declared == {key: role_the_issue_specifies(*key) for key in declared}
    for (method, path), role in declared.items():
        operation = doc["paths"][path][method]
        assert ("security" in operation) == (role != "none"), (method, path)
