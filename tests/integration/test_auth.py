"""Tokens and roles on live nodes: the role matrix from the OpenAPI document, peers, revocation.

Every operation the node's own /openapi.json lists is called with no token
and with a token of each role, so a new endpoint is in the matrix the moment
it is in the document (and tests/unit/test_openapi.py checks each declared
role against the one the README promises).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from ozymandias.acl.roles import Role
from ozymandias.acl.tokens import make_token, new_secret
from ozymandias.client_config import TOKEN_ENV
from ozymandias.store.acl_store import AclStore
from ozymandias.store.etcd import Etcd
from tests.support.auth import bearer
from tests.support.etcd import EtcdServer
from tests.support.jobs import web_job
from tests.support.nodes import NodeFactory, NodeProcess
from tests.support.waiting import wait_until

RANK = {"read": 0, "deploy": 1, "admin": 2}


def made_token(node: NodeProcess, name: str, role: str) -> dict[str, Any]:
    reply = node.request("POST", "/v1/acl/tokens", json={"name": name, "role": role})
    assert reply.status_code == 201, reply.text
    return dict(reply.json())


def call(node: NodeProcess, method: str, path: str, secret: str | None) -> httpx.Response:
    headers = bearer(secret) if secret is not None else {}
    body: dict[str, Any] | None = {} if method in ("put", "post") else None
    return httpx.request(method, f"{node.api}{path}", headers=headers, timeout=30, json=body)


def test_every_operation_answers_each_role_as_the_document_declares(
    make_node: NodeFactory,
) -> None:
    node = make_node("auth1")
    secrets: dict[str, str | None] = {
        "none": None,
        "read": made_token(node, "matrix-read", "read")["secret"],
        "deploy": made_token(node, "matrix-deploy", "deploy")["secret"],
        "admin": bearer()["authorization"].removeprefix("Bearer "),
    }
    document = node.request("GET", "/openapi.json").json()
    checked = 0
    for template, operations in document["paths"].items():
        # Names nothing holds: an allowed call may answer 404 or 422, never 401 or 403.
        path = re.sub(r"\{[^}]+\}", "nothing-here", template)
        for method, operation in operations.items():
            needed = operation["x-ozy-role"]
            for who, secret in secrets.items():
                status = call(node, method, path, secret).status_code
                where = f"{method.upper()} {template} as {who}: {status}"
                if needed == "none":
                    assert status not in (401, 403), where
                elif secret is None:
                    assert status == 401, where
                elif needed == "peer" or RANK[who] < RANK[needed]:
                    assert status == 403, where
                else:
                    assert status not in (401, 403), where
                checked += 1
    assert checked >= 4 * 25


def test_a_refusal_does_not_tell_whether_the_object_exists(make_node: NodeFactory) -> None:
    node = make_node("auth2")
    assert node.apply(web_job("present", 0)).status_code == 201
    reader = made_token(node, "exists-read", "read")["secret"]
    for secret, status in ((None, 401), (reader, 403)):
        there = call(node, "delete", "/v1/jobs/present", secret)
        absent = call(node, "delete", "/v1/jobs/absent", secret)
        assert there.status_code == absent.status_code == status
        assert there.json() == absent.json()
    # A deploy token may delete a job, but purging its volumes is an admin's call.
    deployer = made_token(node, "exists-deploy", "deploy")["secret"]
    purge = httpx.delete(
        f"{node.api}/v1/jobs/present",
        params={"purgeVolumes": "true"},
        headers=bearer(deployer),
        timeout=30,
    )
    assert purge.status_code == 403 and "admin" in purge.json()["detail"]
    assert node.request("GET", "/v1/jobs/present").status_code == 200  # nothing was deleted


def test_the_peer_route_refuses_an_admin_and_answers_a_peer(
    make_node: NodeFactory, etcd: EtcdServer
) -> None:
    node = make_node("auth3")
    contact = "/v1/node/etcd-contact"
    assert node.request("GET", contact).status_code == 403  # the admin token
    peer = etcd.get_json("/ozy/acl/peer")["secret"]
    reply = httpx.get(f"{node.api}{contact}", headers=bearer(peer), timeout=30)
    assert reply.status_code == 200 and reply.json()["node"] == "auth3"
    # And the peers' credential opens nothing else.
    assert httpx.get(f"{node.api}/v1/jobs", headers=bearer(peer), timeout=30).status_code == 403


def test_a_token_revoked_on_one_node_is_refused_by_another(make_node: NodeFactory) -> None:
    first, second = make_node("auth4"), make_node("auth5")
    token = made_token(first, "revoked-soon", "deploy")

    def works_on_second() -> bool:
        return call(second, "get", "/v1/jobs", token["secret"]).status_code == 200

    wait_until(works_on_second, timeout=10, what="the new token to work on the other node")
    listed = first.request("GET", "/v1/acl/tokens").json()
    assert "revoked-soon" in {t["name"] for t in listed}
    assert all("secret" not in t and "secretHash" not in t for t in listed)

    assert first.request("DELETE", f"/v1/acl/tokens/{token['accessor']}").status_code == 200
    revoked_at = time.monotonic()
    wait_until(lambda: not works_on_second(), timeout=10, what="the other node to refuse it")
    print(f"refused on the other node {time.monotonic() - revoked_at:.3f} s after the revocation")
    assert call(first, "get", "/v1/jobs", token["secret"]).status_code == 401
    again = first.request("DELETE", f"/v1/acl/tokens/{token['accessor']}")
    assert again.status_code == 404


def test_the_bootstrap_answers_once_however_many_ask_at_once(tmp_path: Path) -> None:
    fresh = EtcdServer(tmp_path / "etcd", grant_test_admin=False)
    fresh.start()
    try:

        async def race() -> list[int | None]:
            etcd = Etcd(fresh.url)
            try:
                store = AclStore(etcd)
                tokens = [make_token("bootstrap", Role.ADMIN, new_secret()) for _ in range(5)]
                return list(await asyncio.gather(*(store.bootstrap(t) for t in tokens)))
            finally:
                await etcd.close()

        made = asyncio.run(race())
        assert len([revision for revision in made if revision is not None]) == 1
        assert len(fresh.keys("/ozy/acl/tokens/")) == 1
        again = asyncio.run(race())
        assert again == [None] * 5
    finally:
        fresh.stop()


def cli(node: NodeProcess, config: Path, *arguments: str, token: str | None) -> Any:
    """`ozy ARGUMENTS` against `node`, as a user whose only token is `token` (if any)."""
    inherited = {k: v for k, v in os.environ.items() if k != TOKEN_ENV}
    chosen = {TOKEN_ENV: token} if token is not None else {}
    return subprocess.run(
        [sys.executable, "-m", "ozymandias.cli.main", *arguments],
        capture_output=True,
        text=True,
        timeout=60,
        env={
            **inherited,
            **chosen,
            "XDG_CONFIG_HOME": str(config),
            "OZY_API": node.api,
            "COLUMNS": "200",
        },
    )


def test_tokens_from_the_cli(make_node: NodeFactory, tmp_path: Path) -> None:
    node = make_node("auth6")
    admin = bearer()["authorization"].removeprefix("Bearer ")
    made = cli(node, tmp_path, "token", "create", "--name", "ci", "--role", "read", "-o", "json",
               token=admin)  # fmt: skip
    assert made.returncode == 0, made.stderr
    token = json.loads(made.stdout)
    listed = cli(node, tmp_path, "token", "list", token=admin)
    assert "ci" in listed.stdout and token["accessor"] in listed.stdout
    assert token["secret"] not in listed.stdout

    assert cli(node, tmp_path, "get", "jobs", token=token["secret"]).returncode == 0
    spec = tmp_path / "job.yaml"
    spec.write_text(web_job("cli-refused", 0))
    refused = cli(node, tmp_path, "apply", "-f", str(spec), token=token["secret"])
    assert refused.returncode == 1 and "role deploy or above" in refused.stderr

    revoked = cli(node, tmp_path, "token", "revoke", token["accessor"], token=admin)
    assert revoked.returncode == 0, revoked.stderr
    after = cli(node, tmp_path, "get", "jobs", token=token["secret"])
    assert after.returncode == 1 and "not known to this cluster" in after.stderr

    nothing = cli(node, tmp_path, "get", "jobs", token=None)
    assert nothing.returncode == 1
    assert "none was found: pass --token, set OZY_TOKEN" in nothing.stderr
    # --token comes first, before OZY_TOKEN and the token file.
    flagged = cli(node, tmp_path, "--token", admin, "get", "jobs", token=token["secret"])
    assert flagged.returncode == 0, flagged.stderr
