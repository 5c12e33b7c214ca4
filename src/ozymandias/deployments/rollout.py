"""The next step of a running deployment, decided from etcd state alone (pure).

Any node can take a step: it reads the job, its schedule, its deployment and
the instances' statuses, and commits what `next_step` returns with a
compare-and-swap on all of them, so two nodes never take the same step twice.

A step, in order:
1. counts the instances this deployment started that stayed healthy for
   `min_healthy_time`, and retires the old instance each surge instance
   replaces (so healthy capacity never drops);
2. fails the deployment when an operator asked, when an instance it started
   was not healthy within `healthy_deadline`, or when nothing counted
   healthy for `progress_deadline` (its surge instances go; the old ones,
   still running, stay);
3. with canaries, starts them beside the old instances and pauses once they
   are healthy, until promoted;
4. replaces up to `max_parallel` outdated instances at once: surge first (a
   new instance beside the old one, where the cluster has room, counted in
   the allocations), else in place (stop, then start, on its node); a system
   job's, whose instances belong to their nodes, always in place;
5. succeeds once every instance runs the new version and counted healthy.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from ozymandias.cluster.records import (
    Deployment,
    DeploymentStatus,
    InstanceState,
    InstanceStatus,
    JobRecord,
    Resources,
    Schedule,
    instance_name,
    system_instance_name,
)
from ozymandias.deployments.pinned import free_index, why_not_on
from ozymandias.deployments.schedules import merge_deltas
from ozymandias.scheduling.place import plan_as_many_as_fit
from ozymandias.scheduling.request import PlacementRequest
from ozymandias.scheduling.view import ClusterView

CANARY = -1  # Schedule.surge's mark of a canary that replaces no instance yet


@dataclass(frozen=True)
class RolloutState:
    """What a step is decided from (a job's records as one node's mirrors have them)."""

    record: JobRecord
    schedule: Schedule
    deployment: Deployment
    statuses: Mapping[int, InstanceStatus]
    request: PlacementRequest
    view: ClusterView
    live_nodes: frozenset[str]
    now: float
    draining: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Step:
    """What to commit: the new schedule, deployment and allocation changes, and what to say."""

    record: JobRecord
    schedule: Schedule
    deployment: Deployment
    allocation_delta: dict[str, Resources] = field(default_factory=dict)
    events: list[str] = field(default_factory=list)

    @property
    def finished(self) -> bool:
        return not self.deployment.status.active


@dataclass
class _Work:
    """A step in the making: mutable copies of what it changes."""

    state: RolloutState
    placements: dict[int, str]
    versions: dict[int, int]
    surge: dict[int, int]
    placed: dict[int, float]
    healthy: list[int]
    retired: list[int]
    deployment: Deployment
    delta: dict[str, Resources] = field(default_factory=dict)
    events: list[str] = field(default_factory=list)
    progressed: bool = False
    stuck: list[str] = field(default_factory=list)  # on a draining node, with no room elsewhere

    @property
    def pod(self) -> Resources:
        return self.state.request.pod

    def name(self, index: int) -> str:
        job, node = self.state.record.spec, self.placements.get(index)
        if job.is_system and node is not None:
            return system_instance_name(job.name, node)
        return instance_name(job.name, index)

    def free(self, node: str) -> None:
        self.delta = merge_deltas(self.delta, {node: Resources() - self.pod})

    def remove(self, index: int) -> None:
        node = self.placements.pop(index, None)
        if node is not None:
            self.free(node)
        self.versions.pop(index, None)
        self.surge.pop(index, None)
        self.placed.pop(index, None)


def next_step(state: RolloutState) -> Step | None:
    """The step to commit now, or None when the deployment waits (see `wake_at`)."""
    deployment = state.deployment
    if not deployment.status.active or deployment.version != state.record.version:
        return None
    work = _Work(
        state=state,
        placements=dict(state.schedule.placements),
        versions=dict(state.schedule.versions),
        surge=dict(state.schedule.surge),
        placed=dict(deployment.placed),
        healthy=list(deployment.healthy),
        retired=list(deployment.retired),
        deployment=deployment,
    )
    _count_healthy(work)
    _settle_surge(work)
    failure = _failure(work)
    if failure is not None:
        _fail(work, failure)
    elif not _canaries(work):
        _replace_outdated(work)
        _maybe_succeed(work)
    return _as_step(work)


def wake_at(state: RolloutState) -> float | None:
    """When a deployment that waits should be looked at again, though nothing changed."""
    deployment = state.deployment
    if not deployment.status.active:
        return None
    update = deployment.update
    times = []
    if deployment.status is not DeploymentStatus.PAUSED:
        times.append(deployment.last_progress_at + update.progress_deadline)
    for index, started in deployment.placed.items():
        if index in deployment.healthy:
            continue
        times.append(started + update.healthy_deadline)
        status = state.statuses.get(index)
        if status is not None and status.healthy_since:
            times.append(status.healthy_since + update.min_healthy_time)
    return min(times, default=None)


def _as_step(work: _Work) -> Step | None:
    state = work.state
    schedule = state.schedule.model_copy(
        update={
            "placements": dict(sorted(work.placements.items())),
            "versions": work.versions,
            "surge": work.surge,
        }
    )
    deployment = work.deployment.model_copy(
        update={
            "placed": work.placed,
            "healthy": sorted(work.healthy),
            "retired": sorted(work.retired),
            "updated_at": state.now,
            "last_progress_at": state.now if work.progressed else work.deployment.last_progress_at,
            "unhealthy": _unhealthy_count(work),
        }
    )
    changed_deployment = deployment.model_copy(update={"updated_at": 0.0}) != (
        state.deployment.model_copy(update={"updated_at": 0.0})
    )
    if schedule == state.schedule and not changed_deployment:
        return None
    record = state.record
    still_pinned = set(work.versions.values())
    older = {v: spec for v, spec in record.older.items() if v in still_pinned}
    if older != record.older:
        record = record.model_copy(update={"older": older})
    if deployment.status is DeploymentStatus.SUCCESSFUL:
        record = record.model_copy(update={"stable_version": record.version})
    return Step(record, schedule, deployment, work.delta, work.events)


def _is_healthy_enough(work: _Work, index: int) -> bool:
    status = work.state.statuses.get(index)
    if status is None or status.spec_version != work.state.record.version:
        return False
    if status.node != work.placements.get(index):
        return False
    if status.state is InstanceState.COMPLETED:
        return True
    if not status.settled or not status.healthy_since:
        return False
    return work.state.now - status.healthy_since >= work.deployment.update.min_healthy_time


def _count_healthy(work: _Work) -> None:
    for index in sorted(work.placed):
        if index not in work.healthy and _is_healthy_enough(work, index):
            work.healthy.append(index)
            work.progressed = True


def _settle_surge(work: _Work) -> None:
    """Retire the old instance of each surge instance that counted healthy; drop surge
    instances that were lost with their node."""
    for new, old in sorted(work.surge.items()):
        node = work.placements.get(new)
        if node is None:
            del work.surge[new]
        elif node not in work.state.live_nodes:
            work.events.append(f"dropped {work.name(new)}: its node {node} is gone")
            work.remove(new)
        elif old != CANARY and new in work.healthy:
            del work.surge[new]
            if old in work.placements:
                work.events.append(f"{work.name(new)} healthy; stopping {work.name(old)}")
                work.remove(old)
                work.retired.append(old)


def _failure(work: _Work) -> str | None:
    deployment, now = work.deployment, work.state.now
    update = deployment.update
    if deployment.fail_requested:
        return f"failed {deployment.fail_requested}"
    for index, started in sorted(work.placed.items()):
        if index in work.healthy or index not in work.placements:
            continue
        status = work.state.statuses.get(index)
        if (
            status is not None
            and status.spec_version == work.state.record.version
            and status.state is InstanceState.FAILED
        ):
            # It cannot run at all (a missing image, say): no deadline will change that.
            return f"{work.name(index)} failed ({_last_seen(status)})"
        if now - started > update.healthy_deadline:
            return (
                f"{work.name(index)} was not healthy within {update.healthy_deadline:g}s"
                f" ({_last_seen(work.state.statuses.get(index))})"
            )
    # Canaries waiting for an operator's promotion are not a stalled deployment.
    waiting = deployment.status is DeploymentStatus.PAUSED
    stalled = now - deployment.last_progress_at > update.progress_deadline
    if stalled and not work.progressed and not waiting:
        return f"no instance became healthy for {update.progress_deadline:g}s"
    return None


def _last_seen(status: InstanceStatus | None) -> str:
    if status is None:
        return "not reported"
    text = f"{status.state.value}, {status.health.value}"
    return f"{text}: {status.reason}" if status.reason else text


def _fail(work: _Work, reason: str) -> None:
    """End the deployment: its surge instances go, the old instances they shadowed stay."""
    for new in sorted(work.surge):
        work.remove(new)
    work.deployment = work.deployment.model_copy(
        update={
            "status": DeploymentStatus.FAILED,
            "description": reason,
            "failed_instance": reason if reason.startswith(work.state.record.spec.name) else "",
        }
    )
    work.events.append(f"deployment of version {work.deployment.version} failed: {reason}")


def _canaries(work: _Work) -> bool:
    """Start canaries and wait on them; True while the rollout must not go further."""
    deployment = work.deployment
    # No more canaries than the job has instances to replace; a system job has none, as a
    # canary runs beside the old instances and a system job's node holds one.
    spec = work.state.record.spec
    wanted = 0 if spec.is_system else min(deployment.update.canary, spec.num_instances)
    if not wanted or deployment.revert_of or (not _outdated(work) and not _canary_indices(work)):
        return False
    canaries = _canary_indices(work)
    if deployment.promoted or (
        deployment.update.auto_promote
        and len(canaries) >= wanted
        and all(c in work.healthy for c in canaries)
    ):
        _promote(work, canaries)
        return False
    if len(canaries) < wanted:
        for index in _place_surge(work, wanted - len(canaries)):
            work.surge[index] = CANARY
            work.events.append(f"started canary {work.name(index)}")
    canaries = _canary_indices(work)
    healthy = sum(1 for c in canaries if c in work.healthy)
    if canaries and healthy == len(canaries) >= wanted:
        status, text = (
            DeploymentStatus.PAUSED,
            f"{healthy} canar{'y' if healthy == 1 else 'ies'} healthy; waiting for"
            f" `ozy promote {deployment.job}`",
        )
    else:
        status, text = (
            DeploymentStatus.RUNNING,
            f"waiting for {wanted - healthy} canar{'y' if wanted - healthy == 1 else 'ies'}"
            " to become healthy",
        )
    work.deployment = deployment.model_copy(update={"status": status, "description": text})
    return True


def _canary_indices(work: _Work) -> list[int]:
    return sorted(i for i, old in work.surge.items() if old == CANARY)


def _promote(work: _Work, canaries: list[int]) -> None:
    """Each healthy canary takes the place of an outdated instance, which goes."""
    outdated = _outdated(work)
    for canary in canaries:
        if not outdated:
            # Nothing left for it to replace (the job was scaled down meanwhile): it goes.
            work.events.append(f"stopping canary {work.name(canary)}: nothing left to replace")
            work.remove(canary)
            continue
        work.surge[canary] = outdated.pop(0)
    work.deployment = work.deployment.model_copy(
        update={"promoted": True, "status": DeploymentStatus.RUNNING}
    )
    _settle_surge(work)


def _outdated(work: _Work) -> list[int]:
    """Instances this deployment must replace, not yet being replaced: those running an older
    version, those on a draining node, and those a rebalance moves."""
    record, deployment = work.state.record, work.deployment
    replaced = set(work.surge.values())
    if deployment.moves:
        # A rebalance's move replaces its instance only: the job's others stay as they are.
        return sorted(
            index
            for index, target in deployment.moves.items()
            if index in work.placements
            and work.placements[index] != target
            and index not in replaced
        )
    good = {record.version, *deployment.satisfied_by}
    draining = work.state.draining
    return sorted(
        index
        for index, node in work.placements.items()
        if index not in work.surge
        and index not in replaced
        and (work.versions.get(index, record.version) not in good or node in draining)
    )


def _in_flight(work: _Work) -> list[int]:
    return [i for i in work.placed if i not in work.healthy and i in work.placements]


def _replace_outdated(work: _Work) -> None:
    update = work.deployment.update
    slots = update.max_parallel - len(_in_flight(work))
    outdated = _outdated(work)[: max(0, slots)]
    if not outdated:
        return
    moves = work.deployment.moves
    for old in [index for index in outdated if index in moves]:
        if not _move(work, old, moves[old]):
            return
    outdated = [index for index in outdated if index not in moves]
    # Local volumes belong to an instance on its node, and a system job's instance to its
    # node: those are replaced in place, `max_parallel` nodes at a time.
    in_place = work.state.request.disk or work.state.record.spec.is_system
    surged = [] if in_place else _place_surge(work, len(outdated))
    for old, new in zip(outdated, surged, strict=False):
        work.surge[new] = old
        work.events.append(f"started {work.name(new)} to replace {work.name(old)}")
    for old in outdated[len(surged) :]:
        node = work.placements[old]
        if node in work.state.draining:
            # Never in place on a draining node: it waits for room, or the drain's deadline.
            work.stuck.append(work.name(old))
            continue
        # No room beside it: stop it and start the new version on its node.
        work.versions.pop(old, None)
        work.placed[old] = work.state.now
        work.events.append(f"replacing {work.name(old)} in place (no room for a surge instance)")


def _move(work: _Work, old: int, target: str) -> bool:
    """Start the replacement of a rebalance's instance on its target; when the target cannot
    take it, fail the deployment (the old instance stays) and return False."""
    state = work.state
    view = state.view
    reason = why_not_on(state.request, view, target, work.delta)
    if reason is None and target not in state.live_nodes:
        reason = f"node {target} is gone"
    if reason is not None:
        _fail(work, f"cannot move {work.name(old)}: {reason}")
        return False
    taken = {
        *work.placements,
        *state.schedule.pending,
        *state.schedule.surge,
        *work.surge,
        *work.retired,
    }
    new = free_index(taken)
    work.placements[new] = target
    work.placed[new] = state.now
    work.surge[new] = old
    work.delta = merge_deltas(work.delta, {target: work.pod})
    work.events.append(
        f"started {work.name(new)} on {target} to replace {work.name(old)} (rebalancing)"
    )
    return True


def _progress_text(work: _Work) -> str:
    if work.deployment.moves:
        return work.deployment.description  # what the rebalance says it moves, and where
    total = work.deployment.desired
    healthy = sum(1 for i in work.healthy if i in work.placements)
    text = f"{healthy} of {total} instances healthy at version {work.deployment.version}"
    if work.stuck:
        text += (
            f"; no room elsewhere for {', '.join(work.stuck)} on a draining node: waiting for"
            " room or the drain's deadline (`ozy node drain --force` stops them now)"
        )
    return text


def _place_surge(work: _Work, count: int) -> list[int]:
    """Place up to `count` new instances beside the job's others, where there is room."""
    state = work.state
    # A stopped instance's name is not reused while its pod may still be draining
    # (reconcile takes surge indices as taken).
    current = state.schedule.model_copy(
        update={
            "placements": dict(work.placements),
            "pending": {},
            "surge": dict.fromkeys(work.retired, CANARY),
        }
    )
    taken = len(work.placements)
    view = state.view
    view.apply(work.delta)
    plan = plan_as_many_as_fit(replace(state.request, count=taken + count), current, view)
    view.apply({node: Resources() - change for node, change in work.delta.items()})
    new = sorted(i for i in plan.placed if i not in work.placements)
    for index in new:
        work.placements[index] = plan.placed[index]
        work.placed[index] = state.now
    work.delta = merge_deltas(
        work.delta, {node: work.pod for node in (plan.placed[i] for i in new)}
    )
    return new


def _maybe_succeed(work: _Work) -> None:
    if not work.deployment.status.active:
        return  # a move could not start: the deployment failed
    if _outdated(work) or _in_flight(work) or work.surge:
        work.deployment = work.deployment.model_copy(update={"description": _progress_text(work)})
        return
    healthy = len(work.placements)
    work.deployment = work.deployment.model_copy(
        update={
            "status": DeploymentStatus.SUCCESSFUL,
            "description": f"{healthy} instance{'s' if healthy != 1 else ''} healthy at version"
            f" {work.deployment.version}",
        }
    )
    work.events.append(f"deployment of version {work.deployment.version} succeeded")


def _unhealthy_count(work: _Work) -> int:
    count = 0
    for index in work.placed:
        status = work.state.statuses.get(index)
        if index in work.healthy or status is None:
            continue
        if status.state is InstanceState.FAILED or status.health.value == "unhealthy":
            count += 1
    return count
