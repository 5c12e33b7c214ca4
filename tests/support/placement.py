"""The result of a placement plan, unwrapped: a plan where one is expected, or a rejection."""

from __future__ import annotations

from ozymandias.scheduling import PlanResult, Rejection


def planned(result: PlanResult | Rejection) -> PlanResult:
    assert isinstance(result, PlanResult), result
    return result


def rejected(result: PlanResult | Rejection) -> Rejection:
    assert isinstance(result, Rejection), result
    return result
