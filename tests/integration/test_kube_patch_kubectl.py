"""Our patch engines against kubectl's own: `kubectl patch --local` applies a patch offline.

`kubectl patch -f FILE --local --type strategic -p PATCH` runs apimachinery's
StrategicMergePatch over the Go types, with no server (`--type merge` and
`--type json`: evanphx/json-patch, as the apiserver). Every case, and random
patches over a Deployment, must give what it gives (or fail where it fails).
Members set to null are left out on both sides before comparing: kubectl keeps
a null in an appended list element, we drop it, and a Kubernetes object reads
them alike. The kubectl run is the one tests/support finds (`OZY_TEST_KUBECTL`,
else `kubectl` on PATH); run this file with each version.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ozymandias.kube.patch_error import PatchError
from ozymandias.kube.patches import apply_patch


def _kubectl() -> str:
    found = os.environ.get("OZY_TEST_KUBECTL") or shutil.which("kubectl")
    if not found:
        pytest.fail("no kubectl: set OZY_TEST_KUBECTL or put kubectl on PATH (make setup)")
    return found


def _without_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(item) for item in value]
    return value


# kubectl patch --type, and the Content-Type kubectl sends for it.
_CONTENT_TYPES = {
    "strategic": "application/strategic-merge-patch+json",
    "merge": "application/merge-patch+json",
    "json": "application/json-patch+json",
}


def _kubectl_patch(
    workdir: Path, original: dict[str, Any], patch: Any, patch_type: str
) -> dict[str, Any] | None:
    """kubectl's result, or None when it refuses the patch."""
    source = workdir / "object.json"
    source.write_text(json.dumps(original))
    command = [_kubectl(), "patch", "-f", str(source), "--local", "--type", patch_type]
    done = subprocess.run(
        [*command, "-p", json.dumps(patch), "-o", "json"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "KUBECONFIG": os.devnull},
        check=False,
    )
    if done.returncode != 0:
        return None
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def _ours(original: dict[str, Any], patch: Any, patch_type: str) -> dict[str, Any] | None:
    try:
        return apply_patch(_CONTENT_TYPES[patch_type], original, patch, original["kind"])
    except PatchError:
        return None


def _same_as_kubectl(
    workdir: Path, original: dict[str, Any], patch: Any, patch_type: str = "strategic"
) -> None:
    theirs = _kubectl_patch(workdir, original, patch, patch_type)
    ours = _ours(original, patch, patch_type)
    if theirs is None or ours is None:
        assert theirs is None and ours is None, f"kubectl gave {theirs}, we gave {ours}"
    else:
        assert _without_nulls(ours) == _without_nulls(theirs)


def _deployment() -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": "nginx-deployment",
            "labels": {"app": "nginx", "tier": "web"},
            "finalizers": ["a", "b"],
        },
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app": "nginx"}},
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"},
            },
            "template": {
                "metadata": {"labels": {"app": "nginx"}},
                "spec": {
                    "containers": [
                        {
                            "name": "nginx",
                            "image": "nginx:1.14.2",
                            "ports": [{"containerPort": 80, "protocol": "TCP"}],
                            "env": [{"name": "X", "value": "1"}, {"name": "Z", "value": "2"}],
                        },
                        {"name": "sidecar", "image": "busybox:1.36", "args": ["sleep", "1d"]},
                    ],
                    "volumes": [{"name": "cache", "emptyDir": {"sizeLimit": "1Gi"}}],
                },
            },
        },
    }


def _containers() -> list[dict[str, Any]]:
    containers: list[dict[str, Any]] = _deployment()["spec"]["template"]["spec"]["containers"]
    return containers


def _pod_spec_patch(**fields: Any) -> dict[str, Any]:
    return {"spec": {"template": {"spec": fields}}}


ORDER = [{"name": "nginx"}, {"name": "sidecar"}]

DEPLOYMENT_PATCHES = {
    "a new image": _pod_spec_patch(
        **{"$setElementOrder/containers": ORDER},
        containers=[{"image": "nginx:1.16.1", "name": "nginx"}],
    ),
    "an env var removed": _pod_spec_patch(
        **{"$setElementOrder/containers": ORDER},
        containers=[
            {
                "$setElementOrder/env": [{"name": "Z"}],
                "env": [{"$patch": "delete", "name": "X"}],
                "name": "nginx",
            }
        ],
    ),
    "env vars added and reordered": _pod_spec_patch(
        containers=[
            {
                "$setElementOrder/env": [{"name": "W"}, {"name": "Z"}, {"name": "X"}],
                "env": [{"name": "W", "value": "0"}],
                "name": "nginx",
            }
        ],
    ),
    "a container added first": _pod_spec_patch(
        **{"$setElementOrder/containers": [{"name": "init"}, *ORDER]},
        containers=[{"image": "busybox", "name": "init"}],
    ),
    "a container removed": _pod_spec_patch(
        **{"$setElementOrder/containers": [{"name": "nginx"}]},
        containers=[{"$patch": "delete", "name": "sidecar"}],
    ),
    "a port changed": _pod_spec_patch(
        containers=[
            {
                "$setElementOrder/ports": [{"containerPort": 8080}],
                "name": "nginx",
                "ports": [{"containerPort": 8080}, {"$patch": "delete", "containerPort": 80}],
            }
        ],
    ),
    "the containers replaced": _pod_spec_patch(
        containers=[{"name": "only", "image": "x"}, {"$patch": "replace"}]
    ),
    "a volume's source changed": _pod_spec_patch(
        volumes=[{"$retainKeys": ["emptyDir", "name"], "emptyDir": {}, "name": "cache"}]
    ),
    "replicas": {"spec": {"replicas": 5}},
    "a label removed": {"metadata": {"labels": {"tier": None}}},
    "labels replaced": {"metadata": {"labels": {"$patch": "replace", "x": "y"}}},
    "a finalizer removed and one added": {
        "metadata": {"$deleteFromPrimitiveList/finalizers": ["a"], "finalizers": ["c"]}
    },
    "strategy Recreate with a null": {
        "spec": {"strategy": {"$retainKeys": ["type"], "rollingUpdate": None, "type": "Recreate"}}
    },
    "strategy Recreate without": {
        "spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}
    },
    "an element without its merge key": _pod_spec_patch(containers=[{"image": "x"}]),
    "$setElementOrder out of order": _pod_spec_patch(
        **{"$setElementOrder/containers": ORDER},
        containers=[{"name": "sidecar", "image": "a"}, {"name": "nginx", "image": "b"}],
    ),
    "$retainKeys not naming a set field": {
        "spec": {"strategy": {"$retainKeys": ["type"], "rollingUpdate": {"maxSurge": 1}}}
    },
}


@pytest.mark.parametrize("patch", DEPLOYMENT_PATCHES.values(), ids=DEPLOYMENT_PATCHES.keys())
def test_deployment_patches_as_kubectl_applies_them(tmp_path: Path, patch: dict[str, Any]) -> None:
    _same_as_kubectl(tmp_path, _deployment(), patch)


def _node() -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": "n1", "labels": {"zone": "a"}},
        "spec": {"taints": [{"key": "k", "effect": "NoSchedule"}], "unschedulable": True},
        "status": {"conditions": [{"type": "Ready", "status": "True"}]},
    }


@pytest.mark.parametrize(
    "patch",
    [
        {"spec": {"unschedulable": None}},
        {"spec": {"unschedulable": False}},
        {"spec": {"taints": [{"key": "other", "effect": "NoExecute"}]}},
        {"status": {"conditions": [{"type": "MemoryPressure", "status": "False"}]}},
    ],
)
def test_node_patches_as_kubectl_applies_them(tmp_path: Path, patch: dict[str, Any]) -> None:
    _same_as_kubectl(tmp_path, _node(), patch)


_NAMES = ["nginx", "sidecar", "new"]
_ENV = ["X", "Z", "W"]


def _element_order(draw: st.DrawFn, names: list[str], keep: set[str]) -> list[str]:
    """A $setElementOrder as kubectl writes it: every element the result keeps, maybe others.

    With elements only the server has, the apiserver's order depends on Go slices sharing
    their arrays (patch.go's deleteMatchingEntries and append); kubectl's own patches name
    every element of the file, so only those orders are compared.
    """
    return [n for n in draw(st.permutations(names)) if n in keep or draw(st.booleans())]


def _sorted_by(elements: list[dict[str, Any]], order: list[str]) -> None:
    elements.sort(key=lambda e: order.index(e["name"]) if e["name"] in order else len(order))


@st.composite
def _env_patches(draw: st.DrawFn, live: list[str]) -> dict[str, Any]:
    # Directives go only into an env the container has: Kubernetes 1.20 leaves a $patch
    # element it has nothing to apply to in the list (later versions drop it, as we do).
    names = draw(st.lists(st.sampled_from(_ENV), unique=True, max_size=3))
    elements: list[dict[str, Any]] = []
    for name in names:
        if bool(live) and draw(st.booleans()):
            elements.append({"name": name, "$patch": "delete"})
        else:
            elements.append({"name": name, "value": draw(st.sampled_from(["1", "9", None]))})
    patch: dict[str, Any] = {"env": elements}
    # Kubernetes refuses a $setElementOrder whose list is empty on both sides ("no elements
    # in any of the given slices"); we take it as the empty list. kubectl never sends it.
    if bool(live and names) and draw(st.booleans()):
        deleted = {e["name"] for e in elements if "$patch" in e}
        order = _element_order(draw, _ENV, (set(names) | set(live)) - deleted)
        patch["$setElementOrder/env"] = [{"name": n} for n in order]
        _sorted_by(elements, order)
    return patch


@st.composite
def _container_patches(draw: st.DrawFn) -> dict[str, Any]:
    live_env = {c["name"]: [e["name"] for e in c.get("env", [])] for c in _containers()}
    names = draw(st.lists(st.sampled_from(_NAMES), unique=True, max_size=3))
    elements: list[dict[str, Any]] = []
    for name in names:
        kind = draw(st.sampled_from(["delete", "image", "env", "args"]))
        if kind == "delete":
            elements.append({"name": name, "$patch": "delete"})
        elif kind == "image":
            elements.append({"name": name, "image": draw(st.sampled_from(["a", "b", None]))})
        elif kind == "env":
            elements.append({"name": name, **draw(_env_patches(live_env.get(name, [])))})
        else:
            elements.append({"name": name, "args": draw(st.lists(st.sampled_from(["x", "y"])))})
    spec: dict[str, Any] = {"containers": elements}
    if draw(st.booleans()):
        deleted = {e["name"] for e in elements if "$patch" in e}
        order = _element_order(draw, _NAMES, (set(names) | set(live_env)) - deleted)
        spec["$setElementOrder/containers"] = [{"name": n} for n in order]
        _sorted_by(elements, order)
    if draw(st.booleans()):
        spec["volumes"] = [{"name": "cache", "$patch": "delete"}]
    return _pod_spec_patch(**spec)


@st.composite
def _deployment_patches(draw: st.DrawFn) -> dict[str, Any]:
    """Containers as above, with labels, finalizers and the strategy's $retainKeys."""
    patch = draw(_container_patches())
    metadata: dict[str, Any] = {}
    labels = draw(
        st.dictionaries(st.sampled_from(["app", "tier", "x"]), st.sampled_from(["v", None]))
    )
    if labels:
        if draw(st.booleans()):
            labels["$patch"] = "replace"
        metadata["labels"] = labels
    finalizers = draw(st.lists(st.sampled_from(["a", "b", "c"]), unique=True, max_size=2))
    if finalizers:
        metadata["finalizers"] = finalizers
    # Not one both added and deleted: the apiserver does the two in Go's random map order.
    others = [f for f in ["a", "b", "c"] if f not in finalizers]
    deleted = draw(st.lists(st.sampled_from(others), unique=True, max_size=2)) if others else []
    if deleted:
        metadata["$deleteFromPrimitiveList/finalizers"] = deleted
    if metadata:
        patch["metadata"] = metadata
    strategy: dict[str, Any] = {"type": draw(st.sampled_from(["Recreate", "RollingUpdate"]))}
    if draw(st.booleans()):
        strategy["rollingUpdate"] = draw(st.sampled_from([None, {"maxSurge": 1}]))
    if draw(st.booleans()):
        strategy["$retainKeys"] = sorted(k for k, v in strategy.items() if v is not None)
    if draw(st.booleans()):
        patch["spec"]["strategy"] = strategy
    return patch


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(patch=_deployment_patches())
def test_random_deployment_patches_as_kubectl_applies_them(
    tmp_path: Path, patch: dict[str, Any]
) -> None:
    _same_as_kubectl(tmp_path, _deployment(), patch)


_JSON_PATCHES = [
    [{"op": "replace", "path": "/spec/replicas", "value": 5}],
    [
        {"op": "add", "path": "/metadata/labels/new", "value": "v"},
        {"op": "remove", "path": "/metadata/labels/tier"},
    ],
    [{"op": "move", "from": "/metadata/labels/tier", "path": "/metadata/labels/tier2"}],
    [
        {
            "op": "copy",
            "from": "/spec/template/spec/containers/0",
            "path": "/spec/template/spec/containers/-",
        }
    ],
    [
        {"op": "test", "path": "/spec/replicas", "value": 3},
        {"op": "replace", "path": "/spec/replicas", "value": 1},
    ],
    [{"op": "test", "path": "/spec/replicas", "value": 4}],
    [{"op": "remove", "path": "/spec/nope"}],
    [{"op": "add", "path": "/spec/template/spec/containers/5", "value": {}}],
    [{"op": "add", "path": "/metadata/labels/a~1b", "value": "x"}],
    [{"op": "replace", "path": "/spec/template/spec/containers/1/args/0", "value": "run"}],
]


@pytest.mark.parametrize("patch", _JSON_PATCHES)
def test_json_patches_as_kubectl_applies_them(tmp_path: Path, patch: list[dict[str, Any]]) -> None:
    _same_as_kubectl(tmp_path, _deployment(), patch, "json")


# No null inside a list: evanphx/json-patch prunes those from a new member's value, where
# RFC 7386 (and we) keep the value as it is.
_merge_values = st.recursive(
    st.integers(0, 3) | st.sampled_from(["a", "b"]),
    lambda children: (
        st.lists(children, max_size=2)
        | st.dictionaries(
            st.sampled_from(["replicas", "paused", "x", "template"]), children | st.none()
        )
    ),
    max_leaves=8,
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(patch=st.dictionaries(st.sampled_from(["spec", "x"]), _merge_values | st.none(), max_size=2))
def test_random_merge_patches_as_kubectl_applies_them(
    tmp_path: Path, patch: dict[str, Any]
) -> None:
    _same_as_kubectl(tmp_path, _deployment(), patch, "merge")
