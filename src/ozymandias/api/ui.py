"""/ui/: the dashboard's static files, served by every node without a token.

The page itself holds no data: it asks its user for a token and sends it on
every call to the API, so its files may be open (api/auth.py lets GET and
HEAD of `/ui` and `/ui/...` through, nothing else). The files are read once
from the package and served from memory, only those that exist (no path is
ever joined to the file system), each with a strong ETag so a reload costs
a 304. The Content-Security-Policy allows scripts, styles and calls from this
origin only and no inline script, so even a cluster object whose name or log
line held markup could not run code in the page.
"""

from __future__ import annotations

import hashlib
import mimetypes
from dataclasses import dataclass
from importlib import resources

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from ozymandias.api.problems import Problem

UI_PATH = "/ui"
INDEX = "index.html"
_TYPES = {
    ".js": "text/javascript",
    ".css": "text/css",
    ".html": "text/html",
    ".svg": "image/svg+xml",
}

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
        "img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    # Revalidate every time (the ETag makes that a 304): a node upgraded under an open
    # page must not serve it yesterday's script beside today's API.
    "Cache-Control": "no-cache",
}


@dataclass(frozen=True)
class StaticFile:
    body: bytes
    media_type: str
    etag: str


def load_files() -> dict[str, StaticFile]:
    """Every file of the package's `ui/` folder, by name."""
    files: dict[str, StaticFile] = {}
    for entry in resources.files("ozymandias").joinpath("ui").iterdir():
        if not entry.is_file() or entry.name.startswith("."):
            continue
        body = entry.read_bytes()
        suffix = "." + entry.name.rpartition(".")[2]
        media_type = _TYPES.get(suffix) or mimetypes.guess_type(entry.name)[0] or "text/plain"
        etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
        files[entry.name] = StaticFile(body, media_type, etag)
    return files


def ui_routes() -> list[BaseRoute]:
    """The routes (plain Starlette ones: no API operation, so not in /openapi.json)."""
    files = load_files()

    async def redirect(_: Request) -> Response:
        return RedirectResponse(UI_PATH + "/", status_code=308, headers=SECURITY_HEADERS)

    async def serve(request: Request) -> Response:
        name = request.path_params["name"] or INDEX
        found = files.get(name)
        if found is None:
            raise Problem(404, "not-found", "Not found", f"the dashboard has no file {name!r}")
        headers = {**SECURITY_HEADERS, "ETag": found.etag}
        if found.etag in request.headers.get("if-none-match", ""):
            return Response(status_code=304, headers=headers)
        return Response(found.body, media_type=found.media_type, headers=headers)

    return [
        Route(UI_PATH, redirect, methods=["GET", "HEAD"]),
        Route(UI_PATH + "/{name:path}", serve, methods=["GET", "HEAD"]),
    ]


def is_ui_request(method: str, path: str) -> bool:
    """A request for the dashboard's files: open to anyone (see the module's docstring)."""
    return method in {"GET", "HEAD"} and (path == UI_PATH or path.startswith(UI_PATH + "/"))
