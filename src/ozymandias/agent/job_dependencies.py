"""Whether a job's `dependsOn` conditions hold, from the instance statuses: pure.

As compose's `depends_on` conditions, for whole jobs: `service_started` holds
once every instance the dependency asks for is running (or has completed),
`service_healthy` once every one is running and healthy (or completed), and
`service_completed_successfully` once every one has completed (exit 0).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from ozymandias.cluster.records import Health, InstanceState, InstanceStatus, JobRecord
from ozymandias.spec.models import JobDependency, JobSpec

_WORDS = {
    "service_started": "started",
    "service_healthy": "healthy",
    "service_completed_successfully": "completed successfully",
}


def _holds(condition: str, status: InstanceStatus) -> bool:
    if status.state is InstanceState.COMPLETED:
        return True
    if condition == "service_completed_successfully":
        return False
    if status.state is not InstanceState.RUNNING:
        return False
    return condition == "service_started" or status.health is Health.HEALTHY


def unmet_dependency(
    spec: JobSpec,
    job_of: Callable[[str], JobRecord | None],
    statuses_of: Callable[[str], Iterable[InstanceStatus]],
) -> str | None:
    """Why the job's instances must still wait (naming the first unmet dependency), or None."""
    for dependency in spec.depends_on:
        reason = _unmet(dependency, job_of(dependency.job), statuses_of(dependency.job))
        if reason is not None:
            return reason
    return None


def _unmet(
    dependency: JobDependency, record: JobRecord | None, statuses: Iterable[InstanceStatus]
) -> str | None:
    wanted = _WORDS[dependency.condition]
    if record is None:
        return f"waiting for job {dependency.job} to be {wanted}: it does not exist"
    current = [status for status in statuses if status.spec_version == record.version]
    # A system job asks for one instance per eligible node: every one reported counts.
    needed = len(current) if record.spec.is_system else record.spec.num_instances
    ready = sum(_holds(dependency.condition, status) for status in current)
    if (record.spec.is_system and not current) or ready < needed:
        return f"waiting for job {dependency.job} to be {wanted} ({ready} of {needed} instances)"
    return None
