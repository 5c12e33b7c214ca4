"""The CLI's client for a node's HTTP API: requests in, JSON or a clear error out."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from ozymandias.client_config import token_file

DEFAULT_API = "http://127.0.0.1:7070"


class ApiError(Exception):
    """The API refused a request (a problem+json answer) or could not be reached."""

    def __init__(self, message: str, problem: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.problem = problem or {}


class ApiClient:
    """`token`: the bearer secret sent with every request; `ca`: the CA that signed the API's
    certificate, for an https:// API (default: the system's CAs)."""

    def __init__(
        self,
        base_url: str,
        timeout: float = 30.0,
        *,
        token: str | None = None,
        ca: Path | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        headers = {"authorization": f"Bearer {token}"} if token else {}
        verify: ssl.SSLContext | bool = True
        if ca is not None:
            try:
                verify = ssl.create_default_context(cafile=str(ca))
            except (OSError, ssl.SSLError) as error:
                raise ApiError(f"cannot use --cacert {ca}: {error}") from None
        self._http = httpx.Client(
            base_url=self.base_url, timeout=timeout, headers=headers, verify=verify
        )
        self._has_token = bool(token)

    def close(self) -> None:
        self._http.close()

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.ConnectError:
            raise ApiError(
                f"cannot reach the Ozymandias API at {self.base_url}: is a node running? "
                "Start one with `ozy up --detach`, or point --api / OZY_API at a node."
            ) from None
        except httpx.HTTPError as error:
            raise ApiError(f"request to {self.base_url}{path} failed: {error}") from None
        if response.is_error:
            raise self._error_from(response)
        return response.json()

    def stream_text(self, path: str, params: dict[str, Any]) -> Iterator[str]:
        try:
            with self._http.stream("GET", path, params=params, timeout=None) as response:
                if response.is_error:
                    response.read()
                    raise self._error_from(response)
                yield from response.iter_text()
        except httpx.ConnectError:
            raise ApiError(f"cannot reach the Ozymandias API at {self.base_url}") from None

    def _error_from(self, response: httpx.Response) -> ApiError:
        error = _error_from(response)
        if response.status_code == 401 and not self._has_token:
            return ApiError(
                "this API needs a token, and none was found: pass --token, set OZY_TOKEN, "
                f"or run `ozy up`, which writes {token_file()}",
                error.problem,
            )
        return error


def _error_from(response: httpx.Response) -> ApiError:
    try:
        problem = response.json()
    except ValueError:
        return ApiError(f"HTTP {response.status_code}: {response.text.strip()}")
    if not isinstance(problem, dict):
        return ApiError(f"HTTP {response.status_code}: {problem}")
    title = problem.get("title", f"HTTP {response.status_code}")
    detail = problem.get("detail", "")
    return ApiError(f"{title}: {detail}" if detail else str(title), problem)
