"""How big a submitted job spec may be: the one place these limits and their defaults live.

A spec arrives from anyone who can reach the API, so everything that costs
work in proportion to its size is bounded, and a body past a limit is refused
before that work is done. The defaults leave ample room for real jobs; `ozy
node` flags set them per node. Lengths that follow from the formats
themselves (a DNS label's 63 characters, a path's 4096) are fixed in the
models instead.
"""

from dataclasses import dataclass, fields


class LimitExceeded(ValueError):
    """A validator's refusal of a spec that goes past one of `SpecLimits`.

    `limit` names it as its `ozy node run` flag does (without the dashes), so the
    API can answer "limit exceeded" rather than "invalid", and say which
    flag raises it.
    """

    def __init__(self, message: str, limit: str) -> None:
        super().__init__(message)
        self.limit = limit


@dataclass(frozen=True)
class SpecLimits:
    """The bounds a node holds every submitted job spec to."""

    max_instances: int = 10_000
    """Most instances (`numInstances`) one job may ask for, on submit and on scale."""

    max_containers: int = 64
    """Most containers in one job's pod."""

    max_env_entries: int = 1_000
    """Most environment variables of one container."""

    max_env_bytes: int = 128 * 1024
    """Most bytes (UTF-8) of environment names and values of one container, together."""

    max_yaml_aliases: int = 100
    """Most YAML anchors and aliases, counted together, in one spec."""

    max_yaml_nodes: int = 200_000
    """Most values (scalars, lists, mappings) in one spec, each alias counted as what it repeats.

    Few aliases can still repeat a value exponentially often (nine lists of
    nine aliases each make 9**9 values), so counting anchors and aliases does
    not bound the work; real specs hold hundreds of values, or thousands.
    """

    max_spec_bytes: int = 1024 * 1024
    """Most bytes of the spec as stored (JSON), once its aliases are expanded.

    An alias repeats a value, however big: 63 aliases of a container with
    128 KiB of environment make a spec tens of megabytes long, which every
    node would keep and etcd refuses to store.
    """

    max_depth: int = 32
    """Deepest nesting of mappings and lists; a real spec needs about 6."""

    max_errors: int = 50
    """Most problems reported for one spec; a last line counts the rest."""

    def __post_init__(self) -> None:
        # These come from command-line flags; a zero or negative limit is a typo.
        for field in fields(self):
            if getattr(self, field.name) < 1:
                raise ValueError(
                    f"{field.name} must be at least 1, got {getattr(self, field.name)}"
                )

    def instances_problem(self, count: int) -> str | None:
        """What is wrong with a job of `count` instances, if anything, for `numInstances`."""
        if count > self.max_instances:
            return f"at most {self.max_instances} instances per job, got {count}"
        return None

    def containers_problem(self, count: int) -> str | None:
        """What is wrong with a pod of `count` containers, if anything, for `containers`."""
        if count > self.max_containers:
            return f"at most {self.max_containers} containers per job, got {count}"
        return None

    def env_entries_problem(self, count: int) -> str | None:
        """What is wrong with `count` environment variables in one container, if anything."""
        if count > self.max_env_entries:
            return (
                f"at most {self.max_env_entries} environment variables per container, got {count}"
            )
        return None

    def env_bytes_problem(self, size: int) -> str | None:
        """What is wrong with `size` bytes of one container's environment, if anything."""
        if size > self.max_env_bytes:
            return (
                f"at most {self.max_env_bytes} bytes of environment names and values"
                f" per container, got {size}"
            )
        return None
