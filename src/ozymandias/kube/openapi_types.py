"""The Kubernetes types we serve, as the OpenAPI v2 document describes them.

A compact table that kube/openapi_v2.py turns into definitions. Each property is
a short type string:

- `string`, `boolean`, `number`, `int32`, `int64`: primitives;
- a capitalised name (`Container`): a reference to another entry of the table;
- `[T]`: an array of T; `{T}`: a map of string to T;
- then optionally a patch strategy and merge key, as Kubernetes declares them on
  its Go types (`merge:name`, `merge,retainKeys:name`, `retainKeys`): kubectl
  reads them from this document to compute the strategic merge patch of apply.

Fields the server refuses (hostNetwork, securityContext, hostPath volumes,
initContainers, serviceAccountName, tolerations, pod affinity...) are listed all
the same: kubectl's client-side validation then lets them through, and the
server answers Invalid naming the field, rather than kubectl calling a real
Kubernetes field unknown.
"""

from __future__ import annotations

from typing import NamedTuple

GROUPS = {
    "apps": "io.k8s.api.apps.v1",
    "core": "io.k8s.api.core.v1",
    "autoscaling": "io.k8s.api.autoscaling.v1",
    "meta": "io.k8s.apimachinery.pkg.apis.meta.v1",
    "intstr": "io.k8s.apimachinery.pkg.util.intstr",
    "resource": "io.k8s.apimachinery.pkg.api.resource",
    "runtime": "io.k8s.apimachinery.pkg.runtime",
}


class Gvk(NamedTuple):
    group: str
    version: str
    kind: str


class Def(NamedTuple):
    """One definition: its group (a GROUPS key), properties, and the rest."""

    group: str
    properties: dict[str, str]
    required: tuple[str, ...] = ()
    gvk: Gvk | None = None
    description: str = ""


class Scalar(NamedTuple):
    """A definition that is a single string (Time, Quantity, IntOrString)."""

    group: str
    format: str
    description: str


def _object(group: str, kind: str, spec: str | None, status: str | None, doc: str) -> Def:
    version = "v1"
    api_group = "" if group == "core" else group
    props = {"apiVersion": "string", "kind": "string", "metadata": "ObjectMeta"}
    if spec:
        props["spec"] = spec
    if status:
        props["status"] = status
    return Def(group, props, gvk=Gvk(api_group, version, kind), description=doc)


def _list(group: str, kind: str, item: str) -> Def:
    api_group = "" if group == "core" else group
    props = {"apiVersion": "string", "items": f"[{item}]", "kind": "string", "metadata": "ListMeta"}
    return Def(group, props, ("items",), Gvk(api_group, "v1", f"{kind}List"), f"A list of {kind}s.")


_SELECTOR_REQUIREMENT = {"key": "string", "operator": "string", "values": "[string]"}
_PROBE_ACTIONS = {"exec": "ExecAction", "httpGet": "HTTPGetAction", "tcpSocket": "TCPSocketAction"}
_PROBE = {
    **_PROBE_ACTIONS,
    "initialDelaySeconds": "int32",
    "timeoutSeconds": "int32",
    "periodSeconds": "int32",
    "successThreshold": "int32",
    "failureThreshold": "int32",
    "terminationGracePeriodSeconds": "int64",
}
_CONDITION = {"type": "string", "status": "string", "reason": "string", "message": "string"}

APPS: dict[str, Def] = {
    "Deployment": _object(
        "apps", "Deployment", "DeploymentSpec", "DeploymentStatus",
        "Deployment enables declarative updates for Pods (in Ozymandias: a job).",
    ),
    "DeploymentList": _list("apps", "Deployment", "Deployment"),
    "DeploymentSpec": Def("apps", {
        "replicas": "int32", "selector": "LabelSelector", "template": "PodTemplateSpec",
        "strategy": "DeploymentStrategy retainKeys", "minReadySeconds": "int32",
        "revisionHistoryLimit": "int32", "paused": "boolean", "progressDeadlineSeconds": "int32",
    }, ("selector", "template")),
    "DeploymentStrategy": Def(
        "apps", {"type": "string", "rollingUpdate": "RollingUpdateDeployment"}
    ),
    "RollingUpdateDeployment": Def(
        "apps", {"maxUnavailable": "IntOrString", "maxSurge": "IntOrString"}
    ),
    "DeploymentStatus": Def("apps", {
        "observedGeneration": "int64", "replicas": "int32", "updatedReplicas": "int32",
        "readyReplicas": "int32", "availableReplicas": "int32", "unavailableReplicas": "int32",
        "conditions": "[DeploymentCondition] merge:type", "collisionCount": "int32",
    }),
    "DeploymentCondition": Def("apps", {
        **_CONDITION, "lastUpdateTime": "Time", "lastTransitionTime": "Time",
    }, ("type", "status")),
}

AUTOSCALING: dict[str, Def] = {
    "Scale": _object(
        "autoscaling", "Scale", "ScaleSpec", "ScaleStatus", "Scale of a Deployment's replicas."
    ),
    "ScaleSpec": Def("autoscaling", {"replicas": "int32"}),
    "ScaleStatus": Def("autoscaling", {"replicas": "int32", "selector": "string"}, ("replicas",)),
}

PODS: dict[str, Def] = {
    "Pod": _object("core", "Pod", "PodSpec", "PodStatus", "A Pod is one instance of a job."),
    "PodList": _list("core", "Pod", "Pod"),
    "PodTemplateSpec": Def("core", {"metadata": "ObjectMeta", "spec": "PodSpec"}),
    "PodSpec": Def("core", {
        "containers": "[Container] merge:name", "initContainers": "[Container] merge:name",
        "volumes": "[Volume] merge,retainKeys:name", "restartPolicy": "string",
        "terminationGracePeriodSeconds": "int64", "activeDeadlineSeconds": "int64",
        "dnsPolicy": "string", "nodeSelector": "{string}", "nodeName": "string",
        "serviceAccountName": "string", "serviceAccount": "string",
        "automountServiceAccountToken": "boolean", "hostNetwork": "boolean", "hostPID": "boolean",
        "hostIPC": "boolean", "securityContext": "PodSecurityContext",
        "imagePullSecrets": "[LocalObjectReference] merge:name", "hostname": "string",
        "subdomain": "string", "affinity": "Affinity", "schedulerName": "string",
        "tolerations": "[Toleration]", "priorityClassName": "string", "priority": "int32",
    }, ("containers",)),
    "Container": Def("core", {
        "name": "string", "image": "string", "command": "[string]", "args": "[string]",
        "workingDir": "string", "ports": "[ContainerPort] merge:containerPort",
        "envFrom": "[EnvFromSource]", "env": "[EnvVar] merge:name",
        "resources": "ResourceRequirements", "volumeMounts": "[VolumeMount] merge:mountPath",
        "livenessProbe": "Probe", "readinessProbe": "Probe", "startupProbe": "Probe",
        "terminationMessagePath": "string", "terminationMessagePolicy": "string",
        "imagePullPolicy": "string", "securityContext": "SecurityContext", "stdin": "boolean",
        "stdinOnce": "boolean", "tty": "boolean",
    }, ("name",)),
    "ContainerPort": Def("core", {
        "name": "string", "hostPort": "int32", "containerPort": "int32", "protocol": "string",
        "hostIP": "string",
    }, ("containerPort",)),
    "EnvVar": Def(
        "core", {"name": "string", "value": "string", "valueFrom": "EnvVarSource"}, ("name",)
    ),
    "EnvVarSource": Def("core", {
        "fieldRef": "ObjectFieldSelector", "configMapKeyRef": "ConfigMapKeySelector",
        "secretKeyRef": "SecretKeySelector",
    }),
    "ObjectFieldSelector": Def(
        "core", {"apiVersion": "string", "fieldPath": "string"}, ("fieldPath",)
    ),
    "ConfigMapKeySelector": Def(
        "core", {"name": "string", "key": "string", "optional": "boolean"}, ("key",)
    ),
    "SecretKeySelector": Def(
        "core", {"name": "string", "key": "string", "optional": "boolean"}, ("key",)
    ),
    "EnvFromSource": Def("core", {
        "prefix": "string", "configMapRef": "LocalObjectReference",
        "secretRef": "LocalObjectReference",
    }),
    "LocalObjectReference": Def("core", {"name": "string"}),
    "ResourceRequirements": Def("core", {"limits": "{Quantity}", "requests": "{Quantity}"}),
    "Probe": Def("core", _PROBE),
    "ExecAction": Def("core", {"command": "[string]"}),
    "HTTPGetAction": Def("core", {
        "path": "string", "port": "IntOrString", "host": "string", "scheme": "string",
        "httpHeaders": "[HTTPHeader]",
    }, ("port",)),
    "HTTPHeader": Def("core", {"name": "string", "value": "string"}, ("name", "value")),
    "TCPSocketAction": Def("core", {"port": "IntOrString", "host": "string"}, ("port",)),
    "VolumeMount": Def("core", {
        "name": "string", "readOnly": "boolean", "mountPath": "string", "subPath": "string",
    }, ("name", "mountPath")),
    "Volume": Def("core", {
        "name": "string", "emptyDir": "EmptyDirVolumeSource", "hostPath": "HostPathVolumeSource",
        "configMap": "ConfigMapVolumeSource", "secret": "SecretVolumeSource",
        "persistentVolumeClaim": "PersistentVolumeClaimVolumeSource",
    }, ("name",)),
    "EmptyDirVolumeSource": Def("core", {"medium": "string", "sizeLimit": "Quantity"}),
    "HostPathVolumeSource": Def("core", {"path": "string", "type": "string"}, ("path",)),
    "ConfigMapVolumeSource": Def("core", {
        "name": "string", "items": "[KeyToPath]", "defaultMode": "int32", "optional": "boolean",
    }),
    "SecretVolumeSource": Def("core", {
        "secretName": "string", "items": "[KeyToPath]", "defaultMode": "int32",
        "optional": "boolean",
    }),
    "KeyToPath": Def("core", {"key": "string", "path": "string", "mode": "int32"}, ("key", "path")),
    "PersistentVolumeClaimVolumeSource": Def(
        "core", {"claimName": "string", "readOnly": "boolean"}, ("claimName",)
    ),
    "SecurityContext": Def("core", {
        "privileged": "boolean", "runAsUser": "int64", "runAsGroup": "int64",
        "runAsNonRoot": "boolean", "readOnlyRootFilesystem": "boolean",
        "allowPrivilegeEscalation": "boolean", "capabilities": "Capabilities",
    }),
    "Capabilities": Def("core", {"add": "[string]", "drop": "[string]"}),
    "PodSecurityContext": Def("core", {
        "runAsUser": "int64", "runAsGroup": "int64", "runAsNonRoot": "boolean", "fsGroup": "int64",
        "supplementalGroups": "[int64]",
    }),
    "Toleration": Def("core", {
        "key": "string", "operator": "string", "value": "string", "effect": "string",
        "tolerationSeconds": "int64",
    }),
    "Affinity": Def("core", {
        "nodeAffinity": "NodeAffinity", "podAffinity": "PodAffinity",
        "podAntiAffinity": "PodAntiAffinity",
    }),
    "NodeAffinity": Def("core", {
        "requiredDuringSchedulingIgnoredDuringExecution": "NodeSelector",
        "preferredDuringSchedulingIgnoredDuringExecution": "[PreferredSchedulingTerm]",
    }),
    "NodeSelector": Def(
        "core", {"nodeSelectorTerms": "[NodeSelectorTerm]"}, ("nodeSelectorTerms",)
    ),
    "NodeSelectorTerm": Def("core", {
        "matchExpressions": "[NodeSelectorRequirement]", "matchFields": "[NodeSelectorRequirement]",
    }),
    "NodeSelectorRequirement": Def("core", _SELECTOR_REQUIREMENT, ("key", "operator")),
    "PreferredSchedulingTerm": Def(
        "core", {"weight": "int32", "preference": "NodeSelectorTerm"}, ("weight", "preference")
    ),
    "PodAffinity": Def("core", {
        "requiredDuringSchedulingIgnoredDuringExecution": "[PodAffinityTerm]",
        "preferredDuringSchedulingIgnoredDuringExecution": "[WeightedPodAffinityTerm]",
    }),
    "PodAntiAffinity": Def("core", {
        "requiredDuringSchedulingIgnoredDuringExecution": "[PodAffinityTerm]",
        "preferredDuringSchedulingIgnoredDuringExecution": "[WeightedPodAffinityTerm]",
    }),
    "PodAffinityTerm": Def("core", {
        "labelSelector": "LabelSelector", "namespaces": "[string]", "topologyKey": "string",
        "namespaceSelector": "LabelSelector",
    }, ("topologyKey",)),
    "WeightedPodAffinityTerm": Def(
        "core", {"weight": "int32", "podAffinityTerm": "PodAffinityTerm"},
        ("weight", "podAffinityTerm"),
    ),
    "PodStatus": Def("core", {
        "phase": "string", "conditions": "[PodCondition] merge:type", "message": "string",
        "reason": "string", "hostIP": "string", "podIP": "string", "podIPs": "[PodIP] merge:ip",
        "startTime": "Time", "containerStatuses": "[ContainerStatus]", "qosClass": "string",
    }),
    "PodCondition": Def("core", {
        **_CONDITION, "lastProbeTime": "Time", "lastTransitionTime": "Time",
    }, ("type", "status")),
    "PodIP": Def("core", {"ip": "string"}),
    "ContainerStatus": Def("core", {
        "name": "string", "state": "ContainerState", "lastState": "ContainerState",
        "ready": "boolean", "restartCount": "int32", "image": "string", "imageID": "string",
        "containerID": "string", "started": "boolean",
    }, ("name", "ready", "restartCount", "image", "imageID")),
    "ContainerState": Def("core", {
        "waiting": "ContainerStateWaiting", "running": "ContainerStateRunning",
        "terminated": "ContainerStateTerminated",
    }),
    "ContainerStateWaiting": Def("core", {"reason": "string", "message": "string"}),
    "ContainerStateRunning": Def("core", {"startedAt": "Time"}),
    "ContainerStateTerminated": Def("core", {
        "exitCode": "int32", "signal": "int32", "reason": "string", "message": "string",
        "startedAt": "Time", "finishedAt": "Time", "containerID": "string",
    }, ("exitCode",)),
}

NODES_EVENTS: dict[str, Def] = {
    "Namespace": _object(
        "core", "Namespace", "NamespaceSpec", "NamespaceStatus", "Only default exists."
    ),
    "NamespaceList": _list("core", "Namespace", "Namespace"),
    "NamespaceSpec": Def("core", {"finalizers": "[string]"}),
    "NamespaceStatus": Def("core", {"phase": "string"}),
    "Node": _object("core", "Node", "NodeSpec", "NodeStatus", "A node of the cluster."),
    "NodeList": _list("core", "Node", "Node"),
    "NodeSpec": Def("core", {
        "podCIDR": "string", "providerID": "string", "unschedulable": "boolean",
        "taints": "[Taint]",
    }),
    "Taint": Def("core", {
        "key": "string", "value": "string", "effect": "string", "timeAdded": "Time",
    }, ("key", "effect")),
    "NodeStatus": Def("core", {
        "capacity": "{Quantity}", "allocatable": "{Quantity}",
        "conditions": "[NodeCondition] merge:type", "addresses": "[NodeAddress] merge:type",
        "nodeInfo": "NodeSystemInfo",
    }),
    "NodeCondition": Def("core", {
        **_CONDITION, "lastHeartbeatTime": "Time", "lastTransitionTime": "Time",
    }, ("type", "status")),
    "NodeAddress": Def("core", {"type": "string", "address": "string"}, ("type", "address")),
    "NodeSystemInfo": Def("core", {
        "machineID": "string", "systemUUID": "string", "bootID": "string",
        "kernelVersion": "string", "osImage": "string", "containerRuntimeVersion": "string",
        "kubeletVersion": "string", "kubeProxyVersion": "string", "operatingSystem": "string",
        "architecture": "string",
    }),
    "Event": Def("core", {
        "apiVersion": "string", "kind": "string", "metadata": "ObjectMeta",
        "involvedObject": "ObjectReference", "reason": "string", "message": "string",
        "source": "EventSource", "firstTimestamp": "Time", "lastTimestamp": "Time",
        "count": "int32", "type": "string", "eventTime": "MicroTime", "action": "string",
        "reportingComponent": "string", "reportingInstance": "string",
    }, ("metadata", "involvedObject"), Gvk("", "v1", "Event"), "An event about a job or a node."),
    "EventList": _list("core", "Event", "Event"),
    "EventSource": Def("core", {"component": "string", "host": "string"}),
    "ObjectReference": Def("core", {
        "kind": "string", "namespace": "string", "name": "string", "uid": "string",
        "apiVersion": "string", "resourceVersion": "string", "fieldPath": "string",
    }),
}

META: dict[str, Def] = {
    "ObjectMeta": Def("meta", {
        "name": "string", "generateName": "string", "namespace": "string", "uid": "string",
        "resourceVersion": "string", "generation": "int64", "creationTimestamp": "Time",
        "deletionTimestamp": "Time", "deletionGracePeriodSeconds": "int64",
        "labels": "{string}", "annotations": "{string}",
        "ownerReferences": "[OwnerReference] merge:uid", "finalizers": "[string] merge",
        "managedFields": "[ManagedFieldsEntry]",
    }),
    "ListMeta": Def("meta", {
        "resourceVersion": "string", "continue": "string", "remainingItemCount": "int64",
    }),
    "OwnerReference": Def("meta", {
        "apiVersion": "string", "kind": "string", "name": "string", "uid": "string",
        "controller": "boolean", "blockOwnerDeletion": "boolean",
    }, ("apiVersion", "kind", "name", "uid")),
    "ManagedFieldsEntry": Def("meta", {
        "manager": "string", "operation": "string", "apiVersion": "string", "time": "Time",
        "fieldsType": "string", "subresource": "string",
    }),
    "LabelSelector": Def("meta", {
        "matchLabels": "{string}", "matchExpressions": "[LabelSelectorRequirement]",
    }),
    "LabelSelectorRequirement": Def("meta", _SELECTOR_REQUIREMENT, ("key", "operator")),
    "Status": Def("meta", {
        "apiVersion": "string", "kind": "string", "metadata": "ListMeta", "status": "string",
        "message": "string", "reason": "string", "details": "StatusDetails", "code": "int32",
    }, gvk=Gvk("", "v1", "Status"), description="Status is the result of a call that failed."),
    "StatusDetails": Def("meta", {
        "name": "string", "group": "string", "kind": "string", "uid": "string",
        "causes": "[StatusCause]", "retryAfterSeconds": "int32",
    }),
    "StatusCause": Def("meta", {"reason": "string", "message": "string", "field": "string"}),
    "DeleteOptions": Def("meta", {
        "apiVersion": "string", "kind": "string", "dryRun": "[string]",
        "gracePeriodSeconds": "int64", "orphanDependents": "boolean",
        "propagationPolicy": "string", "preconditions": "Preconditions",
    }, gvk=Gvk("", "v1", "DeleteOptions")),
    "Preconditions": Def("meta", {"uid": "string", "resourceVersion": "string"}),
    "WatchEvent": Def("meta", {"type": "string", "object": "RawExtension"}, ("type", "object")),
}

SCALARS: dict[str, Scalar] = {
    "Time": Scalar("meta", "date-time", "A time in RFC 3339 form."),
    "MicroTime": Scalar("meta", "date-time", "A time in RFC 3339 form, with microseconds."),
    "Quantity": Scalar("resource", "", "A quantity such as 128Mi or 500m."),
    "IntOrString": Scalar("intstr", "int-or-string", "An integer or a string."),
}

# Free-form values: definitions with no type at all, which kubectl reads as "any".
FREE_FORM: dict[str, tuple[str, str]] = {
    "RawExtension": ("runtime", "An embedded object."),
    "Patch": ("meta", "A patch: JSON patch, merge patch or strategic merge patch."),
}

TYPES: dict[str, Def] = {**APPS, **AUTOSCALING, **PODS, **NODES_EVENTS, **META}
