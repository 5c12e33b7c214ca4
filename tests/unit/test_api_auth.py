"""Tokens and roles (api/auth.py, acl/): who may call what, and what a refusal says."""

from __future__ import annotations

from typing import Any, cast

import pytest
from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient

from ozymandias.acl.roles import Role, allows
from ozymandias.acl.tokens import TokenIndex, new_secret, secret_hash
from ozymandias.api.auth import (
    HEALTH_PATH,
    Authentication,
    Guard,
    check_every_route_declares_a_role,
    requires,
    requires_peer,
)
from ozymandias.api.problems import Problem, handle_problem
from ozymandias.cluster.records import AclToken
from ozymandias.store.mirror import Mirror

SECRETS = {role: new_secret() for role in Role}
PEER_SECRET = new_secret()


def token(role: Role) -> AclToken:
    return AclToken(
        accessor=f"acc-{role}",
        name=f"t-{role}",
        role=role.value,
        secret_hash=secret_hash(SECRETS[role]),
        create_time=0,
    )


def tokens_mirror(tokens: list[AclToken]) -> Mirror[AclToken]:
    mirror: Mirror[AclToken] = Mirror(
        cast(Any, None), b"/ozy/acl/tokens/", lambda _, r: cast(Any, r)
    )
    mirror.items = {t.accessor.encode(): t for t in tokens}
    mirror.revision = 1
    return mirror


def app_with(mirror: Mirror[AclToken]) -> FastAPI:
    app = FastAPI()
    app.add_exception_handler(Problem, handle_problem)

    @app.get(HEALTH_PATH)
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    for role in Role:

        async def handler() -> dict[str, str]:
            return {"ok": "yes"}

        app.add_api_route(f"/{role}", handler, dependencies=[requires(role)])

    async def peer() -> dict[str, str]:
        return {"ok": "peer"}

    app.add_api_route("/peer", peer, dependencies=[requires_peer()])
    check_every_route_declares_a_role(app)
    guard = Guard(mirror)
    guard.set_peer_secret(PEER_SECRET)
    app.add_middleware(Authentication, guard=guard)
    return app


@pytest.fixture
def mirror() -> Mirror[AclToken]:
    return tokens_mirror([token(role) for role in Role])


@pytest.fixture
def client(mirror: Mirror[AclToken]) -> TestClient:
    return TestClient(app_with(mirror))


def bearer(secret: str) -> dict[str, str]:
    return {"authorization": f"Bearer {secret}"}


@pytest.mark.parametrize(
    ("held", "needed", "allowed"),
    [
        (Role.READ, Role.READ, True),
        (Role.READ, Role.DEPLOY, False),
        (Role.READ, Role.ADMIN, False),
        (Role.DEPLOY, Role.READ, True),
        (Role.DEPLOY, Role.DEPLOY, True),
        (Role.DEPLOY, Role.ADMIN, False),
        (Role.ADMIN, Role.READ, True),
        (Role.ADMIN, Role.DEPLOY, True),
        (Role.ADMIN, Role.ADMIN, True),
    ],
)
def test_each_role_allows_what_the_one_below_does(held: Role, needed: Role, allowed: bool) -> None:
    assert allows(held, needed) is allowed


@pytest.mark.parametrize("held", list(Role))
@pytest.mark.parametrize("needed", list(Role))
def test_a_route_answers_a_token_of_its_role_or_above_and_403s_the_rest(
    client: TestClient, held: Role, needed: Role
) -> None:
    reply = client.get(f"/{needed}", headers=bearer(SECRETS[held]))
    if allows(held, needed):
        assert reply.status_code == 200
    else:
        assert reply.status_code == 403
        assert reply.headers["content-type"] == "application/problem+json"
        assert reply.json()["type"].endswith("#forbidden")


@pytest.mark.parametrize(
    "headers",
    [
        {},
        bearer("not-a-token"),
        {"authorization": "Basic dXNlcjpwYXNz"},
        {"authorization": "Bearer"},
    ],
)
@pytest.mark.parametrize("path", ["/read", "/admin", "/peer", "/no-such-path"])
def test_without_a_known_token_every_path_is_401_whether_or_not_it_exists(
    client: TestClient, headers: dict[str, str], path: str
) -> None:
    reply = client.get(path, headers=headers)
    assert reply.status_code == 401
    assert reply.json()["type"].endswith("#unauthorized")
    assert reply.headers["www-authenticate"].startswith("Bearer")


def test_the_health_check_needs_no_token(client: TestClient) -> None:
    assert client.get(HEALTH_PATH).status_code == 200


def test_the_peer_route_takes_only_the_peers_credential_which_opens_nothing_else(
    client: TestClient,
) -> None:
    assert client.get("/peer", headers=bearer(PEER_SECRET)).status_code == 200
    assert client.get("/peer", headers=bearer(SECRETS[Role.ADMIN])).status_code == 403
    for role in Role:
        assert client.get(f"/{role}", headers=bearer(PEER_SECRET)).status_code == 403


def test_a_revoked_token_is_refused_as_soon_as_the_mirror_drops_it(
    client: TestClient, mirror: Mirror[AclToken]
) -> None:
    assert client.get("/read", headers=bearer(SECRETS[Role.READ])).status_code == 200
    del mirror.items[b"acc-read"]
    mirror.revision += 1
    assert client.get("/read", headers=bearer(SECRETS[Role.READ])).status_code == 401


@pytest.mark.parametrize("included", [False, True], ids=["on the app", "in a router"])
def test_a_route_without_a_role_is_a_startup_error(included: bool) -> None:
    app = FastAPI()
    router = APIRouter() if included else app.router

    @router.get("/forgotten")
    async def forgotten() -> None:
        return None

    if included:
        app.include_router(router)
    with pytest.raises(RuntimeError, match="/forgotten must declare exactly one role"):
        check_every_route_declares_a_role(app)


def test_tokens_are_found_by_the_hash_of_their_secret_only() -> None:
    index = TokenIndex([token(Role.READ)])
    found = index.find(SECRETS[Role.READ])
    assert found is not None and found.role == "read"
    assert index.find(secret_hash(SECRETS[Role.READ])) is None
    assert SECRETS[Role.READ] not in token(Role.READ).model_dump_json()
