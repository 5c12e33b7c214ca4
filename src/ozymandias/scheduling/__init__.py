"""Pure scheduling: decide which instances of a job run where. No I/O, data in and data out.

A plan goes: `reconcile` (which instance indices to keep, place, stop), then
constraint filters (which nodes may hold the job at all), then rankers over
the candidates with room (which node takes each new instance), giving a
`PlanResult` to commit or a `Rejection` to report (`explain`: every reason, counted).
"""

from ozymandias.scheduling.explain import PlacementMetrics, Rejection, RejectionKind
from ozymandias.scheduling.invariants import check_invariants
from ozymandias.scheduling.place import (
    PlanResult,
    plan_all_or_nothing,
    plan_as_many_as_fit,
    usage_by_node,
)
from ozymandias.scheduling.reconcile import Diff, reconcile
from ozymandias.scheduling.request import LabelExpression, PlacementRequest, request_from_spec
from ozymandias.scheduling.view import ClusterView, NodeView

__all__ = [
    "ClusterView",
    "Diff",
    "LabelExpression",
    "NodeView",
    "PlacementMetrics",
    "PlacementRequest",
    "PlanResult",
    "Rejection",
    "RejectionKind",
    "check_invariants",
    "plan_all_or_nothing",
    "plan_as_many_as_fit",
    "reconcile",
    "request_from_spec",
    "usage_by_node",
]
