"""The store layer against a real etcd: transactions, mirrors, leases, commits, events.

Most tests share the session's etcd (the `etcd` fixture) and wipe /ozy/ first.
Tests that stop, restart or compact etcd get one of their own (`private_etcd`),
so they never disturb the others. Faults that etcd itself cannot produce on
demand (a lost answer, a network cut) come from `FaultyLink`, a TCP relay
between the client and etcd: the code under test is never patched.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import re
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from ozymandias.cluster.records import (
    Event,
    InstanceState,
    InstanceStatus,
    JobRecord,
    Node,
    Resources,
    Schedule,
    SharedVolume,
)
from ozymandias.spec.models import JobSpec
from ozymandias.store import keys
from ozymandias.store.cluster_store import ClusterStore
from ozymandias.store.etcd import (
    CommitOutcomeUnknown,
    Delete,
    Etcd,
    Exists,
    Guard,
    KeyValue,
    Operation,
    Put,
    TransactionOutcome,
    Unchanged,
    WatchEvent,
)
from ozymandias.store.job_commit import CommitOutcome, CommitResult
from ozymandias.store.lease import LeaseKeeper
from ozymandias.store.mirror import Mirror
from ozymandias.store.planning_inputs import PlanningInputs
from tests.support.etcd import EtcdServer, running
from tests.support.machine import free_port
from tests.support.waiting import eventually, within

T = TypeVar("T")

MiB = 1024 * 1024

LeaseGranter = Callable[[], Awaitable[int]]


# --- helpers -------------------------------------------------------------------------------


def unique_prefix(purpose: str) -> bytes:
    """A key prefix no other test (or earlier run) uses."""
    return keys.ROOT + f"test-store/{purpose}-{uuid.uuid4().hex[:8]}/".encode()


def etcdctl_put(server: EtcdServer, key: bytes, value: bytes) -> int:
    """Write with etcdctl (a separate client, unaffected by ours); returns the write's revision."""
    reply = server.etcdctl("put", "-w", "json", key.decode(), value.decode()).stdout
    return int(json.loads(reply)["header"]["revision"])


def etcdctl_delete(server: EtcdServer, key: bytes) -> int:
    reply = server.etcdctl("del", "-w", "json", key.decode()).stdout
    return int(json.loads(reply)["header"]["revision"])


def as_text(_key: bytes, raw: bytes) -> str:
    """Mirror decoder for the plain test values."""
    return raw.decode()


def only_ascii(_key: bytes, raw: bytes) -> str:
    """Mirror decoder that rejects some values, the way a record model rejects bad JSON."""
    if not raw.isascii():
        raise ValueError("not ascii")
    return raw.decode()


async def etcd_contents(client: Etcd, prefix: bytes) -> dict[bytes, tuple[str, int]]:
    """key -> (value, mod_revision) as etcd has it now."""
    _, pairs = await client.scan(prefix)
    return {pair.key: (pair.value.decode(), pair.mod_revision) for pair in pairs}


def mirror_contents(mirror: Mirror[str]) -> dict[bytes, tuple[str, int]]:
    """key -> (value, mod_revision) as the mirror has it, comparable to `etcd_contents`."""
    return {key: (value, mirror.mod_revisions[key]) for key, value in mirror.items.items()}


def watches_served_by(server: EtcdServer) -> int:
    """How many watches etcd is serving, from its own metrics."""
    metrics = httpx.get(f"{server.url}/metrics", timeout=5).text
    match = re.search(r"^etcd_debugging_mvcc_watcher_total (\S+)$", metrics, re.MULTILINE)
    assert match is not None, "etcd no longer exports etcd_debugging_mvcc_watcher_total"
    return int(float(match.group(1)))


def mirror_retry_delays(caplog: pytest.LogCaptureFixture) -> list[float]:
    """The back-off delays the mirrors have announced, oldest first."""
    return [
        float(found.group(1))
        for record in caplog.records
        if record.name == "ozymandias.store.mirror"
        and (found := re.search(r"retrying in ([0-9.]+)s", record.getMessage()))
    ]


class ObservedEtcd(Etcd):
    """An Etcd client that counts what the code under test asks of it; behaviour unchanged."""

    def __init__(self, endpoint: str, *, timeout: int = 5) -> None:
        super().__init__(endpoint, timeout=timeout)
        self.scans = 0
        self.watches_started = 0
        self.answer_lost = asyncio.Event()

    async def scan(self, prefix: bytes) -> tuple[int, list[KeyValue]]:
        self.scans += 1
        return await super().scan(prefix)

    def watch_prefix(self, prefix: bytes, start_revision: int) -> AsyncIterator[WatchEvent]:
        self.watches_started += 1
        return super().watch_prefix(prefix, start_revision)

    async def transaction(
        self, guards: Sequence[Guard], operations: Sequence[Operation]
    ) -> TransactionOutcome:
        try:
            return await super().transaction(guards, operations)
        except CommitOutcomeUnknown:
            self.answer_lost.set()
            raise


class FaultyLink:
    """A loopback TCP relay to etcd whose faults a test switches on and off.

    `hold_answers()` keeps etcd's replies from reaching the client while its
    requests still reach etcd: a transaction applies, but its answer is late
    past the client's deadline. The bytes are queued, not dropped, so the
    HTTP/2 connection survives. `cut()` drops every connection and refuses
    new ones, like a partition; `restore()` ends it.
    """

    def __init__(self, etcd_port: int) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._etcd_port = etcd_port
        self._server: asyncio.Server | None = None
        self._relays: set[asyncio.Task[None]] = set()
        self._transports: list[asyncio.WriteTransport] = []
        self._answers_flow = asyncio.Event()
        self._answers_flow.set()

    async def restore(self) -> None:
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", self.port)

    async def cut(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for transport in self._transports:
            transport.abort()
        # Aborted sockets end their relays; wait for that, so nothing outlives the test.
        await asyncio.gather(*self._relays, return_exceptions=True)
        self._relays.clear()
        self._transports.clear()

    def hold_answers(self) -> None:
        self._answers_flow.clear()

    def release_answers(self) -> None:
        self._answers_flow.set()

    async def _relay(
        self, client_in: asyncio.StreamReader, client_out: asyncio.StreamWriter
    ) -> None:
        relay = asyncio.current_task()
        assert relay is not None
        self._relays.add(relay)
        self._transports.append(client_out.transport)
        etcd_out: asyncio.StreamWriter | None = None
        try:
            etcd_in, etcd_out = await asyncio.open_connection("127.0.0.1", self._etcd_port)
            self._transports.append(etcd_out.transport)
            await asyncio.gather(
                self._pump(client_in, etcd_out, gate=None),
                self._pump(etcd_in, client_out, gate=self._answers_flow),
            )
        except OSError:
            pass
        finally:
            client_out.transport.abort()
            if etcd_out is not None:
                etcd_out.transport.abort()

    @staticmethod
    async def _pump(
        source: asyncio.StreamReader, sink: asyncio.StreamWriter, gate: asyncio.Event | None
    ) -> None:
        try:
            while data := await source.read(65536):
                if gate is not None:
                    await gate.wait()
                sink.write(data)
                await sink.drain()
        except OSError:
            pass
        finally:
            sink.transport.abort()  # one side gone: end the other too


# --- fixtures ------------------------------------------------------------------------------


@pytest.fixture
async def client(etcd: EtcdServer) -> AsyncIterator[Etcd]:
    """A client of the session etcd, with /ozy/ wiped so the test sees only its own keys."""
    etcd.wipe()
    connection = Etcd(etcd.url)
    try:
        yield connection
    finally:
        await connection.close()


@pytest.fixture
def private_etcd(tmp_path: Path) -> Iterator[EtcdServer]:
    """An etcd of the test's own, for tests that stop, restart or compact it."""
    server = EtcdServer(tmp_path / "etcd-data")
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture
async def link_to_etcd(etcd: EtcdServer) -> AsyncIterator[FaultyLink]:
    link = FaultyLink(etcd.client_port)
    await link.restore()
    try:
        yield link
    finally:
        link.release_answers()
        await link.cut()


@pytest.fixture
async def lease_of(client: Etcd) -> AsyncIterator[LeaseGranter]:
    """Grants leases for the test and revokes whatever is left of them afterwards."""
    granted: list[int] = []

    async def grant() -> int:
        granted.append(await client.grant_lease(30))
        return granted[-1]

    yield grant
    for lease_id in granted:
        with contextlib.suppress(Exception):
            await client.revoke_lease(lease_id)


def node_record(name: str) -> Node:
    return Node(
        name=name,
        address="127.0.0.1",
        api_url="http://127.0.0.1:1",
        capacity=Resources(memory=4096 * MiB, disk=10240 * MiB),
        started_at=time.time(),
    )


def job_record(name: str, instances: int = 1) -> JobRecord:
    spec = JobSpec.model_validate(
        {
            "name": name,
            "numInstances": instances,
            "containers": {"app": {"image": "example", "memory": "256M"}},
        }
    )
    return JobRecord(spec=spec)


async def commit_on(
    store: ClusterStore,
    job_name: str,
    basis: PlanningInputs,
    *,
    node: str,
    instances: int,
    usage: Resources,
) -> CommitOutcome:
    """Commit `instances` instances of a job, all on `node`, adding `usage` to its total."""
    return await store.commit(
        job_name,
        basis,
        job=job_record(job_name, instances),
        schedule=Schedule(job=job_name, placements={index: node for index in range(instances)}),
        allocation_changes={node: usage},
        nodes_that_must_exist=[node],
    )


async def allocation_on(client: Etcd, node: str) -> Resources | None:
    stored = await client.get(keys.allocation(node))
    return Resources.from_json(stored.value) if stored is not None else None


async def schedule_of(client: Etcd, job_name: str) -> Schedule | None:
    stored = await client.get(keys.schedule(job_name))
    return Schedule.from_json(stored.value) if stored is not None else None


# --- Etcd: transactions and reads ----------------------------------------------------------


async def test_unchanged_zero_guard_passes_for_an_absent_key(client: Etcd) -> None:
    key = unique_prefix("txn") + b"new"

    outcome = await client.transaction([Unchanged(key, 0)], [Put(key, b"v1")])

    assert outcome.applied
    stored = await client.get(key)
    assert stored is not None and stored.value == b"v1"
    # The revision reported is the commit's own: the key's new mod_revision.
    assert outcome.revision == stored.mod_revision


async def test_unchanged_guard_with_a_stale_revision_fails_and_writes_nothing(
    client: Etcd,
) -> None:
    prefix = unique_prefix("txn")
    key, bystander = prefix + b"guarded", prefix + b"bystander"
    first = await client.put(key, b"v1")
    second = await client.put(key, b"v2")

    outcome = await client.transaction(
        [Unchanged(key, first)], [Put(key, b"v3"), Put(bystander, b"x")]
    )

    assert not outcome.applied
    assert outcome.revision == second  # the store's revision, unchanged by the failed txn
    stored = await client.get(key)
    assert stored is not None and (stored.value, stored.mod_revision) == (b"v2", second)
    assert await client.get(bystander) is None
    # The current revision does pass.
    assert (await client.transaction([Unchanged(key, second)], [Put(key, b"v3")])).applied


async def test_unchanged_zero_guard_fails_for_a_present_key(client: Etcd) -> None:
    key = unique_prefix("txn") + b"present"
    await client.put(key, b"v1")

    outcome = await client.transaction([Unchanged(key, 0)], [Put(key, b"v2")])

    assert not outcome.applied
    stored = await client.get(key)
    assert stored is not None and stored.value == b"v1"


async def test_exists_guard_fails_for_an_absent_key_and_passes_for_a_present_one(
    client: Etcd,
) -> None:
    prefix = unique_prefix("txn")
    present, absent, target = prefix + b"present", prefix + b"absent", prefix + b"target"
    await client.put(present, b"here")

    refused = await client.transaction([Exists(absent)], [Put(target, b"x")])
    assert not refused.applied
    assert await client.get(target) is None

    accepted = await client.transaction([Exists(present)], [Put(target, b"x")])
    assert accepted.applied
    stored = await client.get(target)
    assert stored is not None and stored.mod_revision == accepted.revision


async def test_delete_with_prefix_removes_only_keys_under_the_prefix(client: Etcd) -> None:
    prefix = unique_prefix("txn")
    await client.put(prefix + b"dir/a", b"1")
    await client.put(prefix + b"dir/b", b"2")
    await client.put(prefix + b"dirt", b"3")  # shares the characters, not the "dir/" prefix

    outcome = await client.transaction([], [Delete(prefix + b"dir/", prefix=True)])

    assert outcome.applied
    assert sorted(await etcd_contents(client, prefix)) == [prefix + b"dirt"]


async def test_read_ranges_reads_prefixes_and_single_keys_at_one_revision(client: Etcd) -> None:
    prefix = unique_prefix("ranges")
    await client.put(prefix + b"group/1", b"one")
    await client.put(prefix + b"group/2", b"two")
    await client.put(prefix + b"groupie", b"not in group/")
    last = await client.put(prefix + b"single", b"alone")

    revision, (group, single, missing, group_key_itself) = await client.read_ranges(
        [prefix + b"group/", prefix + b"single", prefix + b"missing", prefix + b"group"]
    )

    assert revision == last
    assert [(kv.key, kv.value) for kv in group] == [
        (prefix + b"group/1", b"one"),
        (prefix + b"group/2", b"two"),
    ]
    assert [(kv.key, kv.value, kv.mod_revision) for kv in single] == [
        (prefix + b"single", b"alone", last)
    ]
    assert missing == []
    assert group_key_itself == []  # no trailing "/": one exact key, which does not exist


# --- Mirror --------------------------------------------------------------------------------


async def test_mirror_loads_a_scan_then_follows_puts_and_deletes(client: Etcd) -> None:
    prefix = unique_prefix("mirror")
    for name in (b"a", b"b", b"c"):
        await client.put(prefix + name, b"initial-" + name)
    await client.put(prefix[:-1] + b"-sibling", b"outside the prefix")

    async with running(Mirror(client, prefix, as_text)) as mirror:
        assert mirror_contents(mirror) == await etcd_contents(client, prefix)

        await client.put(prefix + b"a", b"changed")
        await client.put(prefix + b"d", b"added")
        deleted = await client.transaction([], [Delete(prefix + b"b")])
        await within(mirror.wait_for_revision(deleted.revision), "the delete to reach the mirror")

        assert mirror_contents(mirror) == await etcd_contents(client, prefix)
        assert mirror.items == {
            prefix + b"a": "changed",
            prefix + b"c": "initial-c",
            prefix + b"d": "added",
        }
        assert mirror.revision == deleted.revision

        # wait_for_change wakes on the next change after the given revision.
        waiter = asyncio.ensure_future(mirror.wait_for_change(deleted.revision))
        written = await client.put(prefix + b"e", b"late")
        assert await within(waiter, "wait_for_change to wake") == written


async def test_mirror_drops_a_record_that_becomes_undecodable(client: Etcd) -> None:
    # A value the decoder rejects is left out of a scan, so a watch must leave
    # it out too; otherwise a long-running mirror keeps a stale value a fresh
    # one does not have.
    prefix = unique_prefix("mirror")
    await client.put(prefix + b"good", b"fine")
    await client.put(prefix + b"turns-bad", b"fine for now")

    async with running(Mirror(client, prefix, only_ascii)) as mirror:
        assert set(mirror.items) == {prefix + b"good", prefix + b"turns-bad"}

        written = await client.put(prefix + b"turns-bad", "caf\u00e9".encode())
        await within(mirror.wait_for_revision(written), "the bad value to reach the mirror")

        assert mirror.items == {prefix + b"good": "fine"}
        assert set(mirror.mod_revisions) == {prefix + b"good"}


async def test_mirror_follows_through_an_etcd_restart_without_losing_events(
    private_etcd: EtcdServer,
) -> None:
    prefix = unique_prefix("restart")
    client = ObservedEtcd(private_etcd.url, timeout=2)
    try:
        for index in range(3):
            await client.put(prefix + f"before-{index}".encode(), b"v")
        async with running(Mirror(client, prefix, as_text)) as mirror:
            written = await client.put(prefix + b"before-0", b"v2")
            await within(mirror.wait_for_revision(written), "a put before the restart")

            watches_before = client.watches_started
            await asyncio.to_thread(private_etcd.stop)
            # The mirror must notice etcd is gone and fail to watch again, at least once.
            await eventually(
                lambda: client.watches_started > watches_before,
                "the mirror to retry its watch while etcd is down",
            )

            # These calls block the event loop on purpose: the mirror cannot
            # watch again before they are all done, so every one of these
            # changes is certainly made while it is disconnected.
            private_etcd.start()
            for index in range(20):
                etcdctl_put(private_etcd, prefix + f"while-away-{index}".encode(), b"x")
            etcdctl_delete(private_etcd, prefix + b"before-1")

            # And more while it reconnects and after.
            last = 0
            for index in range(5):
                last = await asyncio.to_thread(
                    etcdctl_put, private_etcd, prefix + f"after-{index}".encode(), b"y"
                )
            await within(mirror.wait_for_revision(last), "the mirror to catch up after a restart")
            # It resumed where it was: no second scan was needed (checked before
            # this test's own scan below adds to the count).
            assert client.scans == 1

            expected = await etcd_contents(client, prefix)
            assert len(expected) == 3 - 1 + 20 + 5
            assert mirror_contents(mirror) == expected
    finally:
        await client.close()


async def test_mirror_scans_again_when_its_resume_revision_was_compacted(
    private_etcd: EtcdServer,
) -> None:
    prefix = unique_prefix("compaction")
    direct = Etcd(private_etcd.url)
    link = FaultyLink(private_etcd.client_port)
    mirrored = ObservedEtcd(link.url, timeout=2)
    try:
        await link.restore()
        for index in range(5):
            await direct.put(prefix + f"key-{index}".encode(), b"v1")
        async with running(Mirror(mirrored, prefix, as_text)) as mirror:
            assert mirrored.scans == 1
            watches_before = mirrored.watches_started
            await link.cut()
            await eventually(
                lambda: mirrored.watches_started > watches_before,
                "the mirror to retry its watch while cut off",
            )

            # While it is cut off: change, delete and add, then compact that history away.
            await direct.put(prefix + b"key-0", b"v2")
            await direct.transaction([], [Delete(prefix + b"key-1")])
            await direct.transaction([], [Delete(prefix + b"key-2")])
            last = await direct.put(prefix + b"key-new", b"v1")
            private_etcd.etcdctl("compact", str(last))

            await link.restore()
            await within(mirror.wait_for_revision(last), "the mirror to catch up after compaction")

            assert mirror_contents(mirror) == await etcd_contents(direct, prefix)
            assert set(mirror.items) == {
                prefix + name for name in (b"key-0", b"key-3", b"key-4", b"key-new")
            }
            # Only a new scan can have learnt of the deletes: their events are gone.
            assert mirrored.scans == 2
    finally:
        await link.cut()
        await mirrored.close()
        await direct.close()


async def test_mirror_backs_off_from_the_start_again_after_it_got_through(
    client: Etcd, link_to_etcd: FaultyLink, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="ozymandias.store.mirror")
    prefix = unique_prefix("backoff")
    mirrored = Etcd(link_to_etcd.url, timeout=2)
    try:
        async with running(Mirror(mirrored, prefix, as_text)) as mirror:
            # A first outage, long enough for the back-off to grow.
            await link_to_etcd.cut()
            await eventually(
                lambda: max(mirror_retry_delays(caplog), default=0) >= 0.8,
                "the mirror's back-off to grow",
            )
            await link_to_etcd.restore()
            written = await client.put(prefix + b"after-the-first-outage", b"x")
            await within(mirror.wait_for_revision(written), "the mirror to reconnect")

            # A second outage is a new one: the first retry must be quick again.
            caplog.clear()
            await link_to_etcd.cut()
            await eventually(lambda: bool(mirror_retry_delays(caplog)), "the mirror to retry")
            assert mirror_retry_delays(caplog)[0] == 0.2
    finally:
        await mirrored.close()


async def test_a_watch_stops_when_cancelled_even_while_it_is_being_created(client: Etcd) -> None:
    # A node cancels its mirrors on shutdown, whatever they are doing. aetcd
    # can swallow a cancellation that lands while a watch is being created,
    # leaving the task waiting for events forever; the window is narrow, so
    # cancel many watches at random moments around their creation.
    prefix = unique_prefix("cancel")
    start = await client.put(prefix + b"key", b"x") + 1

    async def follow() -> None:
        async for _ in client.watch_prefix(prefix, start):
            pass

    for attempt in range(200):
        task = asyncio.create_task(follow())
        await asyncio.sleep(random.uniform(0, 0.004))
        task.cancel()
        done, _ = await asyncio.wait({task}, timeout=5)
        assert done, f"watch {attempt} ignored its cancellation"
        assert task.cancelled()


async def test_a_stopped_mirror_ends_its_watch_in_etcd(private_etcd: EtcdServer) -> None:
    # Otherwise every mirror ever stopped keeps a watch open on etcd, and
    # aetcd keeps queueing its events in memory nobody reads.
    client = Etcd(private_etcd.url)
    try:
        assert watches_served_by(private_etcd) == 0
        async with running(Mirror(client, unique_prefix("stopped"), as_text)):
            await eventually(
                lambda: watches_served_by(private_etcd) == 1, "etcd to serve the mirror's watch"
            )
        await eventually(
            lambda: watches_served_by(private_etcd) == 0, "the watch to end with the mirror"
        )
    finally:
        await client.close()


# --- ClusterStore: commits -----------------------------------------------------------------


async def test_two_commits_racing_for_one_node_allocation_exactly_one_wins(
    client: Etcd, etcd: EtcdServer, lease_of: LeaseGranter
) -> None:
    store = ClusterStore(client)
    assert await store.register_node(node_record("n1"), await lease_of())
    # An earlier job, so the allocation guard compares a real revision, not 0.
    earlier = await commit_on(
        store,
        "earlier",
        await store.read_planning_inputs("earlier"),
        node="n1",
        instances=1,
        usage=Resources(memory=100 * MiB),
    )
    assert earlier.won

    # Two peers plan different jobs from the same state, both onto n1.
    usage = {"job-a": Resources(memory=300 * MiB), "job-b": Resources(memory=500 * MiB)}
    bases = {name: await store.read_planning_inputs(name) for name in usage}
    assert bases["job-a"].allocations == bases["job-b"].allocations
    peers = {name: ClusterStore(Etcd(etcd.url)) for name in usage}

    async def commit_as_peer(name: str) -> CommitOutcome:
        return await commit_on(
            peers[name], name, bases[name], node="n1", instances=1, usage=usage[name]
        )

    try:
        results = await asyncio.gather(*(commit_as_peer(name) for name in usage))
        outcomes = dict(zip(usage, results, strict=True))
    finally:
        for peer in peers.values():
            await peer.etcd.close()

    assert sorted(outcome.result.value for outcome in outcomes.values()) == ["lost", "won"]
    winner = next(name for name, outcome in outcomes.items() if outcome.won)
    loser = next(name for name in usage if name != winner)
    assert await allocation_on(client, "n1") == Resources(memory=100 * MiB) + usage[winner]
    assert await client.get(keys.job(winner)) is not None
    assert await client.get(keys.job(loser)) is None
    assert await client.get(keys.schedule(loser)) is None
    # The winner's revision is the one its writes carry.
    stored = await client.get(keys.allocation("n1"))
    assert stored is not None and stored.mod_revision == outcomes[winner].revision


async def test_commit_onto_a_node_that_has_left_is_lost(
    client: Etcd, lease_of: LeaseGranter
) -> None:
    store = ClusterStore(client)
    lease = await lease_of()
    assert await store.register_node(node_record("gone"), lease)
    basis = await store.read_planning_inputs("web")
    assert [node.name for node in basis.nodes] == ["gone"]

    await client.revoke_lease(lease)  # the node dies after the plan was made
    outcome = await commit_on(
        store, "web", basis, node="gone", instances=2, usage=Resources(memory=200 * MiB)
    )

    assert outcome.result is CommitResult.LOST
    assert await client.get(keys.job("web")) is None
    assert await allocation_on(client, "gone") is None


async def test_commit_planned_from_a_stale_job_revision_is_lost(
    client: Etcd, lease_of: LeaseGranter
) -> None:
    store = ClusterStore(client)
    assert await store.register_node(node_record("n1"), await lease_of())
    stale = await store.read_planning_inputs("web")
    first = await commit_on(
        store, "web", stale, node="n1", instances=1, usage=Resources(memory=100 * MiB)
    )
    assert first.won

    # Same job, planned from before the first commit, onto an untouched allocation key.
    again = await store.commit(
        "web",
        stale,
        job=job_record("web", 2),
        schedule=Schedule(job="web", placements={0: "n1", 1: "n1"}),
        allocation_changes={},
        nodes_that_must_exist=["n1"],
    )

    assert again.result is CommitResult.LOST
    schedule = await schedule_of(client, "web")
    assert schedule is not None and schedule.placements == {0: "n1"}


def volume_of(job_name: str, size: int = 100 * MiB) -> SharedVolume:
    return SharedVolume(job=job_name, name="data", size=size, domain="zone=a")


async def commit_volume(
    store: ClusterStore, job_name: str, basis: PlanningInputs, volume: SharedVolume
) -> CommitOutcome:
    """Commit a job with no instances that creates `volume`, charging its zone."""
    return await store.commit(
        job_name,
        basis,
        job=job_record(job_name, 0),
        schedule=Schedule(job=job_name),
        allocation_changes={},
        nodes_that_must_exist=[],
        volumes=[volume],
        shared_allocation_changes={volume.domain: volume.size},
    )


async def test_two_jobs_creating_volumes_in_one_zone_cannot_both_spend_its_room(
    client: Etcd,
) -> None:
    store = ClusterStore(client)
    bases = {name: await store.read_planning_inputs(name) for name in ("vol-a", "vol-b")}
    outcomes = await asyncio.gather(
        *(commit_volume(store, name, basis, volume_of(name)) for name, basis in bases.items())
    )
    assert sorted(outcome.result.value for outcome in outcomes) == ["lost", "won"]
    total = await client.get(keys.shared_allocation("zone=a"))
    assert total is not None and Resources.from_json(total.value).disk == 100 * MiB

    fresh = await store.read_planning_inputs("vol-a")
    assert fresh.shared_allocations["zone=a"][0] == 100 * MiB


async def test_a_commit_that_missed_a_volume_removal_is_lost(client: Etcd) -> None:
    store = ClusterStore(client)
    created = await commit_volume(
        store, "kept", await store.read_planning_inputs("kept"), volume_of("kept")
    )
    assert created.won
    deleted = await store.commit(
        "kept",
        await store.read_planning_inputs("kept"),
        job=None,
        schedule=None,
        allocation_changes={},
        nodes_that_must_exist=[],
    )
    assert deleted.won and await store.read_volume("kept", "data") is not None  # kept

    # A re-submit planned while the volume was kept, committed after its removal was asked.
    stale = await store.read_planning_inputs("kept")
    found = await store.read_volume("kept", "data")
    assert found is not None
    assert await store.mark_volume_deleting(found[0], found[1], job_revision=0)
    resubmit = await store.commit(
        "kept",
        stale,
        job=job_record("kept", 0),
        schedule=Schedule(job="kept"),
        allocation_changes={},
        nodes_that_must_exist=[],
    )
    assert resubmit.result is CommitResult.LOST

    # The node that removes the data gives the room back.
    marked = await store.read_volume("kept", "data")
    assert marked is not None and marked[0].deleting
    assert await store.forget_volume(marked[0])
    assert not await store.forget_volume(marked[0])  # a peer finishing second changes nothing
    total = await client.get(keys.shared_allocation("zone=a"))
    assert total is not None and Resources.from_json(total.value).disk == 0


async def test_a_node_letting_an_instance_go_never_touches_the_new_nodes_report(
    client: Etcd, lease_of: LeaseGranter
) -> None:
    store = ClusterStore(client)
    lease = await lease_of()

    def report(node: str, state: InstanceState) -> InstanceStatus:
        return InstanceStatus(job="web", index=3, node=node, state=state)

    async def stored() -> InstanceStatus | None:
        current = await client.get(keys.instance("web", 3))
        return InstanceStatus.from_json(current.value) if current is not None else None

    # web-3 moved from n1 to n2, which reports it first.
    await store.put_instance_status(report("n2", InstanceState.STARTING), lease)
    await store.put_leaving_instance_status(report("n1", InstanceState.STOPPING), lease)
    await store.delete_instance_status("web", 3, "n1")
    assert await stored() == report("n2", InstanceState.STARTING)

    # Its own report the leaving node does replace, then delete.
    await store.delete_instance_status("web", 3, "n2")
    await store.put_instance_status(report("n1", InstanceState.RUNNING), lease)
    await store.put_leaving_instance_status(report("n1", InstanceState.STOPPING), lease)
    assert await stored() == report("n1", InstanceState.STOPPING)
    await store.delete_instance_status("web", 3, "n1")
    assert await stored() is None


async def test_read_planning_inputs_carries_the_revisions_a_commit_checks(
    client: Etcd, lease_of: LeaseGranter
) -> None:
    store = ClusterStore(client)
    assert await store.register_node(node_record("n1"), await lease_of())
    empty = await store.read_planning_inputs("web")
    assert (empty.job, empty.job_revision, empty.schedule, empty.schedule_revision) == (
        None,
        0,
        None,
        0,
    )

    won = await commit_on(
        store, "web", empty, node="n1", instances=2, usage=Resources(memory=64 * MiB)
    )
    after = await store.read_planning_inputs("web")

    assert after.job is not None and after.job.spec.num_instances == 2
    assert after.job_revision == after.schedule_revision == won.revision
    assert after.schedule is not None and after.schedule.placements == {0: "n1", 1: "n1"}
    assert after.allocations == {"n1": (Resources(memory=64 * MiB), won.revision)}


# --- ClusterStore: a commit whose answer is lost -------------------------------------------


async def commit_with_answer_lost(
    link: FaultyLink, lossy: ObservedEtcd, commit: Coroutine[Any, Any, CommitOutcome]
) -> CommitOutcome:
    """Run a commit through `link` with etcd's answers held until the commit gives up on them.

    The transaction reaches etcd; its answer comes too late, so the store must
    read back to learn whether it landed.
    """
    await lossy.get(b"/ozy/warm-up")  # connect first: only the commit's answer is to be late
    link.hold_answers()
    task = asyncio.ensure_future(commit)
    try:
        await within(lossy.answer_lost.wait(), "the commit's answer to time out")
    finally:
        link.release_answers()
    return await within(task, "the commit to be resolved by reading back")


async def test_commit_whose_answer_is_lost_but_which_applied_is_won(
    client: Etcd, link_to_etcd: FaultyLink, lease_of: LeaseGranter
) -> None:
    store = ClusterStore(client)
    assert await store.register_node(node_record("n1"), await lease_of())
    basis = await store.read_planning_inputs("web")
    lossy = ObservedEtcd(link_to_etcd.url, timeout=1)
    try:
        outcome = await commit_with_answer_lost(
            link_to_etcd,
            lossy,
            commit_on(
                ClusterStore(lossy),
                "web",
                basis,
                node="n1",
                instances=2,
                usage=Resources(memory=64 * MiB),
            ),
        )
    finally:
        await lossy.close()

    assert outcome.result is CommitResult.WON
    assert outcome.revision == 0  # not known: the answer carrying it was lost
    schedule = await schedule_of(client, "web")
    assert schedule is not None and schedule.placements == {0: "n1", 1: "n1"}
    assert await allocation_on(client, "n1") == Resources(memory=64 * MiB)


async def test_commit_whose_answer_is_lost_and_which_did_not_apply_is_lost(
    client: Etcd, link_to_etcd: FaultyLink, lease_of: LeaseGranter
) -> None:
    store = ClusterStore(client)
    assert await store.register_node(node_record("n1"), await lease_of())
    stale = await store.read_planning_inputs("web")
    first = await commit_on(
        store, "web", stale, node="n1", instances=1, usage=Resources(memory=64 * MiB)
    )
    assert first.won

    # Planned from before the first commit, so its guards fail; the schedule
    # read back is then the first commit's, which must not count as this one's.
    lossy = ObservedEtcd(link_to_etcd.url, timeout=1)
    try:
        outcome = await commit_with_answer_lost(
            link_to_etcd,
            lossy,
            commit_on(
                ClusterStore(lossy),
                "web",
                stale,
                node="n1",
                instances=3,
                usage=Resources(memory=192 * MiB),
            ),
        )
    finally:
        await lossy.close()

    assert outcome.result is CommitResult.LOST
    schedule = await schedule_of(client, "web")
    assert schedule is not None and schedule.placements == {0: "n1"}
    assert await allocation_on(client, "n1") == Resources(memory=64 * MiB)


# --- LeaseKeeper and node registration -----------------------------------------------------


async def test_lease_keeper_keeps_a_short_lease_alive_then_notices_etcd_is_gone(
    private_etcd: EtcdServer,
) -> None:
    ttl = 2
    client = Etcd(private_etcd.url, timeout=1)
    try:
        lease = await client.grant_lease(ttl)
        key = unique_prefix("lease") + b"held"
        await client.put(key, b"alive", lease=lease)
        keeper = LeaseKeeper(client, lease, ttl)
        task = asyncio.create_task(keeper.run())
        try:
            # Three TTLs: without refreshes the lease and its key would be long gone.
            await asyncio.sleep(3 * ttl)
            assert not keeper.lost.is_set()
            assert await client.get(key) is not None
            assert await client.lease_time_left(lease) > 0

            stopped_at = time.monotonic()
            await asyncio.to_thread(private_etcd.stop)
            await within(keeper.lost.wait(), "the keeper to give the lease up", seconds=3 * ttl)
            # Not on the first failed refresh: only a whole TTL after the last
            # good one, which came at most a refresh interval (TTL/3) before the stop.
            assert time.monotonic() - stopped_at >= ttl - ttl / 3 - 0.1
            await within(task, "the keeper to stop once the lease is lost")
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    finally:
        await client.close()


async def test_register_node_refuses_a_name_held_by_another_live_lease(
    client: Etcd, lease_of: LeaseGranter
) -> None:
    store = ClusterStore(client)
    holder, intruder = await lease_of(), await lease_of()

    assert await store.register_node(node_record("n1"), holder)
    assert not await store.register_node(node_record("n1"), intruder)
    assert await store.node_lease("n1") == holder
    # The holder itself may register again (a restarted daemon keeping its lease).
    assert await store.register_node(node_record("n1"), holder)

    await client.revoke_lease(holder)  # the holder dies; the name is free
    assert await store.node_lease("n1") is None
    assert await store.register_node(node_record("n1"), intruder)
    assert await store.node_lease("n1") == intruder
    assert [node.name for node in await store.list_nodes()] == ["n1"]


# --- Events --------------------------------------------------------------------------------


async def test_events_are_listed_oldest_first_and_filtered_by_job(client: Etcd) -> None:
    store = ClusterStore(client)
    for kind, job in (("first", "web"), ("second", "db"), ("third", "web")):
        await store.record_event(
            Event(time=time.time(), kind=kind, message=f"{kind} happened", job=job, node="n1")
        )

    assert [event.kind for event in await store.list_events(job_name="web")] == ["first", "third"]
    assert [event.kind for event in await store.list_events(job_name="db")] == ["second"]
    assert [event.kind for event in await store.list_events()] == ["first", "second", "third"]
    assert [event.kind for event in await store.list_events(limit=2)] == ["second", "third"]
    # Events hang on a lease, so they expire by themselves.
    _, pairs = await client.scan(keys.EVENTS)
    assert len(pairs) == 3 and all(pair.lease != 0 for pair in pairs)


async def test_record_event_never_raises_when_etcd_is_unreachable() -> None:
    unreachable = Etcd(f"http://127.0.0.1:{free_port()}", timeout=1)
    try:
        await within(
            ClusterStore(unreachable).record_event(
                Event(time=time.time(), kind="lost", message="nobody hears this")
            ),
            "record_event to give up",
        )
    finally:
        await unreachable.close()
