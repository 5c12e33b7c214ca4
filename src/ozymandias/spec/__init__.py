"""The job spec users submit: its models, YAML loading, size limits, and size units."""

from ozymandias.spec.limits import SpecLimits
from ozymandias.spec.loader import (
    FieldProblem,
    SpecError,
    check_instances,
    dump_job,
    job_from_data,
    load_job,
)
from ozymandias.spec.models import (
    ContainerSpec,
    HealthCheck,
    JobSpec,
    MatchExpression,
    PortMapping,
    SchedulingConstraints,
    VolumeSpec,
)
from ozymandias.spec.sizes import format_size, parse_size

__all__ = [
    "ContainerSpec",
    "FieldProblem",
    "HealthCheck",
    "JobSpec",
    "MatchExpression",
    "PortMapping",
    "SchedulingConstraints",
    "SpecError",
    "SpecLimits",
    "VolumeSpec",
    "check_instances",
    "dump_job",
    "format_size",
    "job_from_data",
    "load_job",
    "parse_size",
]
