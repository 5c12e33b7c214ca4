"""When the cluster rebalances by itself (deployments/auto_rebalance.py)."""

from __future__ import annotations

import pytest

from ozymandias.cluster.rebalance_record import MoveState, Rebalance, RebalanceMove
from ozymandias.cluster.records import Node, Resources
from ozymandias.deployments.auto_rebalance import COOLDOWN_SECONDS, auto_trigger
from ozymandias.scheduling.view import ClusterView

NOW = 10_000.0
GB = 2**30


def view(allocated: dict[str, float], cordoned: tuple[str, ...] = ()) -> ClusterView:
    """Nodes of 1 GiB, each with this fraction of it allocated."""
    nodes = [
        Node(
            name=name,
            address="10.0.0.1",
            api_url="http://x",
            capacity=Resources(memory=GB),
            started_at=0,
        )
        for name in allocated
    ]
    used = {name: Resources(memory=int(share * GB)) for name, share in allocated.items()}
    return ClusterView.from_records(nodes, used, cordoned)


def last(nodes: list[str], *, finished: float, moves: int = 1) -> Rebalance:
    done = RebalanceMove(job="web", index=0, source="a", target="b", state=MoveState.DONE)
    return Rebalance(
        started_at=finished - 10,
        finished_at=finished,
        max_moves=2,
        threshold=0.2,
        nodes=nodes,
        moves=[done] * moves,
    )


EVEN = {"a": 0.4, "b": 0.4, "c": 0.4}
LONG_AGO = NOW - COOLDOWN_SECONDS - 1


@pytest.mark.parametrize(
    ("shares", "previous", "reason"),
    [
        # No rebalance yet: every node is new to it.
        ({"a": 0.4}, None, "node a joined"),
        (EVEN, last(["a", "b", "c"], finished=LONG_AGO), None),
        ({**EVEN, "d": 0.0}, last(["a", "b", "c"], finished=LONG_AGO), "node d joined"),
        ({**EVEN, "d": 0, "e": 0}, last(["a", "b", "c"], finished=LONG_AGO), "nodes d, e joined"),
        # A node that left is not a reason.
        ({"a": 0.4, "b": 0.4}, last(["a", "b", "c"], finished=LONG_AGO), None),
        # Within the threshold of the mean (0.5): left alone.
        ({"a": 0.65, "b": 0.35}, last(["a", "b"], finished=LONG_AGO), None),
        (
            {"a": 0.8, "b": 0.2},
            last(["a", "b"], finished=LONG_AGO),
            "node a is 80% allocated, more than 20% over the cluster's 50%",
        ),
        # Hysteresis: not while one runs, nor soon after one with moves ended.
        ({**EVEN, "d": 0.0}, last(["a", "b", "c"], finished=0), None),
        ({**EVEN, "d": 0.0}, last(["a", "b", "c"], finished=NOW - 5), None),
        # One that moved nothing (a join with nothing to move) holds nothing back.
        ({**EVEN, "d": 0.0}, last(["a", "b", "c"], finished=NOW - 5, moves=0), "node d joined"),
    ],
)
def test_auto_trigger(
    shares: dict[str, float], previous: Rebalance | None, reason: str | None
) -> None:
    trigger = auto_trigger(view(shares), 0.2, previous, NOW)
    assert (trigger.reason if trigger else None) == reason


def test_a_cordoned_node_is_neither_new_nor_counted() -> None:
    cordoned = view({**EVEN, "d": 0.0}, cordoned=("d",))
    assert auto_trigger(cordoned, 0.2, last(["a", "b", "c"], finished=LONG_AGO), NOW) is None


def test_a_join_names_the_new_nodes() -> None:
    trigger = auto_trigger(view({**EVEN, "d": 0.0}), 0.2, last(["a", "b", "c"], finished=0.0), NOW)
    assert trigger is None  # finished_at 0: it still runs
    trigger = auto_trigger(view({**EVEN, "d": 0.0}), 0.2, last(["a"], finished=LONG_AGO), NOW)
    assert trigger is not None and trigger.joined == ("b", "c", "d")
