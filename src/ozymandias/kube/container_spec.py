"""One container of a Deployment's pod template -> one container of an ozy job spec. Pure.

| Kubernetes | ozy |
|---|---|
| `image`, `workingDir` | `image`, `working_dir` |
| `command` (the entrypoint), `args` | `entrypoint`, `command` (as compose's) |
| `env[]` `name`/`value` | `environment` (`valueFrom` has no equivalent) |
| `ports[]` `containerPort`, `protocol` | `ports` (the cluster port is the container port) |
| `resources.limits` (else `requests`) `memory`, `cpu` | `memory` (256Mi without), `cpus` |
| `readinessProbe` / `livenessProbe` | `healthcheck` (ozy has one: both, if given, must agree) |
| `imagePullPolicy` Always / IfNotPresent / Never | `pull` always / missing / never |
| `volumeMounts[]` of an `emptyDir` with `sizeLimit` | a local volume of that size |
| `securityContext.runAsUser`/`runAsGroup` | `user` |

Fields that only restate what ozy does anyway (a container is never privileged,
drops every capability and cannot gain privileges) are accepted at that value;
any other field is refused by its path (see reading.py).
"""

from __future__ import annotations

from typing import Any

from ozymandias.kube.quantities import bytes_of, millicores_of
from ozymandias.kube.reading import Reader

PULL_POLICIES = {"Always": "always", "IfNotPresent": "missing", "Never": "never"}
PROTOCOLS = {"TCP": "tcp", "UDP": "udp"}
PROBES = ("readinessProbe", "livenessProbe")
# Kubernetes' probe defaults: a probe that leaves a field out means these.
PROBE_DEFAULTS = {
    "periodSeconds": 10,
    "timeoutSeconds": 1,
    "successThreshold": 1,
    "failureThreshold": 3,
    "initialDelaySeconds": 0,
}
TERMINATION_MESSAGE_PATH = "/dev/termination-log"


def container_from_kube(
    r: Reader, volumes: dict[str, int | None], stop_grace: float | None
) -> tuple[str, dict[str, Any]]:
    """The container's name and its ozy spec; `volumes` are the pod's emptyDirs (name ->
    sizeLimit in bytes, None without one)."""
    name = r.string("name") or ""
    if not name:
        r.required("name", "a container needs a name")
    spec: dict[str, Any] = {}
    image = r.string("image")
    if image is None:
        r.required("image", "a container needs an image")
    else:
        spec["image"] = image
    entrypoint, args = r.strings("command"), r.strings("args")
    if entrypoint is not None:
        spec["entrypoint"] = entrypoint
    if args is not None:
        spec["command"] = args
    if (working_dir := r.string("workingDir")) is not None:
        spec["working_dir"] = working_dir
    if (policy := r.string("imagePullPolicy")) is not None:
        if policy in PULL_POLICIES:
            spec["pull"] = PULL_POLICIES[policy]
        else:
            r.unsupported("imagePullPolicy", policy, list(PULL_POLICIES))
    if environment := _environment(r):
        spec["environment"] = environment
    port_names: dict[str, int] = {}
    if ports := _ports(r, port_names):
        spec["ports"] = ports
    spec.update(_resources(r.reader("resources")))
    if (healthcheck := _healthcheck(r, port_names)) is not None:
        spec["healthcheck"] = healthcheck
    if mounts := _mounts(r, volumes):
        spec["volumes"] = mounts
    if (user := _user(r.reader("securityContext"))) is not None:
        spec["user"] = user
    if stop_grace is not None:
        spec["stop_grace_period"] = stop_grace
    r.default_only("terminationMessagePath", TERMINATION_MESSAGE_PATH)
    r.default_only("terminationMessagePolicy", "File")
    for flag in ("stdin", "stdinOnce", "tty"):
        r.default_only(flag, False)
    r.done()
    return name, spec


def _environment(r: Reader) -> dict[str, str]:
    environment: dict[str, str] = {}
    for item in r.items("env"):
        name = item.string("name")
        value = item.string("value")
        if name is None:
            item.required("name", "an environment variable needs a name")
        elif name in environment:
            item.causes.append(
                {
                    "reason": "FieldValueDuplicate",
                    "message": f'Duplicate value: "{name}"',
                    "field": item.at("name"),
                }
            )
        else:
            environment[name] = value or ""
        item.done()
    return environment


def _ports(r: Reader, names: dict[str, int]) -> list[dict[str, Any]]:
    ports = []
    for item in r.items("ports"):
        number = item.integer("containerPort")
        protocol = item.string("protocol") or "TCP"
        if protocol not in PROTOCOLS:
            item.unsupported("protocol", protocol, list(PROTOCOLS))
        name = item.string("name")
        item.done()
        if number is None:
            item.required("containerPort", "a port needs its number")
            continue
        if name:
            names[name] = number
        ports.append(
            {
                "container_port": number,
                "cluster_port": number,
                "protocol": PROTOCOLS.get(protocol, "tcp"),
            }
        )
    return ports


def _resources(r: Reader) -> dict[str, Any]:
    spec: dict[str, Any] = {}
    limits, requests = r.reader("limits"), r.reader("requests")
    for key, field, parse in (
        ("memory", "memory", bytes_of),
        ("cpu", "cpus", lambda value: millicores_of(value) / 1000),
    ):
        # A limit is what ozy enforces; a request alone is taken as the limit.
        chosen = limits if limits.has(key) else requests
        value = chosen.take(key)
        (requests if chosen is limits else limits).take(key)
        if value is None:
            continue
        try:
            spec[field] = parse(value)
        except ValueError as error:
            chosen.invalid(key, value, str(error))
    limits.done()
    requests.done()
    r.done()
    return spec


def _healthcheck(r: Reader, port_names: dict[str, int]) -> dict[str, Any] | None:
    checks = {kind: _probe(r.reader(kind), port_names) for kind in PROBES if r.has(kind)}
    for kind in PROBES:
        r.take(kind)
    given = [check for check in checks.values() if check is not None]
    if len(given) == 2 and given[0] != given[1]:
        r.invalid(
            "livenessProbe",
            "",
            "must be the same as readinessProbe: Ozymandias has one healthcheck per container,"
            " which both takes an unhealthy instance out of traffic and restarts it",
        )
    return given[0] if given else None


def _probe(r: Reader, port_names: dict[str, int]) -> dict[str, Any] | None:
    handlers = [kind for kind in ("httpGet", "tcpSocket", "exec") if r.has(kind)]
    check: dict[str, Any] | None = None
    if len(handlers) != 1:
        r.invalid("", "", "a probe needs exactly one of httpGet, tcpSocket and exec")
    elif handlers[0] == "httpGet":
        http = r.reader("httpGet")
        check = {"type": "http", "port": _probe_port(http, port_names)}
        check["path"] = http.string("path") or "/"
        http.default_only("scheme", "HTTP")
        http.done()
    elif handlers[0] == "tcpSocket":
        tcp = r.reader("tcpSocket")
        check = {"type": "tcp", "port": _probe_port(tcp, port_names)}
        tcp.done()
    else:
        command = r.reader("exec")
        check = {"type": "exec", "command": command.strings("command")}
        command.done()
    timing = {key: r.number(key) for key in PROBE_DEFAULTS}
    r.done()
    if check is None:
        return None
    value = {key: PROBE_DEFAULTS[key] if given is None else given for key, given in timing.items()}
    return check | {
        "interval": value["periodSeconds"],
        "timeout": value["timeoutSeconds"],
        "healthy_threshold": value["successThreshold"],
        "unhealthy_threshold": value["failureThreshold"],
        "start_period": value["initialDelaySeconds"],
    }


def _probe_port(r: Reader, port_names: dict[str, int]) -> int | None:
    port = r.take("port")
    if isinstance(port, int) and not isinstance(port, bool):
        return port
    if isinstance(port, str) and port.isdigit():
        return int(port)
    if isinstance(port, str) and port in port_names:
        return port_names[port]
    r.invalid("port", port, "must be a port number, or the name of one of the container's ports")
    return None


def _mounts(r: Reader, volumes: dict[str, int | None]) -> list[dict[str, Any]]:
    mounts = []
    for item in r.items("volumeMounts"):
        name, path = item.string("name"), item.string("mountPath")
        item.default_only("readOnly", False)
        item.default_only("subPath", "")
        item.default_only("mountPropagation", "None")
        item.done()
        if name is None or path is None:
            item.required("mountPath" if name else "name", "a volume mount needs a name and a path")
            continue
        if name not in volumes:
            item.invalid("name", name, "not found: name an emptyDir volume of the pod")
            continue
        size = volumes[name]
        if size is not None:  # a volume without a size is refused where it is declared
            mounts.append({"type": "local", "path": path, "space": size, "name": name})
    return mounts


def _user(r: Reader) -> str | None:
    user, group = r.integer("runAsUser"), r.integer("runAsGroup")
    r.default_only("privileged", False)
    r.default_only("allowPrivilegeEscalation", False)
    r.default_only("runAsNonRoot", False)
    capabilities = r.reader("capabilities")
    capabilities.default_only("drop", ["ALL"])
    capabilities.done()
    r.done()
    if group is not None and user is None:
        r.required("runAsUser", "Ozymandias sets a group only with a user")
    if user is None:
        return None
    return str(user) if group is None else f"{user}:{group}"
