"""A thin, typed layer over etcd's gRPC API (aetcd's generated stubs and messages).

It exists so the rest of the store speaks in a handful of plain operations
(scan, put, delete, transaction, watch) and one error type. How etcd is
reached (members, TLS, etcd's auth token) is `etcd_channel`'s; resuming
watches is `Mirror`'s.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import grpc
from aetcd import rpc

from ozymandias.metrics.etcd import REQUEST_DURATION
from ozymandias.store.etcd_channel import (
    Credentials,
    Members,
    Metadata,
    Stubs,
    channel_credentials,
    connection_plan,
)
from ozymandias.store.etcd_channel import parse_endpoints as parse_endpoints
from ozymandias.store.etcd_errors import CommitOutcomeUnknown as CommitOutcomeUnknown
from ozymandias.store.etcd_errors import EtcdAccessDenied as EtcdAccessDenied
from ozymandias.store.etcd_errors import RevisionCompacted as RevisionCompacted
from ozymandias.store.etcd_errors import StoreUnavailable as StoreUnavailable
from ozymandias.store.etcd_errors import hint, is_stale_token, says_stale_token, store_error
from ozymandias.store.keys import prefix_end
from ozymandias.tls.settings import EtcdSecurity

# How long one etcd request may take before we call etcd unreachable. Long
# enough for a loaded etcd under a big commit, short enough that a node
# notices a partition well within its lease TTL.
REQUEST_TIMEOUT_SECONDS = 5

# etcd 3.4 also cancels a new watch with "permission denied" when the
# stream's token has expired, so that refusal is worth one new token before
# it is taken for a real one.
_WATCH_PERMISSION_DENIED = "etcdserver: permission denied"

# Sends one request to the member given, with the auth metadata given.
Send = Callable[[Stubs, Metadata], Awaitable[Any]]


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
class PrefixSummary:
    """How many keys a prefix holds and its newest change, at `revision`."""

    count: int
    newest_mod_revision: int  # 0 when the prefix is empty
    revision: int


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
    """One connection to an etcd cluster: `endpoint` is one client URL, or several joined by ",".

    `security` says how: TLS files for `https://` URLs, and etcd's user if
    etcd's auth is on. Settings that contradict the URLs raise ValueError.
    """

    def __init__(
        self,
        endpoint: str,
        *,
        security: EtcdSecurity | None = None,
        timeout: int = REQUEST_TIMEOUT_SECONDS,
    ) -> None:
        self.endpoint = endpoint
        self.security = security or EtcdSecurity()
        self._plan = connection_plan(endpoint, self.security)
        self._credentials = channel_credentials(self.security) if self._plan.tls else None
        self._timeout = timeout
        self._auth = Credentials(self.security, timeout)
        # Opened on first use: gRPC's asyncio channels belong to the loop they are made on.
        self._members: Members | None = None

    def _connection(self) -> Members:
        if self._members is None:
            self._members = Members(
                self._plan.members, self._credentials, connect_seconds=self._timeout
            )
        return self._members

    async def close(self) -> None:
        members, self._members = self._members, None
        if members is not None:
            await members.close()

    async def _call(self, send: Send, operation: str) -> Any:
        """Send one request; if etcd says our token is stale, authenticate again and resend.

        Raises grpc.aio.AioRpcError (callers translate it) or StoreUnavailable.
        `operation` names the request in `ozy_etcd_request_duration_seconds`.
        """
        with REQUEST_DURATION.labels(operation).time():
            return await self._send(send)

    async def _send(self, send: Send) -> Any:
        members = self._connection()
        metadata = await self._auth.ready(members)
        try:
            return await send(await members.pick(), metadata)
        except grpc.aio.AioRpcError as error:
            if not (self._auth.enabled and is_stale_token(error)):
                raise
        metadata = await self._auth.renew(members, stale=metadata)
        return await send(await members.pick(), metadata)

    async def _ask(self, send: Send, operation: str, doing: str) -> Any:
        try:
            return await self._call(send, operation)
        except grpc.aio.AioRpcError as error:
            raise store_error(error, doing) from error

    def _unary(self, method: Callable[[Stubs], Any], request: Any) -> Send:
        def send(stubs: Stubs, metadata: Metadata) -> Awaitable[Any]:
            reply: Awaitable[Any] = method(stubs)(request, timeout=self._timeout, metadata=metadata)
            return reply

        return send

    async def get(self, key: bytes) -> KeyValue | None:
        request = rpc.RangeRequest(key=key)
        reply = await self._ask(self._unary(_range, request), "get", f"read {key.decode()}")
        if not reply.kvs:
            return None
        kv = reply.kvs[0]
        return KeyValue(kv.key, kv.value, kv.mod_revision, kv.lease)

    async def scan(self, prefix: bytes) -> tuple[int, list[KeyValue]]:
        """Every key under `prefix`, read at one revision, and that revision."""
        request = rpc.RangeRequest(key=prefix, range_end=prefix_end(prefix))
        reply = await self._ask(self._unary(_range, request), "scan", f"read {prefix.decode()}")
        pairs = [KeyValue(kv.key, kv.value, kv.mod_revision, kv.lease) for kv in reply.kvs]
        return int(reply.header.revision), pairs

    async def summarise(self, prefix: bytes) -> PrefixSummary:
        """The prefix's key count and newest mod revision, in one request (keys only, one
        key back: etcd counts the whole range however few keys it returns)."""
        request = rpc.RangeRequest(
            key=prefix,
            range_end=prefix_end(prefix),
            limit=1,
            keys_only=True,
            sort_order=rpc.RangeRequest.SortOrder.Value("DESCEND"),
            sort_target=rpc.RangeRequest.SortTarget.Value("MOD"),
        )
        reply = await self._ask(
            self._unary(_range, request), "summarise", f"count {prefix.decode()}"
        )
        newest = int(reply.kvs[0].mod_revision) if reply.kvs else 0
        return PrefixSummary(int(reply.count), newest, int(reply.header.revision))

    async def put(self, key: bytes, value: bytes, *, lease: int | None = None) -> int:
        """Write one key; returns the revision of the write."""
        request = rpc.PutRequest(key=key, value=value, lease=lease or 0)
        reply = await self._ask(
            self._unary(lambda stubs: stubs.kv.Put, request), "put", f"write {key.decode()}"
        )
        return int(reply.header.revision)

    async def delete(self, key: bytes) -> None:
        request = rpc.DeleteRangeRequest(key=key)
        await self._ask(self._unary(_delete_range, request), "delete", f"delete {key.decode()}")

    async def delete_prefix(self, prefix: bytes) -> None:
        request = rpc.DeleteRangeRequest(key=prefix, range_end=prefix_end(prefix))
        await self._ask(
            self._unary(_delete_range, request), "delete_prefix", f"delete {prefix.decode()}"
        )

    async def transaction(
        self, guards: Sequence[Guard], operations: Sequence[Operation]
    ) -> TransactionOutcome:
        """Apply `operations` atomically if every guard holds. Sent exactly once.

        Raises CommitOutcomeUnknown if the request may have reached etcd but
        no answer came back: the caller must re-read to learn the outcome,
        never blindly resend. (One refused for a stale token is resent: etcd
        refuses those before it proposes anything.)
        """
        request = rpc.TxnRequest(
            compare=[_compare_message(guard) for guard in guards],
            success=[_operation_message(operation) for operation in operations],
        )
        try:
            response = await self._call(self._unary(_txn, request), "txn")
        except grpc.aio.AioRpcError as error:
            if error.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
                raise CommitOutcomeUnknown(
                    f"etcd did not answer a commit: {error.details()}"
                ) from error
            raise store_error(error, "commit") from error
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
        response = await self._ask(self._unary(_txn, request), "read_ranges", "read")
        results = [
            [
                KeyValue(kv.key, kv.value, kv.mod_revision, kv.lease)
                for kv in reply.response_range.kvs
            ]
            for reply in response.responses
        ]
        return int(response.header.revision), results

    async def grant_lease(self, ttl: int) -> int:
        request = rpc.LeaseGrantRequest(TTL=ttl)
        reply = await self._ask(
            self._unary(lambda stubs: stubs.lease.LeaseGrant, request),
            "lease_grant",
            "grant a lease",
        )
        return int(reply.ID)

    async def lease_time_left(self, lease_id: int) -> int:
        """Seconds the lease has left; -1 if it has expired or never existed."""
        request = rpc.LeaseTimeToLiveRequest(ID=lease_id, keys=False)
        reply = await self._ask(
            self._unary(lambda stubs: stubs.lease.LeaseTimeToLive, request),
            "lease_time_to_live",
            f"read lease {lease_id:x}",
        )
        return int(reply.TTL)

    async def refresh_lease(self, lease_id: int) -> int:
        """Keep a lease alive; returns the TTL it was refreshed to (<= 0 if it has expired)."""

        async def send(stubs: Stubs, metadata: Metadata) -> Any:
            # etcd's keep-alive is a stream: one request, one answer, then hang up.
            call = stubs.lease.LeaseKeepAlive(timeout=self._timeout, metadata=metadata)
            try:
                await call.write(rpc.LeaseKeepAliveRequest(ID=lease_id))
                return await call.read()
            finally:
                call.cancel()

        reply = await self._ask(send, "lease_keepalive", f"refresh lease {lease_id:x}")
        return int(reply.TTL) if reply is not grpc.aio.EOF else 0

    async def revoke_lease(self, lease_id: int) -> None:
        request = rpc.LeaseRevokeRequest(ID=lease_id)
        await self._ask(
            self._unary(lambda stubs: stubs.lease.LeaseRevoke, request),
            "lease_revoke",
            f"revoke lease {lease_id:x}",
        )

    async def watch_prefix(self, prefix: bytes, start_revision: int) -> AsyncIterator[WatchEvent]:
        """Changes under `prefix` from `start_revision` on, until the stream breaks.

        Raises RevisionCompacted if `start_revision` has been compacted away,
        and StoreUnavailable when the stream breaks (`Mirror` resumes it).
        Each watch is its own gRPC stream, hung up when the iteration stops,
        so a stopped watch ends on etcd at once.
        """
        doing = f"watch {prefix.decode()}"
        members = self._connection()
        metadata = await self._auth.ready(members)
        for attempt in range(2):
            call = (await members.pick()).watch.Watch(metadata=metadata)
            try:
                refusal = await self._create_watch(call, prefix, start_revision, doing)
                if refusal is None:
                    async for event in _events(call, prefix):
                        yield event
                    return
                worth_a_new_token = says_stale_token(refusal) or _WATCH_PERMISSION_DENIED in refusal
                if attempt == 0 and self._auth.enabled and worth_a_new_token:
                    metadata = await self._auth.renew(members, stale=metadata)
                    continue
                raise EtcdAccessDenied(f"etcd refused to {doing}: {refusal}{hint(refusal)}")
            except grpc.aio.AioRpcError as error:
                raise store_error(error, doing) from error
            finally:
                call.cancel()

    async def _create_watch(
        self, call: Any, prefix: bytes, start_revision: int, doing: str
    ) -> str | None:
        """Ask for the watch: None once etcd has made it, else etcd's reason for refusing."""
        create = rpc.WatchCreateRequest(
            key=prefix, range_end=prefix_end(prefix), start_revision=start_revision
        )
        try:
            async with asyncio.timeout(self._timeout):
                await call.write(rpc.WatchRequest(create_request=create))
                response = await call.read()
        except TimeoutError as error:
            raise StoreUnavailable(f"etcd did not {doing} in time") from error
        except grpc.aio.AioRpcError as error:
            # A stream whose token etcd no longer knows is refused whole.
            if is_stale_token(error):
                return error.details() or "invalid auth token"
            raise
        if response is grpc.aio.EOF:
            raise StoreUnavailable(f"etcd hung up instead of starting to {doing}")
        if response.compact_revision:
            raise RevisionCompacted(response.compact_revision)
        if response.canceled:
            return str(response.cancel_reason) or "refused"
        return None


def _range(stubs: Stubs) -> Any:
    return stubs.kv.Range


def _delete_range(stubs: Stubs) -> Any:
    return stubs.kv.DeleteRange


def _txn(stubs: Stubs) -> Any:
    return stubs.kv.Txn


async def _events(call: Any, prefix: bytes) -> AsyncIterator[WatchEvent]:
    """The watch's events, until etcd ends the stream."""
    while True:
        response = await call.read()
        if response is grpc.aio.EOF:
            return
        if response.compact_revision:
            raise RevisionCompacted(response.compact_revision)
        if response.canceled:
            raise StoreUnavailable(
                f"etcd ended the watch on {prefix.decode()}: {response.cancel_reason}"
            )
        for event in response.events:
            deleted = event.type == rpc.Event.DELETE
            value = None if deleted else event.kv.value
            yield WatchEvent(event.kv.key, value, event.kv.mod_revision)
