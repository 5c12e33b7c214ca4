"""How a node's term stops (node.py): pods first, then the APIs, lease keeper and mirrors last."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any, cast

import pytest
from prometheus_client import REGISTRY

from ozymandias import node as node_module
from ozymandias.cluster.records import Node, Resources
from ozymandias.node import NodeDaemon
from ozymandias.node_config import NodeConfig
from ozymandias.node_term import Term, TermTasks


class Pod:
    def __init__(self, name: str) -> None:
        self.name = name


class FakeRuntime:
    def __init__(self, done: list[str]) -> None:
        self.done = done

    async def list_pods(self, label_filter: dict[str, str]) -> list[Pod]:
        assert label_filter == {"ozy.node": "n1"}
        return [Pod("a"), Pod("b")]

    async def remove_pod(self, pod_name: str) -> None:
        self.done.append(f"remove {pod_name}")


class FakeVolumes:
    def __init__(self, done: list[str]) -> None:
        self.done = done

    async def remove_all(self) -> None:
        self.done.append("remove volumes")


class FakeAgent:
    def __init__(self, done: list[str]) -> None:
        self.done = done

    async def stop_all_pods(self, *, keep_local_volumes: bool = False) -> None:
        self.done.append("stop pods")


class FakeServer:
    should_exit = False


class FakeWatches:
    def __init__(self, done: list[str]) -> None:
        self.done = done

    async def close(self) -> None:
        self.done.append("watches closed")


async def forever(name: str, done: list[str]) -> None:
    try:
        await asyncio.Event().wait()
    except asyncio.CancelledError:
        done.append(f"cancelled {name}")
        raise


def daemon(tmp_path: Path, done: list[str]) -> NodeDaemon:
    daemon = NodeDaemon(NodeConfig(name="n1", data_dir=tmp_path / "n1"))
    daemon.runtime = cast(Any, FakeRuntime(done))
    daemon.volumes = cast(Any, FakeVolumes(done))
    return daemon


async def stop(daemon: NodeDaemon, done: list[str], lost: bool) -> str | None:
    own = Node(name="n1", address="10.0.0.1", api_url="", capacity=Resources(), started_at=0)
    server, kube_server = FakeServer(), FakeServer()

    async def serve(server: FakeServer, name: str) -> None:
        while not server.should_exit:  # noqa: ASYNC110 (uvicorn polls it the same way)
            await asyncio.sleep(0)
        done.append(f"{name} stopped")

    term = Term(own, [], cast(Any, None), cast(Any, None), cast(Any, FakeAgent(done)),
                 cast(Any, None), cast(Any, None), cast(Any, None), cast(Any, None),
                 cast(Any, None), cast(Any, None), cast(Any, server),
                 cast(Any, FakeWatches(done)), cast(Any, kube_server))  # fmt: skip
    tasks = TermTasks(
        agent=asyncio.create_task(forever("agent", done)),
        services=[asyncio.create_task(forever("replacer", done))],
        server=asyncio.create_task(serve(server, "API")),
        kube_server=asyncio.create_task(serve(kube_server, "Kubernetes API")),
        last=[asyncio.create_task(forever("keeper", done))],
    )
    await asyncio.sleep(0)
    fenced = await daemon._stop(term, tasks, lost)
    await asyncio.gather(*tasks.services, *tasks.last, return_exceptions=True)
    await daemon.store.close()
    return fenced


async def test_a_stopped_node_stops_its_pods_then_the_api(tmp_path: Path) -> None:
    done: list[str] = []
    assert await stop(daemon(tmp_path, done), done, lost=False) is None
    assert done[:2] == ["cancelled agent", "stop pods"]
    assert done.index("stop pods") < done.index("API stopped")
    # Open watch streams end first, or the API's shutdown would wait on their clients.
    assert done.index("watches closed") < done.index("API stopped")
    # Started after the API, stopped before it.
    assert done.index("Kubernetes API stopped") < done.index("API stopped")
    assert "cancelled replacer" in done
    assert done[-1] == "cancelled keeper"  # the lease is kept until the API has stopped


async def test_a_node_that_lost_its_lease_fences(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    done: list[str] = []
    node = daemon(tmp_path, done)
    node.membership.begin_term()
    monkeypatch.setattr(type(node.membership), "silent_for", property(lambda _: 6.0))
    fencings = REGISTRY.get_sample_value("ozy_node_fencings_total") or 0.0
    with caplog.at_level(logging.ERROR, logger=node_module.__name__):
        fenced = await stop(node, done, lost=True)
    assert REGISTRY.get_sample_value("ozy_node_fencings_total") == fencings + 1
    assert fenced == (
        "node n1 fenced: no lease refresh for 6.0s, so it stopped its 2 pod(s) "
        "and rejoined as a new node"
    )
    assert done[:4] == ["cancelled agent", "remove a", "remove b", "remove volumes"]
    assert done.index("remove volumes") < done.index("API stopped")
    assert "cancelled replacer" in done
    assert done[-1] == "cancelled keeper"
    assert "FENCING: no lease refresh for 6.0s" in caplog.text
