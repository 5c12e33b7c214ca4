"""The dashboard's static files (api/ui.py): open to anyone, strict headers, ETags."""

from __future__ import annotations

import re
from typing import Any, cast

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from ozymandias.acl.roles import Role
from ozymandias.api.auth import Authentication, Guard, check_every_route_declares_a_role, requires
from ozymandias.api.problems import Problem, handle_problem
from ozymandias.api.ui import load_files, ui_routes
from ozymandias.cluster.records import AclToken
from ozymandias.store.mirror import Mirror


@pytest.fixture
def client() -> TestClient:
    app = FastAPI()
    app.add_exception_handler(Problem, handle_problem)

    async def nodes() -> list[str]:
        return []

    app.add_api_route("/v1/nodes", nodes, dependencies=[requires(Role.READ)])
    app.router.routes.extend(ui_routes())
    check_every_route_declares_a_role(app)
    tokens: Mirror[AclToken] = Mirror(cast(Any, None), b"/t/", lambda _, r: cast(Any, r))
    app.add_middleware(Authentication, guard=Guard(tokens))
    return TestClient(app, follow_redirects=False)


def test_the_page_and_its_files_need_no_token_and_carry_strict_headers(
    client: TestClient,
) -> None:
    page = client.get("/ui/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    assert "default-src 'none'" in policy
    assert page.headers["x-content-type-options"] == "nosniff"
    for name, kind in [("main.js", "text/javascript"), ("style.css", "text/css")]:
        reply = client.get(f"/ui/{name}")
        assert reply.status_code == 200
        assert reply.headers["content-type"].startswith(kind)
    assert client.get("/ui").headers["location"] == "/ui/"


def test_a_file_comes_with_an_etag_and_an_unchanged_one_is_a_304(client: TestClient) -> None:
    first = client.get("/ui/main.js")
    again = client.get("/ui/main.js", headers={"if-none-match": first.headers["etag"]})
    assert again.status_code == 304
    assert again.content == b""
    changed = client.get("/ui/main.js", headers={"if-none-match": '"something-else"'})
    assert changed.status_code == 200


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/ui/nope.js"),
        ("GET", "/ui/../v1/nodes"),
        ("GET", "/ui/%2e%2e/pyproject.toml"),
    ],
)
def test_only_the_dashboards_own_files_are_served(
    client: TestClient, method: str, path: str
) -> None:
    reply = client.request(method, path)
    assert reply.status_code in {401, 404}
    assert reply.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize(
    ("method", "path"), [("GET", "/v1/nodes"), ("GET", "/uix"), ("POST", "/ui/main.js")]
)
def test_nothing_but_the_files_is_open(client: TestClient, method: str, path: str) -> None:
    assert client.request(method, path).status_code == 401


def test_the_page_loads_only_files_the_node_serves() -> None:
    files = load_files()
    page = files["index.html"].body.decode()
    assert 'src="main.js"' in page and 'href="style.css"' in page
    assert "<script>" not in page  # no inline script: the policy would refuse it
    for name, file in files.items():
        if name.endswith(".js"):
            body = file.body.decode()
            # Every module import names a file that is served, and nothing comes from afar.
            modules = re.findall(r'from "([^"]+)"', body)
            assert all(module.removeprefix("./") in files for module in modules), (name, modules)
            assert "http://" not in body.replace("http://www.w3.org/2000/svg", "")
            assert "https://" not in body
    assert sum(len(file.body) for file in files.values()) < 300 * 1024
