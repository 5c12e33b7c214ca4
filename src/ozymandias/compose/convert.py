"""A validated compose document and a project name → job specs, and warnings: pure.

Each service becomes one job, `<project>-<service>`, of one container named
after the service, labelled `project=<project>`. The job's pods search the
DNS domain `<project>.<cluster domain>`, where `ozy compose up` names each
service's job by the service's name, so `http://api:8080/` works unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from graphlib import CycleError, TopologicalSorter
from typing import Any

from ozymandias.compose import deploy, process
from ozymandias.compose.durations import seconds
from ozymandias.compose.findings import ComposeError, Findings
from ozymandias.compose.healthcheck import convert_healthcheck
from ozymandias.compose.names import dns_name, job_name
from ozymandias.compose.ports import DEFAULT_TCP_INGRESS_RANGE, convert_ports
from ozymandias.compose.volumes import convert_tmpfs, convert_volumes
from ozymandias.labels.syntax import labels_problem

# Keys each service may have that this converter carries into the job.
SUPPORTED_KEYS = frozenset(
    {
        "image",
        "command",
        "entrypoint",
        "environment",
        "env_file",
        "ports",
        "expose",
        "restart",
        "depends_on",
        "healthcheck",
        "deploy",
        "mem_limit",
        "cpus",
        "scale",
        "volumes",
        "secrets",
        "labels",
        "working_dir",
        "stop_signal",
        "stop_grace_period",
        "user",
        "pull_policy",
        "init",
        "tmpfs",
    }
)
# Keys that are harmless to drop on a cluster, with why: one warning each, never an error.
IGNORED_KEYS = {
    "container_name": "ignored: instances are named <job>-<index>",
    "networks": "ignored: every service is on the cluster network and finds the others by name",
    "hostname": "ignored: a pod's hostname is its instance's name",
}
TOP_LEVEL_IGNORED = {
    "version": "obsolete, ignored (as compose does)",
    "networks": "ignored: every service is on the cluster network",
}
DEPENDS_CONDITIONS = ("service_started", "service_healthy", "service_completed_successfully")
PROJECT_LABEL = "project"


@dataclass
class Conversion:
    """The jobs to submit (in the job spec's YAML shape), in dependency order, and more."""

    project: str
    jobs: list[dict[str, Any]] = field(default_factory=list)
    services: dict[str, str] = field(default_factory=dict)
    """Each service's DNS name (its compose name as a label) → its job's name."""
    secret_files: dict[str, str] = field(default_factory=dict)
    """Each secret to create (`ozy secret set NAME value=...`) → the file to read it from."""
    warnings: list[str] = field(default_factory=list)


def convert(
    document: Mapping[str, Any],
    project: str,
    *,
    env: Mapping[str, str] | None = None,
    env_files: Mapping[str, str | None] | None = None,
    strict: bool = False,
    tcp_range: tuple[int, int] = DEFAULT_TCP_INGRESS_RANGE,
) -> Conversion:
    """Jobs from a compose document already interpolated and checked against the schema.

    Raises ComposeError with every problem, one per line, if any key cannot be
    converted (or, with `strict`, is not supported).
    """
    findings = Findings(strict=strict)
    conversion = Conversion(project=project)
    for key, why in TOP_LEVEL_IGNORED.items():
        if key in document:
            findings.note(f"top level: key '{key}' is {why}")
    for key in ("configs", "include", "models"):
        if key in document:
            findings.unsupported_key("top level", key)
    services: dict[str, Any] = dict(document.get("services") or {})
    secrets = _secrets(project, document.get("secrets") or {}, conversion, findings)
    for service in services:
        conversion.services[dns_name(service, "service")] = job_name(project, service)
    for service, config in services.items():
        try:
            job = _job(
                project,
                service,
                config or {},
                document,
                secrets,
                services,
                findings,
                env or {},
                env_files or {},
                tcp_range,
            )
        except ComposeError as error:
            findings.error(str(error))
            continue
        except KeyError as error:
            findings.error(f"service {service}: key {error} is missing")
            continue
        except (TypeError, ValueError) as error:
            findings.error(f"service {service}: {error}")
            continue
        conversion.jobs.append(job)
    if findings.errors:
        raise ComposeError("\n".join(findings.errors))
    conversion.jobs = _in_dependency_order(conversion.jobs)
    conversion.warnings = findings.warnings
    return conversion


def _in_dependency_order(jobs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Jobs after those they depend on, so `compose up` submits a database before its users."""
    by_name = {job["name"]: job for job in jobs}
    graph = {job["name"]: [dep["job"] for dep in job.get("dependsOn", [])] for job in jobs}
    try:
        order = list(TopologicalSorter(graph).static_order())
    except CycleError as error:
        raise ComposeError(f"depends_on has a cycle: {' -> '.join(error.args[1])}") from None
    return [by_name[name] for name in order]


def _secrets(
    project: str, top: Mapping[str, Any], conversion: Conversion, findings: Findings
) -> dict[str, str]:
    """Each top-level secret's name → the cluster secret it becomes, `<project>-<name>`."""
    names: dict[str, str] = {}
    for name, config in top.items():
        config = config or {}
        secret = dns_name(f"{project}-{name}", f"secret {name}")
        names[name] = secret
        if "file" in config:
            conversion.secret_files[secret] = str(config["file"])
        elif config.get("external"):
            findings.note(f"secret {name}: external, so the cluster secret {secret} must exist")
        else:
            findings.unsupported_key(
                f"secret {name}",
                next(iter(config), "file"),
                "not supported: only file: secrets are created",
            )
    return names


def _job(
    project: str,
    service: str,
    config: dict[str, Any],
    document: Mapping[str, Any],
    secrets: Mapping[str, str],
    services: Mapping[str, Any],
    findings: Findings,
    env: Mapping[str, str],
    env_files: Mapping[str, str | None],
    tcp_range: tuple[int, int],
) -> dict[str, Any]:
    where = f"service {service}"
    _unsupported_keys(service, config, findings)
    if "image" not in config:
        raise ComposeError(f"{where}: key 'image' is missing (a `build:` is not run here)")
    ports = convert_ports(service, config, findings, tcp_range)
    container: dict[str, Any] = {
        "image": str(config["image"]),
        **deploy.restart(service, config),
        "environment": process.environment(service, config, env, env_files),
        "ports": ports.declared,
        **deploy.limits(config),
    }
    optional = {
        "command": process.argv(service, "command", config.get("command")),
        "entrypoint": process.argv(service, "entrypoint", config.get("entrypoint")),
        "healthcheck": convert_healthcheck(service, config.get("healthcheck")),
        "volumes": convert_volumes(service, config, document.get("volumes") or {}, findings),
        "secrets": _secret_refs(service, config, secrets),
        "working_dir": config.get("working_dir"),
        "stop_signal": config.get("stop_signal"),
        "stop_grace_period": _grace(service, config.get("stop_grace_period")),
        # Compose's `user: root` is refused by the job spec, where it names the field.
        "user": None if config.get("user") is None else str(config["user"]),
        "init": config.get("init"),
        "tmpfs": convert_tmpfs(service, config),
        "pull": _pull(service, config.get("pull_policy"), findings),
    }
    container.update({key: value for key, value in optional.items() if value not in (None, [])})
    job: dict[str, Any] = {
        "name": job_name(project, service),
        "labels": _labels(service, config, project, findings),
        "numInstances": deploy.instances(config),
        "containers": {dns_name(service, "service"): container},
        "dnsSearch": [project],
        **deploy.placement(service, config),
    }
    if ((config.get("deploy") or {}).get("mode")) == "global":
        job["type"] = "system"
        del job["numInstances"]
    if update := deploy.update_block(service, config, findings):
        job["update"] = update
    if ports.tcp_ingress:
        job["ingress"] = {"tcp": ports.tcp_ingress}
    if dependencies := _dependencies(service, config, services, project):
        job["dependsOn"] = dependencies
    return job


def _grace(service: str, value: Any) -> float | None:
    return None if value is None else seconds(value, f"service {service}, key stop_grace_period")


# Compose's pull policies that the container's `pull:` has (`if_not_present` is the older
# name of `missing`); `build` and the periodic ones (`daily`, `every_2h`) have no match.
PULL_POLICIES = {
    "always": "always",
    "missing": "missing",
    "if_not_present": "missing",
    "never": "never",
}


def _pull(service: str, value: Any, findings: Findings) -> str | None:
    if value is None:
        return None
    if str(value) in PULL_POLICIES:
        return PULL_POLICIES[str(value)]
    findings.unsupported_key(
        f"service {service}", "pull_policy", f"{value!r}, which is not supported, ignored"
    )
    return None


def _unsupported_keys(service: str, config: dict[str, Any], findings: Findings) -> None:
    where = f"service {service}"
    for key in config:
        if key.startswith("x-") or key in SUPPORTED_KEYS:
            continue
        if key in IGNORED_KEYS:
            findings.note(f"{where}: key '{key}' is {IGNORED_KEYS[key]}")
        else:
            findings.unsupported_key(where, key)
    for key in config.get("deploy") or {}:
        if key not in ("replicas", "resources", "placement", "update_config", "mode"):
            findings.unsupported_key(where, f"deploy.{key}")
    resources = (config.get("deploy") or {}).get("resources") or {}
    for key in resources:
        if key != "limits":
            findings.unsupported_key(where, f"deploy.resources.{key}")
    for key in resources.get("limits") or {}:
        if key not in ("memory", "cpus"):
            findings.unsupported_key(where, f"deploy.resources.limits.{key}")


def _labels(
    service: str, config: dict[str, Any], project: str, findings: Findings
) -> dict[str, str]:
    given = config.get("labels", {})
    pairs = (
        given.items()
        if isinstance(given, dict)
        else (str(item).partition("=")[::2] for item in given)
    )
    labels: dict[str, str] = {}
    for key, value in pairs:
        candidate = {key: str(value)}
        if problem := labels_problem(candidate):
            findings.note(f"service {service}: label {key} is left out: {problem}")
        else:
            labels.update(candidate)
    labels[PROJECT_LABEL] = project
    return labels


def _secret_refs(
    service: str, config: dict[str, Any], secrets: Mapping[str, str]
) -> list[dict[str, Any]]:
    refs: list[dict[str, Any]] = []
    for index, entry in enumerate(config.get("secrets", [])):
        source = entry if isinstance(entry, str) else entry["source"]
        target = source if isinstance(entry, str) else entry.get("target", source)
        if source not in secrets:
            raise ComposeError(
                f"service {service}, key secrets[{index}]: '{source}' is not a top-level secret"
            )
        path = target if str(target).startswith("/") else f"/run/secrets/{target}"
        refs.append({"secret": secrets[source], "key": "value", "path": path})
    return refs


def _dependencies(
    service: str, config: dict[str, Any], services: Mapping[str, Any], project: str
) -> list[dict[str, str]]:
    given = config.get("depends_on", [])
    pairs = (
        [(name, "service_started") for name in given]
        if isinstance(given, list)
        else [
            (name, (value or {}).get("condition", "service_started"))
            for name, value in given.items()
        ]
    )
    result: list[dict[str, str]] = []
    for name, condition in pairs:
        if name not in services:
            raise ComposeError(f"service {service}, key depends_on: '{name}' is not a service")
        if condition not in DEPENDS_CONDITIONS:
            raise ComposeError(
                f"service {service}, key depends_on.{name}.condition: '{condition}' is not one"
                f" of {', '.join(DEPENDS_CONDITIONS)}"
            )
        result.append({"job": job_name(project, name), "condition": condition})
    return result
