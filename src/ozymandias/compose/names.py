"""Compose names as job, container, volume and secret names: pure."""

from __future__ import annotations

import re

from ozymandias.compose.findings import ComposeError

_LABEL = re.compile(r"[a-z]([a-z0-9-]{0,61}[a-z0-9])?")


def dns_name(name: str, what: str) -> str:
    """`name` lowercased with `_` and `.` as `-` (compose allows them; DNS labels do not)."""
    text = re.sub(r"[_.]", "-", name.lower())
    if not _LABEL.fullmatch(text):
        raise ComposeError(
            f"{what} '{name}' can't be a DNS label even as '{text}': use letters, digits and"
            " '-', starting with a letter, at most 63 characters"
        )
    return text


def job_name(project: str, service: str) -> str:
    return dns_name(f"{project}-{service}", f"service {service}'s job name")


def project_name(text: str) -> str:
    """A project name as compose normalises one (lowercase; `[a-z0-9_-]`), then as a label."""
    lowered = re.sub(r"[^a-z0-9_-]", "", text.lower())
    return dns_name(lowered or "default", "project")
