"""`deploy`, `restart`, `scale`, `mem_limit` and `cpus`: instances, limits, placement, updates."""

from __future__ import annotations

import re
from typing import Any

from ozymandias.compose.durations import seconds
from ozymandias.compose.findings import ComposeError, Findings

_CONSTRAINT = re.compile(r"\s*(node\.labels\.([\w.-]+)|node\.hostname)\s*(==|!=)\s*(\S+)\s*")


def restart(service: str, config: dict[str, Any]) -> dict[str, Any]:
    """The container's `restart`, and its `max_retries` from compose's `on-failure:N`."""
    # Compose's default is "no": a container that exits stays down.
    value = str(config.get("restart", "no"))
    if match := re.fullmatch(r"on-failure(?::(\d{1,9}))?", value):
        retries = match.group(1)
        return {"restart": "on-failure", **({"max_retries": int(retries)} if retries else {})}
    if value in ("no", "always", "unless-stopped"):
        return {"restart": "never" if value == "no" else value}
    raise ComposeError(
        f"service {service}, key restart: '{value}' is not no, always,"
        " on-failure[:N] or unless-stopped"
    )


def instances(config: dict[str, Any]) -> int:
    deploy = config.get("deploy") or {}
    if deploy.get("replicas") is not None:
        return int(deploy["replicas"])
    return int(config.get("scale", 1))


def limits(config: dict[str, Any]) -> dict[str, Any]:
    """`memory` and `cpus` of the container: deploy's limits win over mem_limit and cpus."""
    found: dict[str, Any] = {}
    if config.get("mem_limit") is not None:
        found["memory"] = _memory(config["mem_limit"])
    if config.get("cpus") is not None:
        found["cpus"] = float(config["cpus"])
    resource = ((config.get("deploy") or {}).get("resources") or {}).get("limits") or {}
    if resource.get("memory") is not None:
        found["memory"] = _memory(resource["memory"])
    if resource.get("cpus") is not None:
        found["cpus"] = float(resource["cpus"])
    return found


def _memory(value: Any) -> Any:
    # Compose writes "512m" or "1gb"; the job spec's sizes are 512M and 1G.
    if isinstance(value, str):
        return re.sub(r"([kmgtKMGT])[bB]?$", lambda m: m.group(1).upper(), value.strip())
    return value


def placement(service: str, config: dict[str, Any]) -> dict[str, Any]:
    """nodeSelector, affinity and schedulingConstraints from deploy.placement.constraints."""
    constraints = (((config.get("deploy") or {}).get("placement")) or {}).get("constraints", [])
    selector: dict[str, str] = {}
    affinity: list[dict[str, Any]] = []
    may: list[str] = []
    cannot: list[str] = []
    for index, text in enumerate(constraints):
        match = _CONSTRAINT.fullmatch(str(text))
        if not match:
            raise ComposeError(
                f"service {service}, key deploy.placement.constraints[{index}]: '{text}' is not"
                " node.labels.KEY == VALUE, node.labels.KEY != VALUE or node.hostname == NAME"
            )
        _, label, operator, value = match.groups()
        if label is None:
            (may if operator == "==" else cannot).append(value)
        elif operator == "==":
            selector[label] = value
        else:
            affinity.append({"key": label, "operator": "NotIn", "values": [value]})
    result: dict[str, Any] = {}
    if selector:
        result["nodeSelector"] = selector
    if affinity:
        result["affinity"] = affinity
    if may or cannot:
        scheduling: dict[str, Any] = {"cannotBeScheduledOn": cannot}
        if may:
            scheduling["mayBeScheduledOn"] = may
        result["schedulingConstraints"] = scheduling
    return result


def update_block(service: str, config: dict[str, Any], findings: Findings) -> dict[str, Any]:
    """The job's `update` block from deploy.update_config."""
    update = (config.get("deploy") or {}).get("update_config") or {}
    where = f"service {service}, key deploy.update_config"
    block: dict[str, Any] = {}
    if "parallelism" in update:
        # Compose's 0 means all at once.
        block["max_parallel"] = int(update["parallelism"]) or max(instances(config), 1)
    if "monitor" in update:
        block["min_healthy_time"] = seconds(update["monitor"], f"{where}.monitor")
    if "failure_action" in update:
        action = update["failure_action"]
        if action not in ("rollback", "pause", "continue"):
            raise ComposeError(f"{where}.failure_action: '{action}' is not rollback or pause")
        block["auto_revert"] = action == "rollback"
    for key in ("delay", "max_failure_ratio", "order"):
        if key in update:
            findings.unsupported_key(f"service {service}", f"deploy.update_config.{key}")
    return block
