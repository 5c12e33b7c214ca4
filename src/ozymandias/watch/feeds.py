"""The four kinds a client may watch, each shown as its list endpoint shows it.

Instances and job summaries are grouped by job (each depends on its job,
its schedule and its instances' statuses), nodes by node, events one by
one; a pass recomputes only the groups whose keys changed.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from ozymandias.api import views
from ozymandias.cluster.records import Event
from ozymandias.store.cluster_mirrors import ClusterMirrors
from ozymandias.store.mirror import Mirror
from ozymandias.store.watch_sources import (
    event_by_id,
    event_ids,
    event_sources,
    job_sources,
    node_sources,
)
from ozymandias.watch.hub import Feed, Objects

INSTANCE = "instance"
JOB = "job"
NODE = "node"
EVENT = "event"
KINDS = (INSTANCE, JOB, NODE, EVENT)


def instance_feed(mirrors: ClusterMirrors) -> Feed:
    def instances(jobs: set[str]) -> dict[str, Objects]:
        return {
            job: {item["name"]: item for item in views.instances_of(job, mirrors)}
            for job in jobs
            if mirrors.job(job) is not None
        }

    return Feed(
        INSTANCE,
        job_sources(mirrors),
        lambda: _job_names(mirrors),
        instances,
        mirrors.wait_synced,
        mirrors.revision,
    )


def job_feed(mirrors: ClusterMirrors) -> Feed:
    def jobs(names: set[str]) -> dict[str, Objects]:
        found = {name: mirrors.job(name) for name in names}
        return {
            name: {name: views.job_summary(record, mirrors)}
            for name, record in found.items()
            if record is not None
        }

    return Feed(
        JOB,
        job_sources(mirrors),
        lambda: _job_names(mirrors),
        jobs,
        mirrors.wait_synced,
        mirrors.revision,
    )


def node_feed(mirrors: ClusterMirrors) -> Feed:
    def nodes(names: set[str]) -> dict[str, Objects]:
        live = {node.name: node for node in mirrors.node_list()}
        allocated, cordoned, draining = mirrors.allocated(), mirrors.cordoned(), mirrors.draining()
        return {
            name: {name: views.node_view(live[name], allocated, cordoned, draining)}
            for name in names
            if name in live
        }

    return Feed(
        NODE,
        node_sources(mirrors),
        lambda: {node.name for node in mirrors.node_list()},
        nodes,
        mirrors.wait_synced,
        mirrors.revision,
    )


def event_feed(
    events: Mirror[Event], start: Callable[[], Awaitable[None]], mirrors: ClusterMirrors
) -> Feed:
    """Events, from a mirror of their own that `start` starts (and waits to be synced)."""

    def shown(ids: set[str]) -> dict[str, Objects]:
        found = {event_id: event_by_id(events, event_id) for event_id in ids}
        return {
            event_id: {event_id: event.model_dump()}
            for event_id, event in found.items()
            if event is not None
        }

    return Feed(
        EVENT,
        event_sources(events),
        lambda: set(event_ids(events)),
        shown,
        start,
        lambda: max(events.revision, mirrors.revision()),
    )


def _job_names(mirrors: ClusterMirrors) -> set[str]:
    return {record.spec.name for record in mirrors.jobs.items.values()}
