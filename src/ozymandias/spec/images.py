"""Image references as a container spec names them, and when a node pulls them (pure).

The rules are Docker's, which podman follows: the first part of a name is a
registry only if it holds a '.' or a ':' or is `localhost`; anything else is
on Docker Hub. A tag follows the last ':' after the last '/'; a digest '@'.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

PullPolicy = Literal["always", "missing", "never"]

DOCKER_HUB = "docker.io"
LOCAL = "localhost"

# host, or host:port, as a registry is named in an image reference and in `ozy registry login`.
_REGISTRY = re.compile(
    r"^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*"
    r"(?::[0-9]{1,5})?$"
)
REGISTRY_NAME_LENGTH = 253


@dataclass(frozen=True)
class ImageReference:
    registry: str
    repository: str
    tag: str | None
    digest: str | None


def parse_image(image: str) -> ImageReference:
    """The parts of `image`; a name without a registry is on Docker Hub."""
    rest, _, digest = image.partition("@")
    first, slash, remainder = rest.partition("/")
    if slash and ("." in first or ":" in first or first == LOCAL):
        registry, path = first, remainder
    else:
        registry, path = DOCKER_HUB, rest
    repository, colon, tag = path.rpartition(":") if ":" in path else (path, "", "")
    return ImageReference(
        registry=registry,
        repository=repository,
        tag=tag if colon else None,
        digest=digest or None,
    )


def effective_pull(image: str, declared: PullPolicy | None) -> PullPolicy:
    """The pull policy of a container: the declared one, else Kubernetes' default.

    An image named by a digest never changes, so it is only pulled when missing;
    an untagged or `:latest` image may, so it is pulled before every start. A
    `localhost/` image is podman's name for one built on the machine: there is
    no registry to pull it from.
    """
    if declared is not None:
        return declared
    reference = parse_image(image)
    if reference.registry == LOCAL:
        return "never"
    if reference.digest is None and reference.tag in (None, "latest"):
        return "always"
    return "missing"


def pulls_before_start(policy: PullPolicy, present: bool) -> bool:
    """Whether a start pulls first (`never` with the image missing fails the start instead)."""
    return policy == "always" or (policy == "missing" and not present)


def registry_name_problem(name: str) -> str | None:
    """Why `name` is no registry name (host or host:port, lowercase), None if it is one."""
    if len(name) > REGISTRY_NAME_LENGTH:
        return f"a registry name is at most {REGISTRY_NAME_LENGTH} characters"
    if not _REGISTRY.match(name):
        return f"{name!r} is not a registry: expected a host or host:port, such as 127.0.0.1:5000"
    port = name.partition(":")[2]
    if port and not 0 < int(port) < 65536:
        return f"{name!r} has no valid port"
    return None
