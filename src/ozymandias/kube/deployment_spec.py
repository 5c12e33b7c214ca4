"""An apps/v1 Deployment -> the ozy job spec it stands for (the dict `ozy apply` takes). Pure.

`job_spec_from_deployment(obj)` returns the spec as data and leaves its validation
to the caller, who runs it through `spec.loader.job_from_data` with the node's
limits (as for any submitted job). What no job can say is refused here, as an
`Unsupported` carrying Status causes that name each field by its full path.

The mapping (containers: see container_spec.py):

| Deployment | job |
|---|---|
| `metadata.name`, `labels`, `annotations` | `name`, `labels`, `annotations` |
| `spec.replicas` (1 without) | `numInstances` |
| `spec.selector.matchLabels` (must select the template's labels) | kept, see below |
| `spec.strategy.rollingUpdate` `maxSurge`, `maxUnavailable` | `update.max_parallel` |
| `spec.minReadySeconds` (0) | `update.min_healthy_time` |
| `spec.progressDeadlineSeconds` (600) | `update.progress_deadline` |
| `template.spec.nodeSelector` | `nodeSelector` |
| `template.spec.affinity.nodeAffinity.required...`: one term's `matchExpressions` | `affinity` |
| `template.spec.terminationGracePeriodSeconds` | each container's `stop_grace_period` |

What the job spec cannot hold but the Deployment must give back as it was sent
(the template's labels and the selector, probe kinds, port names, the strategy
as written) is kept whole: the Deployment's `spec`, as received, goes in the
annotation `KUBE_SPEC_ANNOTATION`, which deployment_render.py shows again while
it still describes the job. Fields of ozy's own with no Kubernetes equivalent
(ingress, secrets, ...) travel in the annotation `EXTRAS_ANNOTATION` (JSON), so
a job made with `ozy apply` keeps them through a kubectl round trip.
"""

from __future__ import annotations

import json
import math
from typing import Any

from ozymandias.kube.container_spec import container_from_kube
from ozymandias.kube.job_extras import EXTRAS_ANNOTATION, merge_extras
from ozymandias.kube.quantities import bytes_of
from ozymandias.kube.reading import Reader
from ozymandias.kube.status import Cause, KubeError, invalid

KUBE_SPEC_ANNOTATION = "ozymandias.io/deployment-spec"
REVISION_ANNOTATION = "deployment.kubernetes.io/revision"
# Annotations the server writes: what a client sends in them is not kept.
SERVER_ANNOTATIONS = frozenset({KUBE_SPEC_ANNOTATION, REVISION_ANNOTATION})

DEFAULT_MAX_SURGE = "25%"
DEFAULT_MAX_UNAVAILABLE = "25%"
DEFAULT_PROGRESS_DEADLINE = 600
DEFAULT_REVISION_HISTORY = 10
OPERATORS = ("In", "NotIn", "Exists", "DoesNotExist")


class Unsupported(KubeError):
    """A Deployment with fields no job can hold: an Invalid Status listing every one."""

    def __init__(self, name: str, causes: list[Cause]) -> None:
        super().__init__(invalid("Deployment", name, causes).status)
        self.causes = causes


def job_spec_from_deployment(obj: dict[str, Any]) -> dict[str, Any]:
    """The job spec dict `obj` (an apps/v1 Deployment) stands for; `Unsupported` if it
    holds anything no job can say. Not validated as a JobSpec: the caller does that."""
    causes: list[Cause] = []
    top = Reader(obj, "", causes)
    top.default_only("apiVersion", "apps/v1")
    top.default_only("kind", "Deployment")
    top.ignore("status")
    meta = top.reader("metadata")
    name = meta.string("name") or ""
    if not name:
        meta.required("name", "name or generateName is required")
    meta.default_only("namespace", "default")
    meta.ignore(
        "uid", "resourceVersion", "generation", "creationTimestamp", "managedFields", "selfLink"
    )
    labels = meta.string_map("labels")
    annotations = {
        key: value
        for key, value in meta.string_map("annotations").items()
        if key not in SERVER_ANNOTATIONS
    }
    meta.done()
    spec = top.reader("spec")
    job: dict[str, Any] = {"name": name}
    if labels:
        job["labels"] = labels
    given = obj.get("spec") if isinstance(obj, dict) else None
    raw_spec: dict[str, Any] = given if isinstance(given, dict) else {}
    job.update(_deployment_spec(spec))
    top.done()
    extras = annotations.pop(EXTRAS_ANNOTATION, None)
    # Kept with the count it was read with, which a strategy's percentages are of.
    kept = with_replicas(raw_spec, job.get("numInstances", 1))
    annotations[KUBE_SPEC_ANNOTATION] = json.dumps(kept, separators=(",", ":"))
    job["annotations"] = annotations
    if extras is not None:
        merge_extras(job, extras, causes)
    if causes:
        raise Unsupported(name, causes)
    return job


def with_replicas(spec: dict[str, Any], replicas: int) -> dict[str, Any]:
    """`spec` with its count set, first: one order, so one spec is always one text."""
    return {"replicas": replicas, **{k: v for k, v in spec.items() if k != "replicas"}}


def _deployment_spec(r: Reader) -> dict[str, Any]:
    job: dict[str, Any] = {}
    replicas = r.integer("replicas")
    job["numInstances"] = 1 if replicas is None else replicas
    if replicas is not None and replicas < 0:
        r.invalid("replicas", replicas, "must be greater than or equal to 0")
    template = r.reader("template")
    template_meta = template.reader("metadata")
    template_labels = template_meta.string_map("labels")
    template_meta.string_map("annotations")
    template_meta.ignore("creationTimestamp", "name", "namespace")
    template_meta.done()
    _check_selector(r.reader("selector"), template_labels, template_meta.at("labels"))
    update = _strategy(r.reader("strategy"), job["numInstances"])
    ready = r.number("minReadySeconds")
    update["min_healthy_time"] = 0 if ready is None else ready
    deadline = r.number("progressDeadlineSeconds")
    update["progress_deadline"] = DEFAULT_PROGRESS_DEADLINE if deadline is None else deadline
    # ozy keeps a job's last 10 versions (`ozy history`), as Kubernetes' default keeps 10.
    r.default_only("revisionHistoryLimit", DEFAULT_REVISION_HISTORY)
    r.default_only("paused", False)
    r.done()
    job["update"] = update
    job.update(_pod_spec(template.reader("spec")))
    template.done()
    return job


def _check_selector(r: Reader, template_labels: dict[str, str], labels_path: str) -> None:
    match = r.string_map("matchLabels")
    if not r.has("matchLabels"):
        r.required("", "a Deployment needs spec.selector.matchLabels")
    r.done()
    if not match:
        return
    if any(template_labels.get(key) != value for key, value in match.items()):
        r.causes.append(
            {
                "reason": "FieldValueInvalid",
                "message": f"Invalid value: {json.dumps(template_labels, sort_keys=True)}:"
                " `selector` does not match template `labels`",
                "field": labels_path,
            }
        )


def _strategy(r: Reader, replicas: int) -> dict[str, Any]:
    r.default_only("type", "RollingUpdate")
    rolling = r.reader("rollingUpdate")
    surge_given = rolling.take("maxSurge")
    unavailable_given = rolling.take("maxUnavailable")
    surge = _scaled(rolling, "maxSurge", surge_given, DEFAULT_MAX_SURGE, replicas, math.ceil)
    unavailable = _scaled(
        rolling, "maxUnavailable", unavailable_given, DEFAULT_MAX_UNAVAILABLE, replicas, math.floor
    )
    rolling.done()
    r.done()
    if surge_given in (0, "0%") and unavailable_given in (0, "0%"):
        rolling.invalid("maxUnavailable", 0, "may not be 0 when `maxSurge` is 0")
    # ozy replaces up to max_parallel instances at once, each beside its old one where
    # there is room: Kubernetes' surge and unavailability, whichever allows more.
    return {"max_parallel": max(surge, unavailable, 1)}


def _scaled(r: Reader, key: str, value: Any, default: str, replicas: int, rounding: Any) -> int:
    value = default if value is None else value
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    if isinstance(value, str) and value.endswith("%") and value[:-1].isdigit():
        return int(rounding(int(value[:-1]) * replicas / 100))
    r.invalid(key, value, "must be a non-negative integer or a percentage like 25%")
    return 0


def _pod_spec(r: Reader) -> dict[str, Any]:
    job: dict[str, Any] = {}
    r.default_only("restartPolicy", "Always")
    r.default_only("dnsPolicy", "ClusterFirst")
    r.default_only("schedulerName", "default-scheduler")
    r.default_only("serviceAccountName", "default")
    r.default_only("serviceAccount", "default")
    r.default_only("securityContext", {})
    grace = r.number("terminationGracePeriodSeconds")
    if node_selector := r.string_map("nodeSelector"):
        job["nodeSelector"] = node_selector
    if affinity := _affinity(r.reader("affinity")):
        job["affinity"] = affinity
    volumes = _volumes(r)
    containers: dict[str, Any] = {}
    items = r.items("containers")
    if not items:
        r.required("containers", "a pod needs at least one container")
    for item in items:
        name, container = container_from_kube(item, volumes, grace)
        if name in containers:
            item.invalid("name", name, "a container of this name is listed already")
        containers[name] = container
    r.done()
    job["containers"] = containers
    return job


def _volumes(r: Reader) -> dict[str, int | None]:
    volumes: dict[str, int | None] = {}
    for item in r.items("volumes"):
        name = item.string("name") or ""
        empty_dir = item.reader("emptyDir")
        item.done()
        if not item.has("emptyDir"):
            continue  # its other source was refused by name just above
        size_limit = empty_dir.take("sizeLimit")
        empty_dir.default_only("medium", "")
        empty_dir.done()
        volumes[name] = None
        if size_limit is None:
            empty_dir.required(
                "sizeLimit", "Ozymandias gives each local volume a fixed size: set sizeLimit"
            )
            continue
        try:
            volumes[name] = bytes_of(size_limit)
        except ValueError as error:
            empty_dir.invalid("sizeLimit", size_limit, str(error))
    return volumes


def _affinity(r: Reader) -> list[dict[str, Any]]:
    node = r.reader("nodeAffinity")
    r.done()
    required = node.reader("requiredDuringSchedulingIgnoredDuringExecution")
    node.done()
    terms = required.items("nodeSelectorTerms")
    required.done()
    if len(terms) > 1:
        required.unsupported(
            "nodeSelectorTerms", len(terms), ["1 term (Ozymandias has no OR of terms)"]
        )
    expressions: list[dict[str, Any]] = []
    for term in terms[:1]:
        for expression in term.items("matchExpressions"):
            key, operator = expression.string("key"), expression.string("operator")
            values = expression.strings("values") or []
            expression.done()
            if operator not in OPERATORS:
                expression.unsupported("operator", operator, list(OPERATORS))
                continue
            expressions.append({"key": key, "operator": operator, "values": values})
        term.done()
    return expressions
