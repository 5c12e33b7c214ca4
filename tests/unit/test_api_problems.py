"""Problems: an unexpected error is a 500 with a request id (its traceback stays in the log);
a job that does not fit says why, with the scheduler's placement metrics."""

from __future__ import annotations

import logging

import httpx
import pytest
from fastapi import FastAPI

from ozymandias.api.errors import submit
from ozymandias.api.openapi import PROBLEM_SCHEMA
from ozymandias.api.problems import Problem, handle_unexpected_error
from ozymandias.jobs.errors import JobRejected
from ozymandias.scheduling import ClusterView, NodeView, PlacementRequest, plan_all_or_nothing
from tests.support.placement import rejected

G = 1024**3


async def test_a_bug_answers_500_with_a_request_id_and_leaks_nothing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = FastAPI()
    app.add_exception_handler(Exception, handle_unexpected_error)

    @app.get("/boom")
    async def boom() -> None:
        raise RecursionError("maximum recursion depth exceeded in /secret/internals.py")

    transport = httpx.ASGITransport(app, raise_app_exceptions=False)
    with caplog.at_level(logging.ERROR, logger="ozymandias.api.problems"):
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            reply = await client.get("/boom")
    assert reply.status_code == 500
    assert reply.headers["content-type"] == "application/problem+json"
    problem = reply.json()
    assert problem["type"].endswith("#internal-error")
    assert "secret" not in reply.text and "Recursion" not in reply.text
    request_id = problem["requestId"]
    assert request_id in problem["detail"]
    [record] = [r for r in caplog.records if request_id in r.getMessage()]
    assert "GET /boom" in record.getMessage()
    assert record.exc_info is not None and "secret/internals" in str(record.exc_info[1])


async def test_a_job_that_does_not_fit_carries_its_placement_metrics() -> None:
    view = ClusterView(
        [
            NodeView("a", {}, 4 * G, 100 * G, 4 * G, 100 * G),
            NodeView("b", {}, 64 * G, 100 * G, 64 * G, 100 * G, cordoned=True),
        ]
    )
    rejection = rejected(plan_all_or_nothing(PlacementRequest("web", 3, 2 * G, G), None, view))

    async def refused() -> None:
        raise JobRejected(
            rejection.kind, rejection.title, rejection.detail, placement=rejection.metrics.to_json()
        )

    with pytest.raises(Problem) as caught:
        await submit(refused(), "web")
    problem = caught.value.body()
    assert problem["type"].endswith("#insufficient-memory")
    assert problem["detail"].endswith("; 1 node is cordoned")
    assert problem["placement"] == {
        "nodesEvaluated": 2,
        "nodesFiltered": {"cordoned": 1},
        "nodesExhausted": {"memory": 1},
        "instancesToPlace": 3,
        "instancesFitting": 2,
    }
    # Every member is documented, as the fuzzing test checks against a live node.
    documented = PROBLEM_SCHEMA["properties"]
    assert set(problem["placement"]) == set(documented["placement"]["properties"])
