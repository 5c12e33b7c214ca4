"""A thin, typed layer over the aetcd client.

It exists so the rest of the store speaks in a handful of plain operations
(scan, put, delete, transaction, watch) and one error type, and so that the
watch resume logic aetcd lacks lives in exactly one place.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

import aetcd
import aetcd.exceptions
import grpc
from aetcd import rpc

from ozymandias.store.keys import prefix_end

log = logging.getLogger(__name__)

# How long one etcd request may take before we call etcd unreachable. Long
# enough for a loaded etcd under a big commit, short enough that a node
# notices a partition well within its lease TTL.
REQUEST_TIMEOUT_SECONDS = 5

# gRPC's default 4 MiB receive limit is too small for scans of big clusters.
# gRPC's reconnect back-off grows to 120 s, so after a long etcd outage a
# client would stay blind for up to two minutes after etcd is back; retrying
# the connection every second at worst costs nothing.
_CHANNEL_OPTIONS = {
    "grpc.max_receive_message_length": 256 * 1024 * 1024,
    "grpc.max_send_message_length": 64 * 1024 * 1024,
    "grpc.max_reconnect_backoff_ms": 1000,
}


class StoreUnavailable(Exception):
    """etcd could not be reached, or did not answer in time."""


class CommitOutcomeUnknown(StoreUnavailable):
    """A transaction was sent but no answer came back: it may or may not have applied."""


@dataclass(frozen=True, slots=True)
class KeyValue:
    key: bytes
    value: bytes
    mod_revision: int
    lease: int


@dataclass(frozen=True, slots=True)
class WatchEvent:
    key: bytes
    value: bytes | None  # None for a delete
    mod_revision: int


@dataclass(frozen=True, slots=True)
class Put:
    key: bytes
    value: bytes
    lease: int | None = None


@dataclass(frozen=True, slots=True)
class Delete:
    key: bytes
    prefix: bool = False


@dataclass(frozen=True, slots=True)
class Unchanged:
    """A transaction guard: the key's mod_revision is still `mod_revision` (0 = absent)."""

    key: bytes
    mod_revision: int


@dataclass(frozen=True, slots=True)
class Exists:
    """A transaction guard: the key is present."""

    key: bytes


Guard = Unchanged | Exists
Operation = Put | Delete


def parse_endpoint(url: str) -> tuple[str, int]:
    """`http://127.0.0.1:2379` -> ("127.0.0.1", 2379)."""
    parsed = urlparse(url if "://" in url else f"http://{url}")
    if not parsed.hostname:
        raise ValueError(f"{url!r} is not an etcd endpoint like http://127.0.0.1:2379")
    return parsed.hostname, parsed.port or 2379


def parse_endpoints(urls: str) -> list[tuple[str, int]]:
    """`http://a:2379,http://b:2379` -> [("a", 2379), ("b", 2379)]: the members of one cluster."""
    endpoints = [parse_endpoint(url.strip()) for url in urls.split(",") if url.strip()]
    if not endpoints:
        raise ValueError("no etcd endpoint given")
    return endpoints


def _dial_target(endpoints: list[tuple[str, int]]) -> tuple[str, int]:
    """The (host, port) to give aetcd so that its channel dials every member.

    aetcd dials f"{host}:{port}". gRPC's `ipv4:` scheme takes a list of
    addresses, so for several members the "host" is that list minus the last
    port; with round-robin balancing, requests move to the members that
    answer, and a member that dies costs no more than the requests in flight.
    """
    if len(endpoints) == 1:
        return endpoints[0]
    addresses = [f"{socket.gethostbyname(host)}:{port}" for host, port in endpoints]
    last_host, last_port = addresses[-1].rsplit(":", 1)
    return "ipv4:" + ",".join([*addresses[:-1], last_host]), int(last_port)


@dataclass(frozen=True, slots=True)
class TransactionOutcome:
    applied: bool
    revision: int  # the store revision after the transaction (its own, if it applied)


def _compare_message(guard: Guard) -> Any:
    if isinstance(guard, Unchanged):
        return rpc.Compare(
            key=guard.key,
            result=rpc.Compare.EQUAL,
            target=rpc.Compare.MOD,
            mod_revision=guard.mod_revision,
        )
    return rpc.Compare(
        key=guard.key, result=rpc.Compare.GREATER, target=rpc.Compare.VERSION, version=0
    )


def _operation_message(operation: Operation) -> Any:
    if isinstance(operation, Put):
        return rpc.RequestOp(
            request_put=rpc.PutRequest(
                key=operation.key, value=operation.value, lease=operation.lease or 0
            )
        )
    range_end = prefix_end(operation.key) if operation.prefix else b""
    return rpc.RequestOp(
        request_delete_range=rpc.DeleteRangeRequest(key=operation.key, range_end=range_end)
    )


class Etcd:
    """One connection to an etcd cluster: `endpoint` is one client URL, or several joined by ","."""

    def __init__(self, endpoint: str, *, timeout: int = REQUEST_TIMEOUT_SECONDS) -> None:
        endpoints = parse_endpoints(endpoint)
        host, port = _dial_target(endpoints)
        options: dict[str, Any] = dict(_CHANNEL_OPTIONS)
        if len(endpoints) > 1:
            options["grpc.lb_policy_name"] = "round_robin"
        self.endpoint = endpoint
        self._timeout = timeout
        self._client = aetcd.Client(host=host, port=port, timeout=timeout, options=options)

    async def close(self) -> None:
        await self._client.close()

    async def get(self, key: bytes) -> KeyValue | None:
        with _translated_errors():
            result = await self._client.get(key)
        if result is None:
            return None
        return KeyValue(result.key, result.value, result.mod_revision, result.lease)

    async def scan(self, prefix: bytes) -> tuple[int, list[KeyValue]]:
        """Every key under `prefix`, read at one revision, and that revision."""
        with _translated_errors():
            result = await self._client.get_prefix(prefix)
        pairs = [KeyValue(kv.key, kv.value, kv.mod_revision, kv.lease) for kv in result]
        return int(result.header.revision), pairs

    async def put(self, key: bytes, value: bytes, *, lease: int | None = None) -> int:
        """Write one key; returns the revision of the write."""
        with _translated_errors():
            result = await self._client.put(key, value, lease=lease)
        return int(result.header.revision)

    async def delete(self, key: bytes) -> None:
        with _translated_errors():
            await self._client.delete(key)

    async def delete_prefix(self, prefix: bytes) -> None:
        with _translated_errors():
            await self._client.delete_prefix(prefix)

    async def transaction(
        self, guards: Sequence[Guard], operations: Sequence[Operation]
    ) -> TransactionOutcome:
        """Apply `operations` atomically if every guard holds. Sent exactly once.

        Raises CommitOutcomeUnknown if the request may have reached etcd but
        no answer came back: the caller must re-read to learn the outcome,
        never blindly resend.
        """
        request = rpc.TxnRequest(
            compare=[_compare_message(guard) for guard in guards],
            success=[_operation_message(operation) for operation in operations],
        )
        try:
            response = await self._txn(request)
        except grpc.aio.AioRpcError as error:
            if error.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
                raise CommitOutcomeUnknown(
                    f"etcd did not answer a commit: {error.details()}"
                ) from error
            raise StoreUnavailable(f"etcd refused a commit: {error.details()}") from error
        return TransactionOutcome(bool(response.succeeded), int(response.header.revision))

    async def read_ranges(self, ranges: Sequence[bytes]) -> tuple[int, list[list[KeyValue]]]:
        """Read several keys and prefixes (ending in "/") at one revision."""
        request = rpc.TxnRequest(
            success=[
                rpc.RequestOp(
                    request_range=rpc.RangeRequest(
                        key=key, range_end=prefix_end(key) if key.endswith(b"/") else b""
                    )
                )
                for key in ranges
            ]
        )
        try:
            response = await self._txn(request)
        except grpc.aio.AioRpcError as error:
            raise StoreUnavailable(f"etcd read failed: {error.details()}") from error
        results = [
            [
                KeyValue(kv.key, kv.value, kv.mod_revision, kv.lease)
                for kv in reply.response_range.kvs
            ]
            for reply in response.responses
        ]
        return int(response.header.revision), results

    async def _txn(self, request: Any) -> Any:
        with _translated_errors():
            await self._client.connect()
        return await self._client.kvstub.Txn(
            request, timeout=self._timeout, metadata=self._client.metadata
        )

    async def grant_lease(self, ttl: int) -> int:
        with _translated_errors():
            lease = await self._client.lease(ttl)
        return int(lease.id)

    async def lease_time_left(self, lease_id: int) -> int:
        """Seconds the lease has left; -1 if it has expired or never existed."""
        with _translated_errors():
            info = await self._client.get_lease_info(lease_id, keys=False)
        return int(info.TTL)

    async def refresh_lease(self, lease_id: int) -> int:
        """Keep a lease alive; returns the TTL it was refreshed to (<= 0 if it has expired)."""
        with _translated_errors():
            reply = await self._client.refresh_lease(lease_id)
        return int(reply.TTL) if reply is not None else 0

    async def revoke_lease(self, lease_id: int) -> None:
        with _translated_errors():
            await self._client.revoke_lease(lease_id)

    async def watch_prefix(self, prefix: bytes, start_revision: int) -> AsyncIterator[WatchEvent]:
        """Changes under `prefix` from `start_revision` on, until the stream breaks.

        Raises RevisionCompacted if `start_revision` has been compacted away,
        and StoreUnavailable when the stream breaks (aetcd does not reconnect
        watches itself; `Mirror` resumes them).
        """
        watch = None
        try:
            watch = await self._client.watch_prefix(prefix, start_revision=start_revision)
            _raise_swallowed_cancellation()
            async for event in watch:
                deleted = event.kind == "DELETE"
                yield WatchEvent(
                    event.kv.key, None if deleted else event.kv.value, event.kv.mod_revision
                )
        except aetcd.exceptions.RevisionCompactedError as error:
            raise RevisionCompacted(error.compacted_revision) from error
        except (TimeoutError, aetcd.exceptions.ClientError) as error:
            raise StoreUnavailable(f"watch on {prefix.decode()} broke: {error}") from error
        except Exception as error:
            # aetcd hands the raw gRPC error of a broken stream to the iterator.
            if type(error).__module__.startswith("grpc"):
                raise StoreUnavailable(f"watch on {prefix.decode()} broke: {error}") from error
            raise
        finally:
            # A caller that stops early (a cancelled Mirror) must end the watch:
            # aetcd keeps it open on etcd, and queues its events, until told.
            if watch is not None:
                with contextlib.suppress(Exception):
                    async with asyncio.timeout(self._timeout):
                        await watch.cancel()


class RevisionCompacted(StoreUnavailable):
    """The revision a watch wanted to resume from is gone: re-scan instead."""

    def __init__(self, compacted_revision: int) -> None:
        super().__init__(f"revision compacted up to {compacted_revision}")
        self.compacted_revision = compacted_revision


def _raise_swallowed_cancellation() -> None:
    """Stop a task whose cancellation aetcd swallowed.

    aetcd waits for a watch to be created with Python 3.11's asyncio.wait_for,
    which drops a cancellation that lands just as the wait ends. The task
    would then wait for watch events forever instead of stopping (a node's
    shutdown would hang); its pending cancellation is still counted, though.
    """
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


@contextlib.contextmanager
def _translated_errors() -> Iterator[None]:
    """Turn aetcd's and asyncio's failures into StoreUnavailable."""
    try:
        yield
    except (TimeoutError, aetcd.exceptions.ClientError) as error:
        raise StoreUnavailable(str(error) or type(error).__name__) from error
