"""The node's own metrics: what it offers and has allotted, its pods, its lease, its fencings.

Events are counted here where they happen; the state a scrape reads (capacity,
allocation, this node's instances, the lease's age) is in `node_state.py`.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

from ozymandias.metrics.families import Family

CONTAINER_RESTARTS = Counter(
    "ozy_node_container_restarts_total",
    "Containers this node restarted after they exited or failed their healthcheck.",
    ["job"],
)
# The keeper refreshes every TTL/3 (a few seconds): anything near a second is trouble.
LEASE_REFRESH = Histogram(
    "ozy_node_lease_refresh_duration_seconds",
    "How long a successful refresh of the node's etcd lease took.",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
FENCINGS = Counter(
    "ozy_node_fencings_total",
    "Times this node lost its lease and stopped every pod it ran (fenced).",
)

# Read at scrape time by `node_state.NodeCollector`.
CAPACITY_MEMORY = Family("ozy_node_capacity_memory_bytes", "Memory this node offers to instances.")
CAPACITY_DISK = Family("ozy_node_capacity_disk_bytes", "Disk this node offers to instances.")
CAPACITY_CPU = Family(
    "ozy_node_capacity_cpu_cores", "CPU this node offers to instances (ozy node run --cpus)."
)
ALLOCATED_MEMORY = Family(
    "ozy_node_allocated_memory_bytes", "Memory the instances placed on this node ask for."
)
ALLOCATED_DISK = Family(
    "ozy_node_allocated_disk_bytes", "Disk the instances placed on this node ask for."
)
ALLOCATED_CPU = Family(
    "ozy_node_allocated_cpu_cores", "CPU the instances placed on this node ask for."
)
INSTANCES = Family(
    "ozy_node_instances",
    "Instances whose pods this node runs, by job and state.",
    ("job", "state"),
)
LEASE_AGE = Family(
    "ozy_node_lease_refresh_age_seconds",
    "Seconds since the last lease refresh etcd answered was sent.",
)
