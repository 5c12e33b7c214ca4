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
        secret_service=none,
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
