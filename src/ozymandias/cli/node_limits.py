"""`ozy node run`'s limits: how much any one request may ask of the node (see docs/errors.md).

Declared here, apart from the rest of `ozy node run`'s options, so that each
limit's flag, default and help sit in one short list; `ozy node run --help`
shows them in a panel of their own.
"""

from __future__ import annotations

from typing import Annotated

import typer

from ozymandias.api.request_limits import ApiLimits
from ozymandias.spec.limits import SpecLimits
from ozymandias.spec.sizes import parse_size

_PANEL = "Limits (each refusal is a 4xx problem naming the limit; see docs/errors.md)"
_API = ApiLimits()
_SPEC = SpecLimits()


def _option(help_text: str) -> typer.models.OptionInfo:
    option: typer.models.OptionInfo = typer.Option(help=help_text, rich_help_panel=_PANEL)
    return option


ApiMaxBody = Annotated[str, _option("Largest request body, e.g. 1M (413 past it).")]
ApiMaxInFlight = Annotated[int, _option("Requests handled at once; past it, 429 with Retry-After.")]
ApiBodyTimeout = Annotated[
    float, _option("Seconds a client has to send a request body (408 past it).")
]
ApiMaxFollows = Annotated[int, _option("Logs followed at once through this node (429 past it).")]
ApiMaxWatches = Annotated[int, _option("Watch streams (?watch=true) open at once (429 past it).")]
ApiHeaderTimeout = Annotated[
    float, _option("Seconds a client has to send a request's headers (then it is cut off).")
]
MaxInstances = Annotated[int, _option("Most instances per job, on apply and scale.")]
MaxContainers = Annotated[int, _option("Most containers per job.")]
MaxEnvEntries = Annotated[int, _option("Most environment variables per container.")]
MaxEnvSize = Annotated[
    str, _option("Most environment (names and values) per container, e.g. 128K.")
]
MaxYamlAliases = Annotated[int, _option("Most YAML anchors and aliases in one spec.")]
MaxYamlNodes = Annotated[
    int, _option("Most values in one spec, each YAML alias counted as the value it repeats.")
]
MaxSpecSize = Annotated[str, _option("Most of a spec as stored, aliases expanded, e.g. 1M.")]
MaxDepth = Annotated[int, _option("Deepest nesting of mappings and lists in one spec.")]
MaxErrors = Annotated[int, _option("Most problems reported for one spec, then 'and N more'.")]

DEFAULT_API_MAX_BODY = "1M"
DEFAULT_API_MAX_IN_FLIGHT = _API.max_in_flight
DEFAULT_API_BODY_TIMEOUT = _API.body_seconds
DEFAULT_API_HEADER_TIMEOUT = _API.header_seconds
DEFAULT_API_MAX_FOLLOWS = _API.max_follows
DEFAULT_API_MAX_WATCHES = _API.max_watches
DEFAULT_MAX_INSTANCES = _SPEC.max_instances
DEFAULT_MAX_CONTAINERS = _SPEC.max_containers
DEFAULT_MAX_ENV_ENTRIES = _SPEC.max_env_entries
DEFAULT_MAX_ENV_SIZE = "128K"
DEFAULT_MAX_YAML_ALIASES = _SPEC.max_yaml_aliases
DEFAULT_MAX_YAML_NODES = _SPEC.max_yaml_nodes
DEFAULT_MAX_SPEC_SIZE = "1M"
DEFAULT_MAX_DEPTH = _SPEC.max_depth
DEFAULT_MAX_ERRORS = _SPEC.max_errors


def api_limits(
    max_body: str,
    max_in_flight: int,
    body_timeout: float,
    header_timeout: float,
    max_follows: int,
    max_watches: int = _API.max_watches,
) -> ApiLimits:
    """The API's limits from their flags; ValueError names a bad one."""
    for flag, value in (
        ("--api-max-in-flight", max_in_flight),
        ("--api-body-timeout", body_timeout),
        ("--api-header-timeout", header_timeout),
        ("--api-max-follows", max_follows),
        ("--api-max-watches", max_watches),
    ):
        if value <= 0:
            raise ValueError(f"{flag} must be more than 0, got {value}")
    return ApiLimits(
        max_body_bytes=parse_size(max_body),
        max_in_flight=max_in_flight,
        body_seconds=body_timeout,
        header_seconds=header_timeout,
        max_follows=max_follows,
        max_watches=max_watches,
    )


def spec_limits(
    *,
    max_instances: int,
    max_containers: int,
    max_env_entries: int,
    max_env_size: str,
    max_yaml_aliases: int,
    max_yaml_nodes: int,
    max_spec_size: str,
    max_depth: int,
    max_errors: int,
) -> SpecLimits:
    """The spec's limits from their flags; ValueError names a bad one."""
    for flag, value in (
        ("--max-instances", max_instances),
        ("--max-containers", max_containers),
        ("--max-env-entries", max_env_entries),
        ("--max-yaml-aliases", max_yaml_aliases),
        ("--max-yaml-nodes", max_yaml_nodes),
        ("--max-depth", max_depth),
        ("--max-errors", max_errors),
    ):
        if value < 1:
            raise ValueError(f"{flag} must be at least 1, got {value}")
    return SpecLimits(
        max_instances=max_instances,
        max_containers=max_containers,
        max_env_entries=max_env_entries,
        max_env_bytes=parse_size(max_env_size),
        max_yaml_aliases=max_yaml_aliases,
        max_yaml_nodes=max_yaml_nodes,
        max_spec_bytes=parse_size(max_spec_size),
        max_depth=max_depth,
        max_errors=max_errors,
    )
