"""A throwaway kube API for kubectl: discovery, our OpenAPI v2 document, and a
Deployment store that records what kubectl sends.

Only for checking the OpenAPI document with the real kubectl independently of
the node's kube API: what kubectl validates, explains, and how it builds its
patches, depends on the document alone.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from ozymandias.kube import openapi_v2

_DEPLOYMENTS = "/apis/apps/v1/namespaces/default/deployments"


def _resources(*items: tuple[str, bool, str, list[str]]) -> list[dict[str, Any]]:
    return [
        {"name": name, "singularName": "", "namespaced": namespaced, "kind": kind, "verbs": verbs}
        for name, namespaced, kind, verbs in items
    ]


DISCOVERY: dict[str, Any] = {
    "/version": {"major": "1", "minor": "32", "gitVersion": "v1.32.0", "platform": "linux/amd64"},
    "/api": {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []},
    "/apis": {"kind": "APIGroupList", "apiVersion": "v1", "groups": [{
        "name": "apps", "versions": [{"groupVersion": "apps/v1", "version": "v1"}],
        "preferredVersion": {"groupVersion": "apps/v1", "version": "v1"},
    }]},
    "/api/v1": {"kind": "APIResourceList", "groupVersion": "v1", "resources": _resources(
        ("pods", True, "Pod", ["get", "list", "delete", "watch"]),
        ("nodes", False, "Node", ["get", "list", "patch", "watch"]),
    )},
    "/apis/apps/v1": {"kind": "APIResourceList", "groupVersion": "apps/v1", "resources": _resources(
        ("deployments", True, "Deployment",
         ["create", "delete", "get", "list", "patch", "update", "watch"]),
    )},
}


@dataclass
class Request:
    method: str
    path: str
    content_type: str
    body: bytes


@dataclass
class Stub:
    url: str
    requests: list[Request] = field(default_factory=list)
    deployments: dict[str, dict[str, Any]] = field(default_factory=dict)

    def kubeconfig(self, directory: Path) -> Path:
        path = directory / "kubeconfig"
        path.write_text(json.dumps({
            "apiVersion": "v1", "kind": "Config", "current-context": "stub",
            "clusters": [{"name": "stub", "cluster": {"server": self.url}}],
            "users": [{"name": "stub", "user": {"token": "stub"}}],
            "contexts": [{"name": "stub",
                          "context": {"cluster": "stub", "user": "stub", "namespace": "default"}}],
        }))
        return path

    def sent(self, method: str) -> list[Request]:
        return [request for request in self.requests if request.method == method]


def _handler(stub: Stub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _answer(self, code: int, body: bytes, content_type: str = "application/json") -> None:
            self.send_response(code)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _not_found(self) -> None:
            status = {"kind": "Status", "apiVersion": "v1", "status": "Failure",
                      "reason": "NotFound", "code": 404, "message": "not found"}
            self._answer(404, json.dumps(status).encode())

        def _record(self) -> bytes:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            stub.requests.append(Request(self.command, self.path,
                                         self.headers.get("Content-Type") or "", body))
            return body

        def do_GET(self) -> None:
            self._record()
            path = self.path.split("?")[0]
            accept = self.headers.get("Accept") or ""
            if path == "/openapi/v2" and "protobuf" in accept:
                self._answer(200, openapi_v2.document(), openapi_v2.PROTOBUF_CONTENT_TYPE)
            elif path == "/openapi/v2":
                self._answer(200, json.dumps(openapi_v2.document_json()).encode())
            elif path in DISCOVERY:
                self._answer(200, json.dumps(DISCOVERY[path]).encode())
            elif path.startswith(f"{_DEPLOYMENTS}/") and path.split("/")[-1] in stub.deployments:
                self._answer(200, json.dumps(stub.deployments[path.split("/")[-1]]).encode())
            else:
                self._not_found()

        def do_POST(self) -> None:
            obj = json.loads(self._record())
            obj["metadata"].update(uid="0", resourceVersion="1", generation=1)
            if "dryRun=All" not in self.path:
                stub.deployments[obj["metadata"]["name"]] = obj
            self._answer(201, json.dumps(obj).encode())

        def do_PATCH(self) -> None:
            self._record()
            name = self.path.split("?")[0].split("/")[-1]
            if name not in stub.deployments:
                self._not_found()
                return
            self._answer(200, json.dumps(stub.deployments[name]).encode())

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: the test reads `requests` instead."""

    return Handler


@contextmanager
def running() -> Iterator[Stub]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    stub = Stub(url=f"http://127.0.0.1:{server.server_address[1]}")
    server.RequestHandlerClass = _handler(stub)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield stub
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
