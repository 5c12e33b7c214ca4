"""Status errors as the apiserver words them: kubectl prints these messages as they are."""

from __future__ import annotations

from typing import Any

import pytest

from ozymandias.kube import status as s


@pytest.mark.parametrize(
    ("error", "code", "reason", "message"),
    [
        (s.not_found("Deployment", "web"), 404, "NotFound", 'deployments.apps "web" not found'),
        (s.not_found("Pod", "web-0"), 404, "NotFound", 'pods "web-0" not found'),
        (
            s.not_found("Namespace", "kube-system"),
            404,
            "NotFound",
            'namespaces "kube-system" not found',
        ),
        (
            s.already_exists("Deployment", "web"),
            409,
            "AlreadyExists",
            'deployments.apps "web" already exists',
        ),
        (
            s.conflict("Deployment", "web", "the object has been modified"),
            409,
            "Conflict",
            'Operation cannot be fulfilled on deployments.apps "web": the object has been modified',
        ),
        (
            s.forbidden(
                "Deployment",
                "web",
                s.cannot("ci", "patch", "Deployment", namespace="default"),
            ),
            403,
            "Forbidden",
            'deployments.apps "web" is forbidden: User "ci" cannot patch resource "deployments"'
            ' in API group "apps" in the namespace "default"',
        ),
        (
            s.forbidden("Node", "", s.cannot("ro", "patch", "Node")),
            403,
            "Forbidden",
            'nodes is forbidden: User "ro" cannot patch resource "nodes" in API group ""'
            " at the cluster scope",
        ),
        (s.unauthorized(), 401, "Unauthorized", "Unauthorized"),
        (
            s.method_not_allowed("Node", "delete"),
            405,
            "MethodNotAllowed",
            'delete is not supported on resources of kind "nodes"',
        ),
        (s.bad_request("bad"), 400, "BadRequest", "bad"),
        (
            s.unsupported_media_type(["application/json-patch+json"]),
            415,
            "UnsupportedMediaType",
            "the body of the request was in an unknown format - accepted media types include:"
            " application/json-patch+json",
        ),
        (
            s.too_large(3145728),
            413,
            "RequestEntityTooLarge",
            "Request entity too large: limit is 3145728",
        ),
        (
            s.expired("too old resource version: 1 (5)"),
            410,
            "Expired",
            "too old resource version: 1 (5)",
        ),
        (
            s.path_not_found(),
            404,
            "NotFound",
            "the server could not find the requested resource",
        ),
    ],
)
def test_status_errors(error: s.KubeError, code: int, reason: str, message: str) -> None:
    assert (error.code, error.reason, str(error)) == (code, reason, message)
    body = error.status
    assert body["kind"] == "Status" and body["apiVersion"] == "v1"
    assert body["status"] == "Failure"
    assert (body["code"], body["reason"], body["message"]) == (code, reason, message)


def test_not_found_details_name_the_resource_not_the_kind() -> None:
    assert s.not_found("Deployment", "web").status["details"] == {
        "name": "web",
        "group": "apps",
        "kind": "deployments",
    }
    # The core group's "" is left out, as Go's omitempty does.
    assert s.not_found("Pod", "p").status["details"] == {"name": "p", "kind": "pods"}
    assert "details" not in s.bad_request("x").status


@pytest.mark.parametrize(
    ("cause", "message"),
    [
        (s.unsupported("spec.template.spec.hostNetwork", True), "Unsupported value: true"),
        (
            s.unsupported("spec.strategy.type", "Recreate", ["RollingUpdate"]),
            'Unsupported value: "Recreate": supported values: "RollingUpdate"',
        ),
        (
            s.cause("FieldValueInvalid", "spec.replicas", -1, "must be >= 0"),
            "Invalid value: -1: must be >= 0",
        ),
        (s.cause("FieldValueRequired", "spec.selector", detail="needed"), "Required value: needed"),
        (s.cause("FieldValueInvalid", "x", None), "Invalid value: null"),
        (s.cause("FieldValueInvalid", "x", 0.5), "Invalid value: 0.5"),
        (s.cause("FieldValueInvalid", "x", {"b": 1, "a": [2]}), 'Invalid value: {"a":[2],"b":1}'),
    ],
)
def test_causes_read_like_field_errors(cause: s.Cause, message: str) -> None:
    assert cause["message"] == message


def test_invalid_lists_every_cause_and_names_the_kind() -> None:
    one = s.unsupported("spec.template.spec.hostNetwork", True)
    two = s.cause("FieldValueInvalid", "spec.replicas", -1, "must be >= 0")
    single = s.invalid("Deployment", "web", [one])
    assert str(single) == (
        'Deployment.apps "web" is invalid: spec.template.spec.hostNetwork: Unsupported value: true'
    )
    both = s.invalid("Deployment", "web", [one, two, one])
    assert str(both) == (
        'Deployment.apps "web" is invalid: [spec.template.spec.hostNetwork: Unsupported value:'
        " true, spec.replicas: Invalid value: -1: must be >= 0]"
    )
    details: dict[str, Any] = both.status["details"]
    assert details["kind"] == "Deployment" and details["group"] == "apps"
    assert details["causes"][0] == {
        "reason": "FieldValueNotSupported",
        "message": "Unsupported value: true",
        "field": "spec.template.spec.hostNetwork",
    }
    assert both.code == 422
