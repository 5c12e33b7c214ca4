"""The CLI's client for a node's HTTP API: requests in, JSON or a clear error out."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx

from ozymandias.api.paging import CONTINUE_HEADER
from ozymandias.client_config import CACERT_ENV, CLIENT_CERT_ENV, CLIENT_KEY_ENV, token_file
from ozymandias.tls.contexts import ClientTls, client_context

DEFAULT_API = "http://127.0.0.1:7070"


class ApiError(Exception):
    """The API refused a request (a problem+json answer) or could not be reached."""

    def __init__(self, message: str, problem: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.problem = problem or {}


class ApiClient:
    """`token`: the bearer secret sent with every request; `tls`: for an https:// API, the CA
    that signed its certificate (default: the system's CAs) and a client certificate, if the
    API requires one."""

    def __init__(
        self,
        base_url: str,
        timeout: float = 30.0,
        *,
        token: str | None = None,
        tls: ClientTls | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        headers = {"authorization": f"Bearer {token}"} if token else {}
        try:
            verify = client_context(tls or ClientTls())
        except ValueError as error:
            raise ApiError(str(error)) from None
        self._http = httpx.Client(
            base_url=self.base_url, timeout=timeout, headers=headers, verify=verify
        )
        self._has_token = bool(token)
        self._shows_certificate = tls is not None and tls.cert is not None

    def close(self) -> None:
        self._http.close()

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        return self._send(method, path, **kwargs).json()

    def list_pages(self, path: str, params: dict[str, str], chunk_size: int) -> Iterator[Any]:
        """Each page of a list of `chunk_size` items at most (the API's `limit`), following
        its `X-Continue` header until the last, as kubectl's --chunk-size does."""
        token: str | None = None
        while True:
            paged = {**params, "limit": str(chunk_size)}
            response = self._send(
                "GET", path, params={**paged, "continue": token} if token else paged
            )
            yield response.json()
            token = response.headers.get(CONTINUE_HEADER)
            if not token:
                return

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.ConnectError as error:
            raise ApiError(
                self._tls_hint(error)
                or f"cannot reach the Ozymandias API at {self.base_url}: is a node running? "
                "Start one with `ozy up --detach`, or point --api / OZY_API at a node."
            ) from None
        except httpx.HTTPError as error:
            raise ApiError(
                self._tls_hint(error) or f"request to {self.base_url}{path} failed: {error}"
            ) from None
        if response.is_error:
            raise self._error_from(response)
        return response

    def stream_text(
        self,
        path: str,
        params: dict[str, Any],
        headers: dict[str, str] | None = None,
        read_timeout: float | None = None,
    ) -> Iterator[str]:
        """The answer's text as it comes; `read_timeout`: the longest silence taken for a
        live connection (None: any)."""
        timeout = httpx.Timeout(self._http.timeout.connect, read=read_timeout)
        try:
            with self._http.stream(
                "GET", path, params=params, headers=headers, timeout=timeout
            ) as response:
                if response.is_error:
                    response.read()
                    raise self._error_from(response)
                yield from response.iter_text()
        except httpx.ConnectError as error:
            raise ApiError(
                self._tls_hint(error) or f"cannot reach the Ozymandias API at {self.base_url}"
            ) from None
        except httpx.TransportError as error:  # once the stream had begun
            raise ApiError(f"the stream from {self.base_url} broke off: {error!r}") from None

    def stream_json_lines(self, path: str, body: dict[str, Any]) -> Iterator[Any]:
        """POST `body` and read the answer's JSON lines as they come (`ozy exec`)."""
        try:
            with self._http.stream("POST", path, json=body, timeout=None) as response:
                if response.is_error:
                    response.read()
                    raise self._error_from(response)
                for line in response.iter_lines():
                    if line:
                        yield json.loads(line)
        except httpx.ConnectError as error:
            raise ApiError(
                self._tls_hint(error) or f"cannot reach the Ozymandias API at {self.base_url}"
            ) from None
        except httpx.HTTPError as error:
            raise ApiError(f"the answer of {self.base_url}{path} broke off: {error}") from None

    def _tls_hint(self, error: httpx.HTTPError) -> str | None:
        """What to do about a failed TLS handshake, told apart by OpenSSL's reason; None if
        `error` is not one."""
        reason = str(error)
        at = f"the API at {self.base_url}"
        if "CERTIFICATE_VERIFY_FAILED" in reason:
            return (
                f"{at} shows a certificate this client does not trust ({reason}): pass the "
                f"cluster's CA with --ca FILE or {CACERT_ENV}"
            )
        if "WRONG_VERSION_NUMBER" in reason or "RECORD_LAYER_FAILURE" in reason:
            return f"{at} does not speak TLS: is it http:// rather than https://?"
        if not isinstance(error, httpx.RemoteProtocolError):
            return None
        if self.base_url.startswith("http://"):
            return f"{at} closed the connection: if it serves HTTPS, use an https:// URL"
        # With TLS 1.3 a server checks the client's certificate after the client has
        # finished its handshake: a refusal reaches the client as a closed connection.
        if self._shows_certificate:
            return (
                f"{at} closed the connection at once: it may refuse this client certificate "
                "(is it signed by the cluster's CA?)"
            )
        return (
            f"{at} closed the connection at once: it may require a client certificate; pass "
            f"--client-cert and --client-key (or {CLIENT_CERT_ENV} and {CLIENT_KEY_ENV})"
        )

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
