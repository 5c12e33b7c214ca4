"""The OpenAPI v2 document: valid Swagger, and what kubectl looks for in its protobuf form."""

from __future__ import annotations

import json
from typing import Any

import jsonschema_rs
import pytest
import yaml
from schemathesis.specs.openapi.definitions import SWAGGER_20

from ozymandias.kube import gnostic, openapi_gnostic
from ozymandias.kube.openapi_v2 import document, document_json, document_json_bytes

APPS = "io.k8s.api.apps.v1"
CORE = "io.k8s.api.core.v1"


def decoded() -> Any:
    return gnostic.message_class("Document").FromString(document())


def extensions(named_anys: Any) -> dict[str, Any]:
    """Vendor extensions as kubectl reads them: the YAML text of each value."""
    return {item.name: yaml.safe_load(item.value.yaml) for item in named_anys}


def test_the_json_document_is_valid_swagger_2() -> None:
    validator = jsonschema_rs.Draft4Validator(SWAGGER_20)
    errors = [error.message for error in validator.iter_errors(document_json())]
    assert errors == []


def test_every_reference_names_a_definition() -> None:
    doc = document_json()
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if "$ref" in node:
                found.append(node["$ref"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(doc)
    names = {f"#/definitions/{name}" for name in doc["definitions"]}
    assert found
    assert set(found) - names == set()


def test_the_protobuf_holds_the_same_paths_and_definitions() -> None:
    doc, json_doc = decoded(), document_json()
    assert doc.swagger == "2.0"
    assert doc.info.title == "Kubernetes"
    assert [item.name for item in doc.paths.path] == list(json_doc["paths"])
    assert [item.name for item in doc.definitions.additional_properties] == list(
        json_doc["definitions"]
    )


def test_each_patched_kind_has_one_patch_operation_with_dry_run_and_field_validation() -> None:
    # kubectl takes the first PATCH carrying the kind and looks for the parameter there.
    patches: dict[tuple[str, str, str], list[set[str]]] = {}
    for item in decoded().paths.path:
        operation = item.value.patch
        if not operation.operation_id:
            continue
        gvk = extensions(operation.vendor_extension)["x-kubernetes-group-version-kind"]
        names = {
            parameter.parameter.non_body_parameter.query_parameter_sub_schema.name
            for parameter in operation.parameters
        }
        patches.setdefault((gvk["group"], gvk["version"], gvk["kind"]), []).append(names)
    assert set(patches) == {("apps", "v1", "Deployment"), ("autoscaling", "v1", "Scale"),
                            ("", "v1", "Node")}
    for kind, parameter_sets in patches.items():
        assert len(parameter_sets) == 1, kind
        assert {"dryRun", "fieldManager", "fieldValidation"} <= parameter_sets[0], kind


@pytest.mark.parametrize(
    ("path", "method", "operation_id", "action"),
    [
        ("/api/v1/nodes", "get", "listCoreV1Node", "list"),
        ("/api/v1/nodes/{name}", "patch", "patchCoreV1Node", "patch"),
        ("/api/v1/namespaces/{namespace}/pods", "get", "listCoreV1NamespacedPod", "list"),
        ("/api/v1/namespaces/{namespace}/pods/{name}", "delete", "deleteCoreV1NamespacedPod",
         "delete"),
        ("/api/v1/namespaces/{namespace}/pods/{name}/log", "get", "readCoreV1NamespacedPodLog",
         "get"),
        ("/api/v1/namespaces/{namespace}/events", "get", "listCoreV1NamespacedEvent", "list"),
        ("/api/v1/namespaces/{namespace}/events/{name}", "get", "readCoreV1NamespacedEvent",
         "get"),
        ("/api/v1/pods", "get", "listCoreV1PodForAllNamespaces", "list"),
        ("/apis/apps/v1/deployments", "get", "listAppsV1DeploymentForAllNamespaces", "list"),
        ("/api/v1/namespaces/{name}", "get", "readCoreV1Namespace", "get"),
        ("/apis/apps/v1/namespaces/{namespace}/deployments", "post",
         "createAppsV1NamespacedDeployment", "post"),
        ("/apis/apps/v1/namespaces/{namespace}/deployments/{name}", "put",
         "replaceAppsV1NamespacedDeployment", "put"),
        ("/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale", "patch",
         "patchAppsV1NamespacedDeploymentScale", "patch"),
        ("/apis/apps/v1/namespaces/{namespace}/deployments/{name}/status", "get",
         "readAppsV1NamespacedDeploymentStatus", "get"),
    ],
)
def test_operations_are_named_as_kubernetes_names_them(
    path: str, method: str, operation_id: str, action: str
) -> None:
    operation = document_json()["paths"][path][method]
    assert operation["operationId"] == operation_id
    assert operation["x-kubernetes-action"] == action


def test_patch_consumes_the_patch_types_we_serve_and_not_apply() -> None:
    patch = document_json()["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"][
        "patch"
    ]
    assert patch["consumes"] == [
        "application/json-patch+json",
        "application/merge-patch+json",
        "application/strategic-merge-patch+json",
    ]


def test_log_takes_container_follow_and_tail_lines() -> None:
    log = document_json()["paths"]["/api/v1/namespaces/{namespace}/pods/{name}/log"]["get"]
    assert {p["name"] for p in log["parameters"]} == {"container", "follow", "tailLines"}
    assert log["produces"] == ["text/plain"]


def property_of(definitions: dict[str, Any], path: str) -> dict[str, Any]:
    """A property's schema by a path such as `Definition:field.field`, following references."""
    name, _, fields = path.partition(":")
    schema: dict[str, Any] = definitions[name]
    for field in fields.split("."):
        while "$ref" in schema:
            schema = definitions[schema["$ref"].removeprefix("#/definitions/")]
        if schema.get("type") == "array":
            schema = schema["items"]
            while "$ref" in schema:
                schema = definitions[schema["$ref"].removeprefix("#/definitions/")]
        schema = schema["properties"][field]
    return schema


@pytest.mark.parametrize(
    ("path", "strategy", "merge_key"),
    [
        (f"{CORE}.PodSpec.containers", "merge", "name"),
        (f"{CORE}.PodSpec.initContainers", "merge", "name"),
        (f"{CORE}.PodSpec.volumes", "merge,retainKeys", "name"),
        (f"{CORE}.Container.env", "merge", "name"),
        (f"{CORE}.Container.ports", "merge", "containerPort"),
        (f"{CORE}.Container.volumeMounts", "merge", "mountPath"),
        (f"{APPS}.DeploymentSpec.strategy", "retainKeys", None),
        (f"{APPS}.DeploymentStatus.conditions", "merge", "type"),
    ],
)
def test_patch_strategies_and_merge_keys_are_kubernetes_ones_in_the_protobuf(
    path: str, strategy: str, merge_key: str | None
) -> None:
    name, field = path.rsplit(".", 1)
    definitions = {d.name: d.value for d in decoded().definitions.additional_properties}
    properties = {p.name: p.value for p in definitions[name].properties.additional_properties}
    found = extensions(properties[field].vendor_extension)
    assert found.get("x-kubernetes-patch-strategy") == strategy
    assert found.get("x-kubernetes-patch-merge-key") == merge_key


@pytest.mark.parametrize(
    "path",
    [
        f"{APPS}.Deployment:spec.template.spec.hostNetwork",
        f"{APPS}.Deployment:spec.template.spec.containers.securityContext.privileged",
        f"{APPS}.Deployment:spec.template.spec.volumes.hostPath.path",
        f"{APPS}.Deployment:spec.template.spec.initContainers.image",
        f"{APPS}.Deployment:spec.template.spec.serviceAccountName",
        f"{APPS}.Deployment:spec.template.spec.tolerations.key",
        f"{APPS}.Deployment:spec.template.spec.affinity.nodeAffinity",
        f"{APPS}.Deployment:spec.template.spec.containers.livenessProbe.httpGet.port",
        f"{APPS}.Deployment:spec.template.spec.volumes.emptyDir.sizeLimit",
        f"{APPS}.Deployment:spec.strategy.rollingUpdate.maxSurge",
    ],
)
def test_fields_users_write_are_in_the_schema_even_those_the_server_refuses(path: str) -> None:
    assert property_of(document_json()["definitions"], path)


def test_top_level_kinds_carry_their_group_version_kind_as_a_yaml_list() -> None:
    definitions = {d.name: d.value for d in decoded().definitions.additional_properties}
    gvk = extensions(definitions[f"{APPS}.Deployment"].vendor_extension)
    assert gvk["x-kubernetes-group-version-kind"] == [
        {"group": "apps", "kind": "Deployment", "version": "v1"}
    ]
    scale = extensions(definitions["io.k8s.api.autoscaling.v1.Scale"].vendor_extension)
    assert scale["x-kubernetes-group-version-kind"][0]["kind"] == "Scale"


def test_int_or_string_and_quantity_are_strings() -> None:
    definitions = document_json()["definitions"]
    assert definitions["io.k8s.apimachinery.pkg.util.intstr.IntOrString"]["format"] == (
        "int-or-string"
    )
    assert definitions["io.k8s.apimachinery.pkg.api.resource.Quantity"]["type"] == "string"
    assert property_of(definitions, f"{CORE}.Container:name") == {"type": "string"}
    assert definitions[f"{CORE}.Container"]["required"] == ["name"]


def parse_like_kubectl(schema: Any, names: set[str], where: str) -> None:
    """kube-openapi's util/proto ParseSchema (kubectl 1.20's reader): what it refuses."""
    types = list(schema.type.value)
    assert len(types) <= 1, where
    if types == ["object"]:
        assert schema.additional_properties.HasField("schema"), f"{where}: object without a map"
        parse_like_kubectl(schema.additional_properties.schema, names, where)
    elif types == ["array"]:
        assert len(schema.items.schema) == 1, where
        parse_like_kubectl(schema.items.schema[0], names, where)
    elif schema._ref:
        assert not schema.properties.additional_properties, where
        assert schema._ref.removeprefix("#/definitions/") in names, where
    elif schema.HasField("properties"):
        for item in schema.properties.additional_properties:
            parse_like_kubectl(item.value, names, f"{where}.{item.name}")
    else:
        assert types in ([], ["string"], ["integer"], ["number"], ["boolean"]), where


def test_every_definition_parses_under_kubectl_1_20_rules() -> None:
    definitions = decoded().definitions.additional_properties
    names = {item.name for item in definitions}
    for item in definitions:
        parse_like_kubectl(item.value, names, item.name)


def test_extension_yaml_is_what_go_yaml_writes() -> None:
    assert openapi_gnostic.extension_yaml("merge") == "merge\n"
    assert openapi_gnostic.extension_yaml({"kind": "Pod", "group": ""}) == "group: ''\nkind: Pod\n"


def test_a_keyword_without_a_gnostic_mapping_is_refused_not_dropped() -> None:
    with pytest.raises(ValueError, match="minimum"):
        openapi_gnostic.schema({"type": "integer", "minimum": 1})
    with pytest.raises(ValueError, match="header"):
        openapi_gnostic.document_fields({
            "swagger": "2.0", "info": {"title": "t", "version": "v"}, "definitions": {},
            "paths": {"/x": {"get": {"parameters": [{"name": "h", "in": "header"}]}}},
        })


def test_the_document_is_built_once() -> None:
    assert document() is document()
    assert document_json_bytes() is document_json_bytes()
    assert json.loads(document_json_bytes()) == document_json()
    first = document_json()
    first["paths"].clear()
    assert document_json()["paths"]
