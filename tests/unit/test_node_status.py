"""A node's status as `GET /v1/nodes` and the dashboard show it (api/views.py)."""

from __future__ import annotations

import pytest

from ozymandias.api.views import node_status


@pytest.mark.parametrize(
    ("cordoned", "draining", "status"),
    [
        (set(), set(), "ready"),
        ({"n1"}, set(), "cordoned"),
        ({"n1"}, {"n1"}, "draining"),  # a drain cordons too, and says more
        (set(), {"n1"}, "draining"),
        ({"n2"}, {"n2"}, "ready"),  # another node's marks
    ],
)
def test_node_status(cordoned: set[str], draining: set[str], status: str) -> None:
    assert node_status("n1", frozenset(cordoned), frozenset(draining)) == status
