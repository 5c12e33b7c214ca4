"""A client sending requests through a node's ingress while a test changes the cluster."""

from __future__ import annotations

import threading
import time

import httpx

from tests.support.nodes import NodeProcess
from tests.support.waiting import wait_until


class ClientLoop:
    """GETs through a node's ingress, one after another, on a thread, noting failures.

    It sends `requests` of them, or, with None, keeps sending until the block ends.
    """

    def __init__(self, node: NodeProcess, host: str, requests: int | None) -> None:
        self.failures: list[str] = []
        self.done = 0
        self._url = f"http://127.0.0.1:{node.ingress_port}/"
        self._host = host
        self._requests = requests
        self._stop = threading.Event()
        # A daemon thread, and stopped when the block fails to start: a loop left
        # running once kept pytest from exiting after the last test.
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> ClientLoop:
        self._thread.start()
        try:
            wait_until(lambda: self.done >= 50, what="the client loop to get going")
        except AssertionError as error:
            self._stop.set()
            self._thread.join(30)
            raise AssertionError(
                f"{error}: {self.done} requests done, the last failures: {self.failures[-3:]}"
            ) from None
        return self

    def __exit__(self, *_: object) -> None:
        if self._requests is None:
            self._stop.set()
        self._thread.join(180)

    def _run(self) -> None:
        with httpx.Client(timeout=10, headers={"host": self._host}) as http:
            while not self._stop.is_set() and (
                self._requests is None or self.done < self._requests
            ):
                try:
                    response = http.get(self._url)
                    if response.status_code != 200:
                        self.failures.append(
                            f"{time.time():.3f} HTTP {response.status_code}: {response.text}"
                        )
                except httpx.HTTPError as error:
                    self.failures.append(f"{time.time():.3f} {error!r}")
                self.done += 1
