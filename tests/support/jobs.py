"""Job specs, as the YAML a user submits, for jobs that several test files run."""

from __future__ import annotations

import json
from collections.abc import Sequence

WEB_IMAGE = "localhost/ozy-example-web:latest"

# An HTTP check every second, healthy after one pass (passes count from the start).
HTTP_HEALTHCHECK = """\
    healthcheck:
      type: http
      port: 3000
      path: /healthcheck
      interval: 1
      timeout: 1
      healthy_threshold: 1
      start_period: 5
"""


def pinned_to(*nodes: str) -> str:
    """The spec line that lets a job run on these nodes only."""
    return f"schedulingConstraints: {{mayBeScheduledOn: [{', '.join(nodes)}]}}"


def web_job(
    name: str,
    count: int,
    memory: str = "32M",
    *,
    extra: str = "",
    ports: Sequence[str] = (),
    healthcheck: bool = False,
) -> str:
    """`count` pods of one container, `app`, of the example web image.

    `extra`: further top-level lines (constraints, ingress), put before the containers;
    `ports`: the app's port mappings; `healthcheck`: HTTP_HEALTHCHECK on the app.
    """
    lines = [f"name: {name}", f"numInstances: {count}"]
    if extra:
        lines.append(extra.rstrip("\n"))
    lines += ["containers:", "  app:", f"    image: {WEB_IMAGE}", f"    memory: {memory}"]
    if ports:
        lines.append(f"    ports: [{', '.join(json.dumps(port) for port in ports)}]")
    return "\n".join(lines) + "\n" + (HTTP_HEALTHCHECK if healthcheck else "")
