"""The strategic merge patch strategies of the kinds we serve: Deployment, Pod, Node, Scale. Data.

Copied from the `patchStrategy`/`patchMergeKey` tags of k8s.io/api (core/v1,
apps/v1, autoscaling/v1, meta/v1 types.go). Only lists that merge, and maps that
do something other than merge, need an entry: every other list is replaced
whole (tolerations, a node's taints, args, command), every other map merges.
"""

from __future__ import annotations

from collections.abc import Mapping

from ozymandias.kube.strategic_merge import FieldPatch, PatchSchema

_BY_NAME = FieldPatch("merge", "name")

_OBJECT_META: Mapping[str, FieldPatch] = {
    "finalizers": FieldPatch("merge"),
    "ownerReferences": FieldPatch("merge", "uid"),
}

_CONTAINER: Mapping[str, FieldPatch] = {
    "ports": FieldPatch("merge", "containerPort"),
    "env": _BY_NAME,
    "volumeMounts": FieldPatch("merge", "mountPath"),
    "volumeDevices": FieldPatch("merge", "devicePath"),
}

_POD_SPEC_LISTS: Mapping[str, FieldPatch] = {
    "volumes": FieldPatch("merge,retainKeys", "name"),
    "imagePullSecrets": _BY_NAME,
    "hostAliases": FieldPatch("merge", "ip"),
    "topologySpreadConstraints": FieldPatch("merge", "topologyKey"),
    "resourceClaims": FieldPatch("merge,retainKeys", "name"),
    "schedulingGates": _BY_NAME,
}

_CONTAINER_LISTS = ("initContainers", "containers", "ephemeralContainers")

_POD_STATUS: Mapping[str, FieldPatch] = {
    "conditions": FieldPatch("merge", "type"),
    "podIPs": FieldPatch("merge", "ip"),
    "hostIPs": FieldPatch("merge", "ip"),
    "resourceClaimStatuses": FieldPatch("merge,retainKeys", "name"),
}


def _under(prefix: str, fields: Mapping[str, FieldPatch]) -> dict[str, FieldPatch]:
    return {f"{prefix}.{path}": field for path, field in fields.items()}


def _pod_spec() -> dict[str, FieldPatch]:
    spec = dict(_POD_SPEC_LISTS)
    for containers in _CONTAINER_LISTS:
        spec[containers] = _BY_NAME
        spec.update(_under(containers, _CONTAINER))
    return spec


def _pod_template(prefix: str) -> dict[str, FieldPatch]:
    return {**_under(f"{prefix}.metadata", _OBJECT_META), **_under(f"{prefix}.spec", _pod_spec())}


POD_SCHEMA: PatchSchema = {
    **_under("metadata", _OBJECT_META),
    **_under("spec", _pod_spec()),
    **_under("status", _POD_STATUS),
}

DEPLOYMENT_SCHEMA: PatchSchema = {
    **_under("metadata", _OBJECT_META),
    "spec.strategy": FieldPatch("retainKeys"),
    **_pod_template("spec.template"),
    "status.conditions": FieldPatch("merge", "type"),
}

NODE_SCHEMA: PatchSchema = {
    **_under("metadata", _OBJECT_META),
    "spec.podCIDRs": FieldPatch("merge"),
    "status.conditions": FieldPatch("merge", "type"),
    "status.addresses": FieldPatch("merge", "type"),
}

SCALE_SCHEMA: PatchSchema = _under("metadata", _OBJECT_META)

# By the `kind` of the object patched.
SCHEMAS: Mapping[str, PatchSchema] = {
    "Deployment": DEPLOYMENT_SCHEMA,
    "Pod": POD_SCHEMA,
    "Node": NODE_SCHEMA,
    "Scale": SCALE_SCHEMA,
}
