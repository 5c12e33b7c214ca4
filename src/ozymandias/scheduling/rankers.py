"""Ranking: small scorers, summed, that order the feasible nodes for one instance.

A ranker's score for a node depends only on that node's candidate state (its
free room and how many of the job's instances it holds). Placing an instance
changes one candidate, so a plan re-scores just that one: this is what lets
placement keep the candidates in a heap instead of re-ranking every node.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from ozymandias.scheduling.view import Candidate


class Ranker(Protocol):
    def score(self, candidate: Candidate) -> float:
        """A score for placing one more instance on the candidate; higher is better."""
        ...


@dataclass(frozen=True, slots=True)
class BinPack:
    """Prefer the node the instance fills most, as Nomad's `ScoreFitBinPack` does.

    With f the fraction of a resource left free after placement, the score is
    (20 - 10^f_memory - 10^f_disk) / 18: 0 on an empty node, 1 on a node the
    instance fills exactly. The exponential favours a node that would end
    nearly full over one left half full more than a linear score would, which
    keeps big gaps open for big jobs.

    CPU joins the sum, as (30 - ... - 10^f_cpu) / 27, only for a job that asks
    for CPU: one that asks for none takes none, so the node's CPU fullness says
    nothing about how well it packs there.
    """

    memory: int
    disk: int
    cpu: int = 0

    def score(self, candidate: Candidate) -> float:
        node = candidate.node
        # A node that offers none of a resource scores as if it were untouched,
        # so that resource does not sway the ranking.
        capacity = node.capacity_memory
        free_memory = (candidate.free_memory - self.memory) / capacity if capacity > 0 else 1.0
        capacity = node.capacity_disk
        free_disk = (candidate.free_disk - self.disk) / capacity if capacity > 0 else 1.0
        if self.cpu <= 0:
            return (20.0 - math.pow(10.0, free_memory) - math.pow(10.0, free_disk)) / 18.0
        capacity = node.capacity_cpu
        free_cpu = (candidate.free_cpu - self.cpu) / capacity if capacity > 0 else 1.0
        unused = math.pow(10.0, free_memory) + math.pow(10.0, free_disk) + math.pow(10.0, free_cpu)
        return (30.0 - unused) / 27.0


@dataclass(frozen=True, slots=True)
class JobAntiAffinity:
    """Penalise nodes that already hold instances of the job, as Nomad's job anti-affinity.

    The penalty, -(collisions + 1) / desired_count, is strong for a small job
    (its instances spread over nodes, so one node failing takes few of them)
    and weak for a big one, where bin packing then mostly wins.
    """

    desired_count: int

    def score(self, candidate: Candidate) -> float:
        if candidate.collisions == 0:
            return 0.0
        return -(candidate.collisions + 1) / self.desired_count


@dataclass(frozen=True, slots=True)
class LoadPenalty:
    """Pass over busy nodes, all else being equal: the design post's "node busyness".

    A node whose 1-minute load per core is above its threshold scores
    -(load - threshold), at most -1: about one bin-packing score, so a busy node
    loses to an idle one of the same fill. It only reorders the feasible nodes,
    so it never makes a placement fail.
    """

    def score(self, candidate: Candidate) -> float:
        return -min(candidate.node.overload, 1.0)


def total_score(rankers: Sequence[Ranker], candidate: Candidate) -> float:
    score = 0.0
    for ranker in rankers:
        score += ranker.score(candidate)
    return score
