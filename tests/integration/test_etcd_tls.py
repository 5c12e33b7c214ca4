"""etcd over TLS with client certificates and etcd's own auth, against a real etcd.

The etcd here (`SecureEtcdServer`) serves clients over TLS only, requires a
client certificate signed by its CA, and has auth on: the code under test
logs in as user `ozy`, whose role may read and write /ozy/ and /skydns/.
Tokens are etcd's simple tokens; one test's etcd lets them expire after a
second, and etcd's own log says when it dropped one.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ozymandias.store.etcd import (
    Etcd,
    EtcdAccessDenied,
    Put,
    StoreUnavailable,
    Unchanged,
    WatchEvent,
)
from ozymandias.store.mirror import Mirror
from ozymandias.tls.certificates import CA_CERT_FILE, create_ca, create_node_certificate
from ozymandias.tls.settings import EtcdSecurity
from tests.support.etcd import EtcdServer, SecureEtcdServer, running
from tests.support.machine import free_port
from tests.support.nodes import NodeProcess, remove_everything_of_node, unused_pod_subnets
from tests.support.waiting import eventually, wait_until, within

WEB_JOB = """
name: {name}
numInstances: 1
containers:
  app:
    image: localhost/ozy-example-web:latest
    memory: 48M
    ports: ["80:3000"]
    depends_on: [db]
    healthcheck: {{type: http, port: 3000, path: /healthcheck, interval: 1, timeout: 1}}
  db:
    image: localhost/ozy-example-db:latest
    memory: 32M
"""


@pytest.fixture(scope="module")
def secure_etcd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecureEtcdServer]:
    root = tmp_path_factory.mktemp("secure-etcd")
    server = SecureEtcdServer(root / "data", root / "certs")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def expiring_etcd(tmp_path: Path) -> Iterator[SecureEtcdServer]:
    """An etcd of the test's own, whose tokens expire a second after their last use."""
    server = SecureEtcdServer(tmp_path / "data", tmp_path / "certs", auth_token_ttl=1)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def unique_prefix(purpose: str) -> bytes:
    return f"/ozy/test-etcd-tls/{purpose}-{uuid.uuid4().hex[:8]}/".encode()


def values(key: bytes, value: bytes) -> bytes:
    return value


async def test_a_node_user_reads_writes_leases_and_watches_over_tls(
    secure_etcd: SecureEtcdServer,
) -> None:
    client = Etcd(secure_etcd.url, security=secure_etcd.security())
    prefix = unique_prefix("basics")
    try:
        start = await client.put(prefix + b"a", b"1")
        found = await client.get(prefix + b"a")
        assert found is not None and found.value == b"1"
        outcome = await client.transaction(
            [Unchanged(prefix + b"b", 0)], [Put(prefix + b"b", b"2")]
        )
        assert outcome.applied
        _, pairs = await client.scan(prefix)
        assert [(pair.key, pair.value) for pair in pairs] == [
            (prefix + b"a", b"1"),
            (prefix + b"b", b"2"),
        ]
        _, (ranges,) = await client.read_ranges([prefix])
        assert len(ranges) == 2

        lease = await client.grant_lease(30)
        assert await client.refresh_lease(lease) == 30
        assert 0 < await client.lease_time_left(lease) <= 30
        await client.revoke_lease(lease)
        assert await client.lease_time_left(lease) == -1

        seen: list[WatchEvent] = []

        async def follow() -> None:
            async for event in client.watch_prefix(prefix, start):
                seen.append(event)
                if len(seen) == 3:
                    return

        watching = asyncio.create_task(follow())
        await client.delete(prefix + b"a")
        await within(watching, "three watch events")
        assert [(event.key, event.value) for event in seen] == [
            (prefix + b"a", b"1"),
            (prefix + b"b", b"2"),
            (prefix + b"a", None),
        ]

        await client.put(b"/skydns/test-etcd-tls/a", b"x")
        await client.delete_prefix(b"/skydns/test-etcd-tls/")
        # Outside its role's prefixes, etcd refuses the user, and says why.
        with pytest.raises(EtcdAccessDenied, match=r"permission denied.*readwrite on /ozy/"):
            await client.get(b"/elsewhere")
    finally:
        await client.close()


async def test_each_https_member_is_checked_against_its_own_name(
    secure_etcd: SecureEtcdServer,
) -> None:
    # Two "members" that are one etcd, by IP and by name: the certificate has
    # both, and each channel checks the name it dials.
    port = secure_etcd.client_port
    both = f"https://127.0.0.1:{port},https://localhost:{port}"
    client = Etcd(both, security=secure_etcd.security())
    prefix = unique_prefix("members")
    try:
        for number in range(4):
            await client.put(prefix + str(number).encode(), b"x")
        _, pairs = await client.scan(prefix)
        assert len(pairs) == 4
    finally:
        await client.close()


async def test_a_new_client_whose_first_member_is_down_uses_the_others_from_its_first_call(
    secure_etcd: SecureEtcdServer,
) -> None:
    dead = f"https://127.0.0.1:{free_port()}"
    client = Etcd(f"{dead},{secure_etcd.url}", security=secure_etcd.security(), timeout=3)
    key = unique_prefix("dead-member") + b"key"
    try:
        for _ in range(3):  # round the members: the dead one is never called
            await client.put(key, b"x")
            assert await client.get(key) is not None
    finally:
        await client.close()


async def test_a_mirror_follows_on_once_its_etcd_token_has_expired(
    expiring_etcd: SecureEtcdServer,
) -> None:
    server = expiring_etcd
    client = Etcd(server.url, security=server.security())
    prefix = unique_prefix("expiry")

    def put(name: str) -> None:
        server.etcdctl("put", (prefix + name.encode()).decode(), name)

    def holds(mirror: Mirror[bytes], *names: str) -> Callable[[], bool]:
        return lambda: all(prefix + name.encode() in mirror.items for name in names)

    try:
        lease = await client.grant_lease(60)
        async with running(Mirror(client, prefix, values)) as first:
            put("k1")
            await eventually(holds(first, "k1"), "the mirror to see k1")
            await eventually(lambda: server.dropped_tokens() >= 1, "etcd to drop the token")
            # A watch etcd made goes on after its token has expired...
            put("k2")
            await eventually(holds(first, "k2"), "the mirror to see k2")
            # ... a request is refused, so the client logs in again and resends it ...
            await client.put(prefix + b"k3", b"k3")
            assert await client.refresh_lease(lease) == 60
            await eventually(holds(first, "k3"), "the mirror to see k3")
            await eventually(lambda: server.dropped_tokens() >= 2, "etcd to drop the new token")
            # ... and so is a new watch (etcd 3.4 says "permission denied" for it).
            async with running(Mirror(client, prefix, values)) as second:
                put("k4")
                await eventually(holds(second, "k1", "k4"), "the second mirror to see k4")
                # A restart forgets every token and breaks every watch: both resume.
                server.stop()
                server.start()
                assert await client.refresh_lease(lease) > 0  # etcd keeps leases, not tokens
                put("k5")
                await eventually(holds(first, "k5"), "the first mirror to resume")
                await eventually(holds(second, "k5"), "the second mirror to resume")
                every = {prefix + f"k{n}".encode() for n in range(1, 6)}
                assert set(first.items) == set(second.items) == every
    finally:
        await client.close()


def foreign_certificate(tmp_path: Path) -> tuple[Path, Path, Path]:
    """A CA etcd does not know, and a client certificate it signed: (ca, cert, key)."""
    create_ca(tmp_path / "other-ca")
    create_node_certificate(tmp_path / "other-ca", "intruder", tmp_path)
    return (
        tmp_path / "other-ca" / CA_CERT_FILE,
        tmp_path / "intruder.pem",
        tmp_path / "intruder-key.pem",
    )


async def test_without_a_certificate_etcd_trusts_no_connection_is_made(
    secure_etcd: SecureEtcdServer, tmp_path: Path
) -> None:
    other_ca, intruder, intruder_key = foreign_certificate(tmp_path)
    cert, key = secure_etcd.cert("node")
    password = secure_etcd.password_file
    refused = {
        "no client certificate": EtcdSecurity(
            cacert=secure_etcd.ca, user="ozy", password_file=password
        ),
        "a client certificate from another CA": EtcdSecurity(
            cacert=secure_etcd.ca,
            cert=intruder,
            key=intruder_key,
            user="ozy",
            password_file=password,
        ),
        "etcd's certificate not trusted": EtcdSecurity(
            cacert=other_ca, cert=cert, key=key, user="ozy", password_file=password
        ),
    }
    for case, security in refused.items():
        client = Etcd(secure_etcd.url, security=security, timeout=3)
        try:
            with pytest.raises(StoreUnavailable) as caught:
                await client.get(b"/ozy/")
            assert "TLS failed" in str(caught.value), f"{case}: {caught.value}"
        finally:
            await client.close()


async def test_a_wrong_password_or_no_user_is_refused_at_once(
    secure_etcd: SecureEtcdServer, tmp_path: Path
) -> None:
    wrong = tmp_path / "wrong-password"
    wrong.write_text("not-the-password\n")
    client = Etcd(secure_etcd.url, security=secure_etcd.security(password_file=wrong))
    try:
        with pytest.raises(EtcdAccessDenied, match=r"user 'ozy'.*invalid user ID or password"):
            await client.get(b"/ozy/")
    finally:
        await client.close()
    cert, key = secure_etcd.cert("node")
    anonymous = Etcd(
        secure_etcd.url, security=EtcdSecurity(cacert=secure_etcd.ca, cert=cert, key=key)
    )
    try:
        # etcd takes the certificate's common name ("node") for the user: no such role.
        with pytest.raises(EtcdAccessDenied, match="permission denied"):
            await anonymous.get(b"/ozy/")
    finally:
        await anonymous.close()


def test_a_node_on_tls_etcd_with_auth_runs_a_web_job_to_healthy(
    secure_etcd: SecureEtcdServer, pod_range: str, example_images: None, tmp_path: Path
) -> None:
    cert, key = secure_etcd.cert("node")
    name = f"tls{uuid.uuid4().hex[:6]}"
    node = NodeProcess(
        name=name,
        etcd_url=secure_etcd.url,
        work_dir=tmp_path / "nodes",
        pod_subnet=unused_pod_subnets(1, first=150)[0],
        extra_args=(
            "--etcd-cacert", str(secure_etcd.ca),
            "--etcd-cert", str(cert),
            "--etcd-key", str(key),
            "--etcd-user", SecureEtcdServer.USER,
            "--etcd-password-file", str(secure_etcd.password_file),
        ),
    )  # fmt: skip
    job = f"{name}-web"
    try:
        node.start()
        response = node.apply(WEB_JOB.format(name=job))
        assert response.status_code < 300, response.text
        node.wait_running(job, 1)
        wait_until_healthy(node, job)
        assert secure_etcd.keys(f"/ozy/jobs/{job}")
    finally:
        node.stop()
        remove_everything_of_node(name)
        secure_etcd.wipe()


def wait_until_healthy(node: NodeProcess, job: str) -> None:
    wait_until(
        lambda: {item["health"] for item in node.instances(job)} == {"healthy"},
        timeout=60,
        what=f"{job} to be healthy",
    )


def test_a_node_given_a_wrong_etcd_password_stops_at_once_saying_why(
    secure_etcd: SecureEtcdServer, tmp_path: Path
) -> None:
    cert, key = secure_etcd.cert("node")
    wrong = tmp_path / "wrong-password"
    wrong.write_text("not-the-password\n")
    node = NodeProcess(
        name=f"tls{uuid.uuid4().hex[:6]}",
        etcd_url=secure_etcd.url,
        work_dir=tmp_path / "nodes",
        pod_subnet=unused_pod_subnets(1, first=150)[0],
        extra_args=(
            "--etcd-cacert", str(secure_etcd.ca),
            "--etcd-cert", str(cert),
            "--etcd-key", str(key),
            "--etcd-user", SecureEtcdServer.USER,
            "--etcd-password-file", str(wrong),
        ),
    )  # fmt: skip
    try:
        node.start(wait=False)
        assert node.process is not None
        # Well before the node's wait for an etcd that does not answer would end.
        node.process.wait(timeout=20)
        assert node.process.returncode != 0
        assert "invalid user ID or password" in node.log_tail()
    finally:
        node.stop()
        remove_everything_of_node(node.name)


async def test_a_user_given_to_an_etcd_without_auth_sends_no_token(
    etcd: EtcdServer, tmp_path: Path
) -> None:
    # etcd answers "authentication is not enabled": the client goes on without a token.
    password = tmp_path / "password"
    password.write_text("unused\n")
    client = Etcd(etcd.url, security=EtcdSecurity(user="ozy", password_file=password))
    key = unique_prefix("no-auth") + b"key"
    try:
        await client.put(key, b"x")
        found = await client.get(key)
        assert found is not None and found.value == b"x"
    finally:
        await client.close()
