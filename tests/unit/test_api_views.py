"""How the API shows things (api/views.py): the parts that choose what to show."""

from __future__ import annotations

import pytest

from ozymandias.api.views import since_its_creation
from ozymandias.cluster.records import Event


def events(*kinds: str) -> list[Event]:
    return [Event(time=i, kind=kind, message=kind, job="web") for i, kind in enumerate(kinds)]


@pytest.mark.parametrize(
    ("kinds", "kept"),
    [
        pytest.param(["job-committed", "instance-started"], 2, id="never deleted"),
        pytest.param(["job-committed", "job-deleted", "job-committed"], 1, id="re-created"),
        pytest.param(
            ["job-deleted", "job-committed", "job-deleted", "job-committed"], 1, id="twice"
        ),
        pytest.param(["job-committed", "job-deleted"], 0, id="deleted last"),
    ],
)
def test_a_job_shows_the_events_since_a_job_of_its_name_was_last_deleted(
    kinds: list[str], kept: int
) -> None:
    listed = events(*kinds)
    assert since_its_creation(listed) == listed[len(listed) - kept :]
