"""`volumes` and `tmpfs`: named volumes shared, anonymous ones local, host paths refused."""

from __future__ import annotations

from typing import Any

from ozymandias.compose.findings import ComposeError, Findings
from ozymandias.compose.names import dns_name

# Compose volumes have no size; these are flagged with a note wherever they are used.
DEFAULT_SHARED_SPACE = "1G"
DEFAULT_LOCAL_SPACE = "256M"


def convert_volumes(
    service: str, config: dict[str, Any], top_volumes: dict[str, Any], findings: Findings
) -> list[dict[str, Any]]:
    volumes: list[dict[str, Any]] = []
    for index, entry in enumerate(config.get("volumes", [])):
        where = f"service {service}, key volumes[{index}]"
        kind, source, target = _mount(entry, where)
        if kind == "bind":
            raise ComposeError(
                f"{where}: '{source}' is a bind mount of a host path; a cluster has no shared"
                " host, so use a named volume (shared by the job's instances) instead"
            )
        if kind == "tmpfs":
            continue  # carried by convert_tmpfs
        if kind != "volume":
            raise ComposeError(f"{where}: a volume of type {kind} is not supported")
        if source is None:
            volumes.append({"type": "local", "path": target, "space": DEFAULT_LOCAL_SPACE})
            findings.note(
                f"{where}: anonymous volume {target} becomes a local volume of"
                f" {DEFAULT_LOCAL_SPACE} (the default size)"
            )
            continue
        if source not in top_volumes:
            raise ComposeError(f"{where}: volume '{source}' is not in the top-level volumes")
        volumes.append(_named(source, target, top_volumes[source] or {}, where, findings))
    return volumes


def _named(
    source: str, target: str, top: dict[str, Any], where: str, findings: Findings
) -> dict[str, Any]:
    options = top.get("driver_opts") or {}
    space = options.get("size")
    if space is None:
        space = DEFAULT_SHARED_SPACE
        findings.note(
            f"{where}: named volume '{source}' has no driver_opts.size: a shared volume of"
            f" {DEFAULT_SHARED_SPACE} (the default size)"
        )
    if top.get("external"):
        findings.unsupported_key(f"volume {source}", "external", "not supported: a new volume")
    for key in ("driver", "labels"):
        if key in top:
            findings.unsupported_key(f"volume {source}", key)
    return {
        "type": "shared",
        "path": target,
        "space": str(space),
        "name": dns_name(str(top.get("name") or source), "volume"),
    }


def _mount(entry: Any, where: str) -> tuple[str, str | None, str]:
    """(type, source or None, target) of a short or long volume entry."""
    if isinstance(entry, dict):
        return str(entry["type"]), entry.get("source"), str(entry["target"])
    parts = str(entry).split(":")
    if len(parts) == 1:
        return "volume", None, parts[0]
    if len(parts) > 3:
        raise ComposeError(f"{where}: {entry!r} is not SOURCE:TARGET[:MODE]")
    source, target = parts[0], parts[1]
    is_path = source.startswith(("/", ".", "~")) or "/" in source
    return ("bind" if is_path else "volume"), source, target


def convert_tmpfs(service: str, config: dict[str, Any]) -> list[str]:
    """Mount points of tmpfs filesystems: the `tmpfs` key and `type: tmpfs` volumes."""
    tmpfs = config.get("tmpfs", [])
    paths = [tmpfs] if isinstance(tmpfs, str) else list(tmpfs)
    for entry in config.get("volumes", []):
        if isinstance(entry, dict) and entry.get("type") == "tmpfs":
            paths.append(str(entry["target"]))
    # `tmpfs: /run:size=64m` carries mount options, which are not kept.
    return [str(path).split(":")[0] for path in paths]
