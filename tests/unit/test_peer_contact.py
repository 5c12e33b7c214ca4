"""Node to node (api/peer.py): the etcd-contact route, and asking peers whether they lost etcd."""

from __future__ import annotations

from typing import Any, cast

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from ozymandias.api.auth import Authentication, Guard
from ozymandias.api.peer import ETCD_CONTACT_PATH, PeerContact, etcd_contact_router
from ozymandias.api.peer_link import PeerLink
from ozymandias.cluster.records import AclToken, Node, Resources
from ozymandias.store.mirror import Mirror

PEER_SECRET = "p" * 43


class Contact:
    silent_for = 2.5


def test_the_route_says_how_long_the_node_has_been_without_etcd() -> None:
    app = FastAPI()
    app.include_router(etcd_contact_router("n1", Contact()))
    guard = Guard(
        Mirror(cast(Any, None), b"/ozy/acl/tokens/", lambda _, raw: AclToken.from_json(raw))
    )
    guard.set_peer_secret("p" * 43)
    app.add_middleware(Authentication, guard=guard)
    reply = TestClient(app).get(
        "/v1/node/etcd-contact", headers={"authorization": "Bearer " + "p" * 43}
    )
    assert reply.status_code == 200
    assert reply.json() == {"node": "n1", "silentFor": 2.5}
    operation = app.openapi()["paths"]["/v1/node/etcd-contact"]["get"]
    assert operation["tags"] == ["node"]
    assert operation["summary"] == "Seconds since this node's lease was last refreshed"


def node(name: str) -> Node:
    return Node(
        name=name,
        address="10.0.0.1",
        api_url=f"http://{name}:7070",
        capacity=Resources(),
        started_at=0,
    )


@pytest.fixture
def peers_answer(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """What each peer host answers: a silentFor number, a status code, or an exception."""
    answers: dict[str, Any] = {}

    def handle(request: httpx.Request) -> httpx.Response:
        assert request.url.path == ETCD_CONTACT_PATH
        # Peers ask with the cluster's peer credential: the route refuses anything else.
        assert request.headers["authorization"] == f"Bearer {PEER_SECRET}"
        answer = answers[request.url.host]
        if isinstance(answer, Exception):
            raise answer
        if isinstance(answer, str):
            return httpx.Response(200, text=answer)
        return httpx.Response(200, json={"node": request.url.host, "silentFor": answer})

    real_client = httpx.AsyncClient

    def client(**options: Any) -> httpx.AsyncClient:
        return real_client(transport=httpx.MockTransport(handle), **options)

    monkeypatch.setattr(httpx, "AsyncClient", client)
    return answers


async def test_everyone_is_cut_off_when_every_peer_has_long_been_silent(
    peers_answer: dict[str, Any],
) -> None:
    peers_answer.update(b=2.5, c=3.0)  # refresh every 5/3s: 1.5 intervals is 2.5s
    contact = PeerContact(
        "a", lambda: [node("a"), node("b"), node("c")], 5 / 3, PeerLink(secret=PEER_SECRET)
    )
    assert await contact.everyone_cut_off()


@pytest.mark.parametrize(
    "c_answers",
    [
        1.0,  # reached etcd recently
        "not json",
        httpx.ConnectError("unreachable"),  # maybe across a partition, with etcd
    ],
)
async def test_one_peer_in_touch_or_silent_means_not_everyone(
    peers_answer: dict[str, Any], c_answers: Any
) -> None:
    peers_answer.update(b=9.0, c=c_answers)
    contact = PeerContact(
        "a", lambda: [node("a"), node("b"), node("c")], 5 / 3, PeerLink(secret=PEER_SECRET)
    )
    assert not await contact.everyone_cut_off()


async def test_a_node_without_peers_counts_as_everyone_cut_off() -> None:
    assert await PeerContact(
        "a", lambda: [node("a")], 1.0, PeerLink(secret=PEER_SECRET)
    ).everyone_cut_off()
