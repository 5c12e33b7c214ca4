"""Strategic merge patch on the patches kubectl sends, and on apimachinery's own test cases.

The Deployment cases are the patches `kubectl apply` computes (CreateThreeWayMergePatch in
k8s.io/apimachinery/pkg/util/strategicpatch/patch.go, called from
k8s.io/kubectl/pkg/cmd/apply/patcher.go) for the Kubernetes documentation's nginx Deployment
when the file changes; the Node cases are what `kubectl cordon`/`uncordon` send
(k8s.io/kubectl/pkg/drain/cordon.go). The MergeItem cases are copied from
k8s.io/apimachinery/pkg/util/strategicpatch/patch_test.go, over a schema that mirrors its
MergeItem struct tags.
"""

from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from ozymandias.kube.json_values import json_equal
from ozymandias.kube.merge_patch import apply_merge_patch
from ozymandias.kube.patch_error import PatchError
from ozymandias.kube.patch_schemas import DEPLOYMENT_SCHEMA, NODE_SCHEMA, POD_SCHEMA
from ozymandias.kube.strategic_merge import FieldPatch, PatchSchema, apply_strategic_merge

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


def _live_deployment() -> dict[str, Any]:
    """The nginx Deployment of the Kubernetes docs, as the server holds it after a first apply."""
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": "nginx-deployment",
            "namespace": "default",
            "labels": {"app": "nginx", "tier": "web"},
            "annotations": {LAST_APPLIED: '{"old":"config"}'},
            "generation": 1,
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
                            "env": [{"name": "X", "value": "1"}, {"name": "Y", "value": "2"}],
                        },
                        {"name": "sidecar", "image": "busybox:1.36", "args": ["sleep", "1d"]},
                    ],
                    "volumes": [{"name": "cache", "emptyDir": {"sizeLimit": "1Gi"}}],
                },
            },
        },
        "status": {"observedGeneration": 1, "replicas": 3},
    }


def _pod_spec(deployment: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = deployment["spec"]["template"]["spec"]
    return spec


def _containers(deployment: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in _pod_spec(deployment)["containers"]}


def test_a_new_image_in_one_container() -> None:
    patch = {
        "metadata": {"annotations": {LAST_APPLIED: '{"new":"config"}'}},
        "spec": {
            "template": {
                "spec": {
                    "$setElementOrder/containers": [{"name": "nginx"}, {"name": "sidecar"}],
                    "containers": [{"image": "nginx:1.16.1", "name": "nginx"}],
                }
            }
        },
    }
    live = _live_deployment()
    result = apply_strategic_merge(live, patch, DEPLOYMENT_SCHEMA)
    nginx = _containers(result)["nginx"]
    assert nginx["image"] == "nginx:1.16.1"
    assert nginx["ports"] == [{"containerPort": 80, "protocol": "TCP"}]
    assert [c["name"] for c in _pod_spec(result)["containers"]] == ["nginx", "sidecar"]
    assert result["metadata"]["annotations"] == {LAST_APPLIED: '{"new":"config"}'}
    assert result["metadata"]["labels"] == {"app": "nginx", "tier": "web"}
    assert live == _live_deployment(), "the input is not changed"


def test_an_env_var_removed_from_the_file() -> None:
    patch = {
        "spec": {
            "template": {
                "spec": {
                    "$setElementOrder/containers": [{"name": "nginx"}, {"name": "sidecar"}],
                    "containers": [
                        {
                            "$setElementOrder/env": [{"name": "Y"}],
                            "env": [{"$patch": "delete", "name": "X"}],
                            "name": "nginx",
                        }
                    ],
                }
            }
        }
    }
    result = apply_strategic_merge(_live_deployment(), patch, DEPLOYMENT_SCHEMA)
    assert _containers(result)["nginx"]["env"] == [{"name": "Y", "value": "2"}]


def test_an_env_var_added_and_one_changed_keeps_the_files_order() -> None:
    patch = {
        "spec": {
            "template": {
                "spec": {
                    "$setElementOrder/containers": [{"name": "nginx"}, {"name": "sidecar"}],
                    "containers": [
                        {
                            "$setElementOrder/env": [{"name": "W"}, {"name": "X"}, {"name": "Y"}],
                            "env": [{"name": "W", "value": "0"}, {"name": "Y", "value": "3"}],
                            "name": "nginx",
                        }
                    ],
                }
            }
        }
    }
    result = apply_strategic_merge(_live_deployment(), patch, DEPLOYMENT_SCHEMA)
    assert _containers(result)["nginx"]["env"] == [
        {"name": "W", "value": "0"},
        {"name": "X", "value": "1"},
        {"name": "Y", "value": "3"},
    ]


def test_replicas_changed() -> None:
    result = apply_strategic_merge(_live_deployment(), {"spec": {"replicas": 5}}, DEPLOYMENT_SCHEMA)
    assert result["spec"]["replicas"] == 5
    assert result["spec"]["template"] == _live_deployment()["spec"]["template"]


def test_a_label_removed_is_null() -> None:
    patch = {"metadata": {"labels": {"tier": None}}}
    result = apply_strategic_merge(_live_deployment(), patch, DEPLOYMENT_SCHEMA)
    assert result["metadata"]["labels"] == {"app": "nginx"}


def test_a_container_added_goes_where_the_file_puts_it() -> None:
    patch = {
        "spec": {
            "template": {
                "spec": {
                    "$setElementOrder/containers": [
                        {"name": "init"},
                        {"name": "nginx"},
                        {"name": "sidecar"},
                    ],
                    "containers": [{"image": "busybox:1.36", "name": "init"}],
                }
            }
        }
    }
    result = apply_strategic_merge(_live_deployment(), patch, DEPLOYMENT_SCHEMA)
    names = [c["name"] for c in _pod_spec(result)["containers"]]
    assert names == ["init", "nginx", "sidecar"]
    assert _containers(result)["init"] == {"image": "busybox:1.36", "name": "init"}


def test_a_container_removed() -> None:
    patch = {
        "spec": {
            "template": {
                "spec": {
                    "$setElementOrder/containers": [{"name": "nginx"}],
                    "containers": [{"$patch": "delete", "name": "sidecar"}],
                }
            }
        }
    }
    result = apply_strategic_merge(_live_deployment(), patch, DEPLOYMENT_SCHEMA)
    assert list(_containers(result)) == ["nginx"]


def test_a_port_changed_is_a_delete_and_an_add_by_container_port() -> None:
    patch = {
        "spec": {
            "template": {
                "spec": {
                    "$setElementOrder/containers": [{"name": "nginx"}, {"name": "sidecar"}],
                    "containers": [
                        {
                            "$setElementOrder/ports": [{"containerPort": 8080}],
                            "name": "nginx",
                            "ports": [
                                {"containerPort": 8080},
                                {"$patch": "delete", "containerPort": 80},
                            ],
                        }
                    ],
                }
            }
        }
    }
    result = apply_strategic_merge(_live_deployment(), patch, DEPLOYMENT_SCHEMA)
    assert _containers(result)["nginx"]["ports"] == [{"containerPort": 8080}]


def test_retain_keys_on_strategy_clears_rolling_update() -> None:
    patch = {
        "spec": {"strategy": {"$retainKeys": ["type"], "rollingUpdate": None, "type": "Recreate"}}
    }
    result = apply_strategic_merge(_live_deployment(), patch, DEPLOYMENT_SCHEMA)
    assert result["spec"]["strategy"] == {"type": "Recreate"}


def test_retain_keys_clears_what_the_server_defaulted() -> None:
    # The file never had rollingUpdate (the server filled it in), so the patch has no null for
    # it: $retainKeys alone clears it.
    patch = {"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}}
    result = apply_strategic_merge(_live_deployment(), patch, DEPLOYMENT_SCHEMA)
    assert result["spec"]["strategy"] == {"type": "Recreate"}


def test_retain_keys_on_a_field_the_object_lacks_leaves_no_directive() -> None:
    live = _live_deployment()
    del live["spec"]["strategy"]
    patch = {"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}}
    result = apply_strategic_merge(live, patch, DEPLOYMENT_SCHEMA)
    assert result["spec"]["strategy"] == {"type": "Recreate"}


def test_retain_keys_in_a_volume_changes_its_source() -> None:
    patch = {
        "spec": {
            "template": {
                "spec": {
                    "$setElementOrder/volumes": [{"name": "cache"}],
                    "volumes": [
                        {
                            "$retainKeys": ["emptyDir", "name"],
                            "emptyDir": {"medium": "Memory"},
                            "name": "cache",
                        }
                    ],
                }
            }
        }
    }
    live = _live_deployment()
    _pod_spec(live)["volumes"][0]["hostPath"] = {"path": "/tmp"}
    result = apply_strategic_merge(live, patch, DEPLOYMENT_SCHEMA)
    assert _pod_spec(result)["volumes"] == [
        {"name": "cache", "emptyDir": {"sizeLimit": "1Gi", "medium": "Memory"}}
    ]


def test_patch_replace_on_a_map() -> None:
    patch = {"spec": {"template": {"metadata": {"labels": {"$patch": "replace", "app": "web"}}}}}
    result = apply_strategic_merge(_live_deployment(), patch, DEPLOYMENT_SCHEMA)
    assert result["spec"]["template"]["metadata"]["labels"] == {"app": "web"}


def test_patch_replace_as_a_list_element_replaces_the_list() -> None:
    patch = {
        "spec": {
            "template": {
                "spec": {"containers": [{"name": "only", "image": "nginx"}, {"$patch": "replace"}]}
            }
        }
    }
    result = apply_strategic_merge(_live_deployment(), patch, DEPLOYMENT_SCHEMA)
    assert _pod_spec(result)["containers"] == [{"name": "only", "image": "nginx"}]


def test_patch_delete_on_a_map_empties_it() -> None:
    patch = {"metadata": {"labels": {"$patch": "delete"}}}
    result = apply_strategic_merge(_live_deployment(), patch, DEPLOYMENT_SCHEMA)
    assert result["metadata"]["labels"] == {}


def test_a_list_without_a_merge_strategy_is_replaced() -> None:
    patch = {
        "spec": {
            "template": {
                "spec": {
                    "$setElementOrder/containers": [{"name": "nginx"}, {"name": "sidecar"}],
                    "containers": [{"args": ["sleep", "2d"], "name": "sidecar"}],
                }
            }
        }
    }
    result = apply_strategic_merge(_live_deployment(), patch, DEPLOYMENT_SCHEMA)
    assert _containers(result)["sidecar"]["args"] == ["sleep", "2d"]


def test_finalizers_merge_as_a_set_and_delete_from_primitive_list() -> None:
    live = {"metadata": {"name": "p", "finalizers": ["a", "b"]}}
    added = apply_strategic_merge(live, {"metadata": {"finalizers": ["b", "c"]}}, POD_SCHEMA)
    assert added["metadata"]["finalizers"] == ["a", "b", "c"]
    patch = {"metadata": {"$deleteFromPrimitiveList/finalizers": ["a"]}}
    removed = apply_strategic_merge(added, patch, POD_SCHEMA)
    assert removed["metadata"]["finalizers"] == ["b", "c"]


def _node() -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": "n1", "labels": {"zone": "a"}},
        "spec": {"taints": [{"key": "k", "effect": "NoSchedule"}]},
        "status": {"conditions": [{"type": "Ready", "status": "True"}]},
    }


def test_kubectl_cordon_and_uncordon() -> None:
    cordoned = apply_strategic_merge(_node(), {"spec": {"unschedulable": True}}, NODE_SCHEMA)
    assert cordoned["spec"] == {
        "taints": [{"key": "k", "effect": "NoSchedule"}],
        "unschedulable": True,
    }
    uncordoned = apply_strategic_merge(cordoned, {"spec": {"unschedulable": None}}, NODE_SCHEMA)
    assert uncordoned == _node()


def test_node_taints_are_replaced_whole() -> None:
    patch = {"spec": {"taints": [{"key": "other", "effect": "NoExecute"}]}}
    result = apply_strategic_merge(_node(), patch, NODE_SCHEMA)
    assert result["spec"]["taints"] == [{"key": "other", "effect": "NoExecute"}]


def test_node_conditions_merge_by_type() -> None:
    patch = {"status": {"conditions": [{"type": "MemoryPressure", "status": "False"}]}}
    result = apply_strategic_merge(_node(), patch, NODE_SCHEMA)
    # Without $setElementOrder, Kubernetes puts the patch's new elements before the live ones
    # (mergeSortedSlice in patch.go takes a patch element first unless both are live).
    assert [c["type"] for c in result["status"]["conditions"]] == ["MemoryPressure", "Ready"]


def test_no_directive_or_null_is_left_in_a_new_field() -> None:
    live: dict[str, Any] = {"spec": {}}
    patch = {
        "spec": {
            "template": {
                "metadata": {"labels": {"app": "x", "gone": None}},
                "spec": {
                    "$setElementOrder/containers": [{"name": "a"}],
                    "containers": [
                        {
                            "name": "a",
                            "env": [{"name": "E", "value": "1"}, {"$patch": "delete", "name": "F"}],
                        }
                    ],
                },
            }
        }
    }
    result = apply_strategic_merge(live, patch, DEPLOYMENT_SCHEMA)
    assert result == {
        "spec": {
            "template": {
                "metadata": {"labels": {"app": "x"}},
                "spec": {"containers": [{"name": "a", "env": [{"name": "E", "value": "1"}]}]},
            }
        }
    }


REFUSED = [
    (
        {"spec": {"template": {"spec": {"containers": [{"image": "nginx"}]}}}},
        "does not contain declared merge key 'name'",
    ),
    (
        {"spec": {"template": {"spec": {"containers": ["nginx"]}}}},
        "is not an object",
    ),
    ({"spec": {"$patch": "frobnicate"}}, "unknown \\$patch directive 'frobnicate' in spec"),
    (
        {"spec": {"template": {"spec": {"containers": [{"name": "x", "$patch": "nope"}]}}}},
        "unknown \\$patch directive 'nope'",
    ),
    ({"spec": {"strategy": {"$retainKeys": "type"}}}, "must be a list of field names"),
    (
        {"spec": {"strategy": {"$retainKeys": ["type"], "rollingUpdate": {"maxSurge": 1}}}},
        "sets spec.strategy.rollingUpdate, which \\$retainKeys",
    ),
    (
        {
            "spec": {
                "template": {
                    "spec": {
                        "$setElementOrder/containers": [{"name": "nginx"}, {"name": "sidecar"}],
                        "containers": [{"name": "sidecar"}, {"name": "nginx"}],
                    }
                }
            }
        },
        "doesn't match its \\$setElementOrder",
    ),
    ({"spec": {"$setElementOrder/": []}}, "names no field"),
    ({"spec": {"$setElementOrder/replicas": [1]}}, "not a list"),
    ({"metadata": {"$deleteFromPrimitiveList/finalizers": "a"}}, "must be a list"),
    ({"metadata": {"finalizers": [{"a": 1}]}}, "merges as a list of values"),
    ({"spec": {"$frobnicate": 1}}, "unknown directive '\\$frobnicate'"),
]


@pytest.mark.parametrize(("patch", "message"), REFUSED)
def test_a_malformed_patch_is_refused_with_a_reason(patch: dict[str, Any], message: str) -> None:
    with pytest.raises(PatchError, match=message):
        apply_strategic_merge(_live_deployment(), patch, DEPLOYMENT_SCHEMA)


def test_the_patch_and_the_object_must_be_objects() -> None:
    with pytest.raises(PatchError, match="must be a JSON object"):
        apply_strategic_merge({}, [], DEPLOYMENT_SCHEMA)
    with pytest.raises(PatchError, match="must be a JSON object"):
        apply_strategic_merge([], {}, DEPLOYMENT_SCHEMA)


def _merge_item_schema() -> PatchSchema:
    """apimachinery's MergeItem struct tags, unrolled to the depth the cases use."""
    item = {
        "mergingList": FieldPatch("merge", "name"),
        "mergingIntList": FieldPatch("merge"),
        "mergeItemPtr": FieldPatch("merge", "name"),
        "replacingItem": FieldPatch("replace"),
        "retainKeysMap": FieldPatch("retainKeys"),
        "retainKeysMergingList": FieldPatch("merge,retainKeys", "name"),
    }
    schema = dict(item)
    for depth in range(3):
        for path in [p for p in schema if p.count(".") == depth and p.endswith("mergingList")]:
            schema.update({f"{path}.{field}": meta for field, meta in item.items()})
    schema["retainKeysMap.mergingList"] = FieldPatch("merge", "name")
    schema["retainKeysMap.mergingIntList"] = FieldPatch("merge")
    return schema


MERGE_ITEM = _merge_item_schema()

# The cases of patch_test.go, as it writes them: the description, the object patched (its
# `original`, or `current` for a three-way case), the patch, and the expected result.
APIMACHINERY_CASES = yaml.safe_load("""
- description: unique scalars when merging lists
  original: {mergingIntList: [1, 2]}
  patch: {mergingIntList: [2, 3]}
  expected: {mergingIntList: [1, 2, 3]}
- description: delete map from nested map
  original: {simpleMap: {key1: 1, key2: 1}}
  patch: {simpleMap: {$patch: delete}}
  expected: {simpleMap: {}}
- description: delete all items from merging list
  original: {mergingList: [{name: 1}, {name: 2}]}
  patch: {mergingList: [{$patch: replace}]}
  expected: {mergingList: []}
- description: merge empty merging lists
  original: {mergingList: []}
  patch: {mergingList: []}
  expected: {mergingList: []}
- description: delete all keys from map
  original: {name: 1, value: 1}
  patch: {$patch: replace}
  expected: {}
- description: add key and delete all keys from map
  original: {name: 1, value: 1}
  patch: {other: a, $patch: replace}
  expected: {other: a}
- description: delete all duplicate entries in a merging list
  original: {mergingList: [{name: 1}, {name: 1}, {name: 2, value: a}, {name: 3}, {name: 3}]}
  patch: {mergingList: [{name: 1, $patch: delete}, {name: 3, $patch: delete}]}
  expected: {mergingList: [{name: 2, value: a}]}
- description: retainKeys map can add a field when no retainKeys directive present
  original: {retainKeysMap: {name: foo}}
  patch: {retainKeysMap: {value: bar}}
  expected: {retainKeysMap: {name: foo, value: bar}}
- description: retainKeys map can delete a field when no retainKeys directive present
  original: {retainKeysMap: {name: foo, value: a}}
  patch: {retainKeysMap: {value: null}}
  expected: {retainKeysMap: {name: foo}}
- description: retainKeys map merge an empty map
  original: {retainKeysMap: {name: foo, value: a}}
  patch: {retainKeysMap: {}}
  expected: {retainKeysMap: {name: foo, value: a}}
- description: retainKeys list can change a field when no retainKeys directive present
  original: {retainKeysMergingList: [{name: bar}, {name: foo, value: a}]}
  patch: {retainKeysMergingList: [{name: foo, value: b}]}
  expected: {retainKeysMergingList: [{name: bar}, {name: foo, value: b}]}
- description: preserve the order from the patch in a merging list
  original: {mergingList: [{name: 1}, {name: 2, value: b}, {name: 3}]}
  patch: {mergingList: [{name: 3, value: c}, {name: 1, value: a}, {name: 2, other: x}]}
  expected: {mergingList: [{name: 3, value: c}, {name: 1, value: a}, {name: 2, value: b, other: x}]}
- description: preserve the order from the patch in a merging list 2
  original: {mergingList: [{name: 1}, {name: 2, value: b}, {name: 3}]}
  patch: {mergingList: [{name: 3, value: c}, {name: 1, value: a}]}
  expected: {mergingList: [{name: 2, value: b}, {name: 3, value: c}, {name: 1, value: a}]}
- description: preserve the order from the patch in a merging int list
  original: {mergingIntList: [1, 2, 3]}
  patch: {mergingIntList: [3, 1, 2]}
  expected: {mergingIntList: [3, 1, 2]}
- description: preserve the order from the patch in a merging int list (2)
  original: {mergingIntList: [1, 2, 3]}
  patch: {mergingIntList: [3, 1]}
  expected: {mergingIntList: [2, 3, 1]}
- description: $setElementOrder contains item that is not present in the list to be merged
  original: {mergingList: [{name: 1}, {name: 3}]}
  patch:
    $setElementOrder/mergingList:
    - {name: 3}
    - {name: 2}
    - {name: 1}
    mergingList:
    - {name: 3, value: 3}
    - {name: 1, value: 1}
  expected: {mergingList: [{name: 3, value: 3}, {name: 1, value: 1}]}
- description: $setElementOrder contains item that is not present in the int list to be merged
  original: {mergingIntList: [1, 3]}
  patch: {$setElementOrder/mergingIntList: [3, 2, 1]}
  expected: {mergingIntList: [3, 1]}
- description: $deleteFromPrimitiveList of nonexistent item in primitive list
  original: {mergingIntList: [1, 2]}
  patch: {$deleteFromPrimitiveList/mergingIntList: [3]}
  expected: {mergingIntList: [1, 2]}
- description: $deleteFromPrimitiveList on empty primitive list should not add the item to the list
  original: {mergingIntList: null}
  patch: {$deleteFromPrimitiveList/mergingIntList: [3]}
  expected: {mergingIntList: null}
- description: $deleteFromPrimitiveList on nonexistent primitive list
  original: {foo: [bar]}
  patch: {$deleteFromPrimitiveList/mergingIntList: [3]}
  expected: {foo: [bar]}
- description: $deleteFromPrimitiveList should delete item from a list without merge patch strategy
  original: {nonMergingIntList: [1, 2, 3]}
  patch: {$deleteFromPrimitiveList/nonMergingIntList: [2]}
  expected: {nonMergingIntList: [1, 3]}
- description: defined null values should propagate removing original fields (twoWayResult)
  original: {name: original-name, value: original-value}
  patch: {name: modified-name, value: null}
  expected: {name: modified-name}
- description: delete field from nested map (threeWay)
  original: {simpleMap: {key1: 1, key2: 1, other: a}}
  patch: {simpleMap: {key2: null}}
  expected: {simpleMap: {key1: 1, other: a}}
- description: nested patch merge with empty list (twoWayResult)
  original: {name: hi}
  patch: {mergingList: [{name: hello}, {$patch: delete, name: doesntexist}]}
  expected: {name: hi, mergingList: [{name: hello}]}
- description: nested patch merge with empty list (threeWay)
  original: {name: hi, mergingList: [{name: hello2}]}
  patch:
    $setElementOrder/mergingList:
    - {name: hello}
    - {name: doesntexist}
    mergingList:
    - {name: hello}
    - {$patch: delete, name: doesntexist}
  expected: {name: hi, mergingList: [{name: hello}, {name: hello2}]}
- description: delete items in lists of scalars (threeWay)
  original: {mergingIntList: [1, 2, 3, 4]}
  patch: {$setElementOrder/mergingIntList: [1, 2], $deleteFromPrimitiveList/mergingIntList: [3]}
  expected: {mergingIntList: [1, 2, 4]}
- description: add and delete items in lists of scalars
  original: {mergingIntList: [1, 2, 3]}
  patch:
    $setElementOrder/mergingIntList: [1, 2, 4]
    $deleteFromPrimitiveList/mergingIntList: [3]
    mergingIntList: [4]
  expected: {mergingIntList: [1, 2, 4]}
- description: merge lists of maps (threeWay)
  original: {mergingList: [{name: 1, other: a}, {name: 2, value: 2, other: b}]}
  patch:
    $setElementOrder/mergingList:
    - {name: 4}
    - {name: 1}
    - {name: 2}
    - {name: 3}
    mergingList:
    - {name: 4, value: 4}
    - {name: 3, value: 3}
  expected:
    mergingList:
    - {name: 4, value: 4}
    - {name: 1, other: a}
    - {name: 2, value: 2, other: b}
    - {name: 3, value: 3}
- description: retainKeys list of maps adds a field and clear a field (threeWay)
  original: {retainKeysMergingList: [{name: bar}, {name: foo, other: x}]}
  patch:
    $setElementOrder/retainKeysMergingList:
    - {name: bar}
    - {name: foo}
    retainKeysMergingList:
    - $retainKeys: [name, value]
      name: foo
      value: a
  expected: {retainKeysMergingList: [{name: bar}, {name: foo, value: a}]}
- description: retainKeys list of maps deletes a field and clear a field (threeWay)
  original: {retainKeysMergingList: [{name: bar}, {name: foo, value: a, other: x}]}
  patch:
    $setElementOrder/retainKeysMergingList:
    - {name: bar}
    - {name: foo}
    retainKeysMergingList:
    - $retainKeys: [name]
      name: foo
      value: null
  expected: {retainKeysMergingList: [{name: bar}, {name: foo}]}
- description: delete and reorder in one list, reorder in another
  original:
    mergingList:
    - {name: a, value: a}
    - {name: b, value: b}
    mergeItemPtr:
    - {name: c, value: c}
    - {name: d, value: d}
  patch:
    $setElementOrder/mergingList:
    - {name: b}
    $setElementOrder/mergeItemPtr:
    - {name: d}
    - {name: c}
    mergingList:
    - {$patch: delete, name: a}
  expected:
    mergingList:
    - {name: b, value: b}
    mergeItemPtr:
    - {name: d, value: d}
    - {name: c, value: c}
""")


@pytest.mark.parametrize("case", APIMACHINERY_CASES, ids=lambda case: case["description"])
def test_apimachinery_cases(case: dict[str, Any]) -> None:
    result = apply_strategic_merge(case["original"], case["patch"], MERGE_ITEM)
    assert result == case["expected"]


APIMACHINERY_ERRORS = yaml.safe_load("""
- description: should check if order in $setElementOrder and patch list match
  original: {mergingList: [{name: 1}, {name: 3}, {name: 2}]}
  patch:
    $setElementOrder/mergingList:
    - {name: 1}
    - {name: 2}
    - {name: 3}
    mergingList:
    - {name: 3, value: 3}
    - {name: 1, value: 1}
  error: doesn't match
- description: should check if order in $setElementOrder and patch list match (int list)
  original: {mergingIntList: [1, 3, 2]}
  patch: {$setElementOrder/mergingIntList: [1, 2, 3], mergingIntList: [3, 1]}
  error: doesn't match
- description: missing merge key should error out
  original: {mergingList: [{name: 1, value: a}]}
  patch: {mergingList: [{value: b}]}
  error: does not contain declared merge key
""")


@pytest.mark.parametrize("case", APIMACHINERY_ERRORS, ids=lambda case: case["description"])
def test_apimachinery_error_cases(case: dict[str, Any]) -> None:
    with pytest.raises(PatchError, match=case["error"]):
        apply_strategic_merge(case["original"], case["patch"], MERGE_ITEM)


scalars = st.none() | st.booleans() | st.integers(-3, 3) | st.sampled_from(["", "a", "nginx"])
keys = st.sampled_from(["spec", "metadata", "labels", "replicas", "name", "image", "x"])
objects = st.dictionaries(
    keys,
    st.recursive(
        scalars,
        lambda children: (
            st.lists(children, max_size=3) | st.dictionaries(keys, children, max_size=3)
        ),
        max_leaves=10,
    ),
    max_size=5,
)


@given(objects)
def test_an_empty_patch_is_the_identity(document: dict[str, Any]) -> None:
    assert apply_strategic_merge(document, {}, DEPLOYMENT_SCHEMA) == document


@given(objects, keys)
def test_a_null_removes_the_key(document: dict[str, Any], key: str) -> None:
    expected = {k: v for k, v in document.items() if k != key}
    assert apply_strategic_merge(document, {key: None}, DEPLOYMENT_SCHEMA) == expected


def _plain_patch(value: Any) -> Any:
    """Patches without lists of objects, where strategic merge and RFC 7386 agree."""
    if isinstance(value, list):
        return [item for item in value if not isinstance(item, (dict, list))]
    if isinstance(value, dict):
        return {k: _plain_patch(v) for k, v in value.items()}
    return value


@given(objects, objects.map(_plain_patch))
def test_without_merge_lists_it_is_a_json_merge_patch(
    document: dict[str, Any], patch: dict[str, Any]
) -> None:
    assert json_equal(
        apply_strategic_merge(document, patch, {}), apply_merge_patch(document, patch)
    )
