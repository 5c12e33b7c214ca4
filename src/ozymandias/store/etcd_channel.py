"""How the store reaches etcd: which members, over TLS or not, and as which etcd user.

aetcd's `Client` opens only plain channels (an `https://` URL was silently
dialled in clear) and authenticates once, for good, though etcd's tokens
expire. So `Etcd` keeps aetcd's generated gRPC stubs and messages, and owns
what lies under them: one channel per member, TLS credentials, and etcd's
token, renewed when etcd says it is no good any more.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import grpc
from aetcd import rpc

from ozymandias.store.etcd_errors import EtcdAccessDenied, store_error
from ozymandias.tls.settings import EtcdSecurity

# gRPC's default 4 MiB receive limit is too small for scans of big clusters.
# gRPC's reconnect back-off grows to 120 s, so after a long etcd outage a
# client would stay blind for up to two minutes after etcd is back; retrying
# the connection every second at worst costs nothing.
# A member whose host or network drops packets without a reset would leave a
# watch waiting for good, and the member's channel READY for its share of
# calls: pings while calls are open (every 10 s, unanswered after 5 s) find
# it dead. etcd accepts pings 5 s apart (--grpc-keepalive-min-time), and none
# without a call open, so none are sent then.
_CHANNEL_OPTIONS = (
    ("grpc.max_receive_message_length", 256 * 1024 * 1024),
    ("grpc.max_send_message_length", 64 * 1024 * 1024),
    ("grpc.max_reconnect_backoff_ms", 1000),
    ("grpc.keepalive_time_ms", 10_000),
    ("grpc.keepalive_timeout_ms", 5_000),
    ("grpc.keepalive_permit_without_calls", 0),
    ("grpc.http2.max_pings_without_data", 0),
)

_SCHEMES = ("http", "https")

# What a call carries for etcd's auth: its token, or nothing.
Metadata = tuple[tuple[str, str], ...] | None


@dataclass(frozen=True, slots=True)
class Member:
    host: str
    port: int

    @property
    def target(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


def _split(url: str) -> tuple[str | None, str, int]:
    """`https://a:2379` -> ("https", "a", 2379); a bare `a:2379` has no scheme (None)."""
    parsed = urlparse(url if "://" in url else f"//{url}")
    if not parsed.hostname:
        raise ValueError(f"{url!r} is not an etcd endpoint like http://127.0.0.1:2379")
    return parsed.scheme or None, parsed.hostname, parsed.port or 2379


def parse_endpoints(urls: str) -> list[tuple[str, int]]:
    """`http://a:2379,http://b:2379` -> [("a", 2379), ("b", 2379)]: the members of one cluster."""
    return [(member.host, member.port) for member in connection_plan(urls, EtcdSecurity()).members]


@dataclass(frozen=True, slots=True)
class ConnectionPlan:
    members: list[Member]
    tls: bool


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def connection_plan(urls: str, security: EtcdSecurity) -> ConnectionPlan:
    """Check that the URLs and the security settings agree, and say how to dial.

    Every URL has one scheme: a cluster is reached over TLS or not. A bare
    `host:port` takes TLS if TLS files are given. TLS files with `http://`
    URLs, or a password sent in clear off this host, are refused rather than
    quietly ignored or leaked.
    """
    parts = [_split(url.strip()) for url in urls.split(",") if url.strip()]
    if not parts:
        raise ValueError("no etcd endpoint given")
    schemes = {scheme for scheme, _, _ in parts if scheme is not None}
    unknown = schemes - set(_SCHEMES)
    if unknown:
        raise ValueError(f"etcd URLs are http:// or https://, not {sorted(unknown)[0]}://")
    if len(schemes) > 1:
        raise ValueError(f"etcd URLs mix http:// and https:// ({urls}): use one scheme for all")
    tls = schemes == {"https"} or (not schemes and security.tls)
    if security.tls and not tls:
        raise ValueError(
            f"--etcd-cacert/--etcd-cert are for TLS, but the etcd URLs are http:// ({urls}): "
            "use https:// URLs"
        )
    members = [Member(host, port) for _, host, port in parts]
    if security.user is not None and not tls:
        remote = [m.host for m in members if not _is_loopback(m.host)]
        if remote:
            raise ValueError(
                f"--etcd-user's password would cross the network in clear to {remote[0]}: "
                "use https:// etcd URLs"
            )
    return ConnectionPlan(members, tls)


def channel_credentials(security: EtcdSecurity) -> grpc.ChannelCredentials:
    """TLS credentials from the PEM files (no --etcd-cacert: the usual public roots)."""

    def read(path: Path | None) -> bytes | None:
        return path.read_bytes() if path is not None else None

    return grpc.ssl_channel_credentials(
        root_certificates=read(security.cacert),
        private_key=read(security.key),
        certificate_chain=read(security.cert),
    )


class Stubs:
    """One member's channel and the services the store calls on it."""

    def __init__(self, channel: grpc.aio.Channel) -> None:
        self.channel = channel
        self.kv = rpc.KVStub(channel)
        self.lease = rpc.LeaseStub(channel)
        self.watch = rpc.WatchStub(channel)
        self.auth = rpc.AuthStub(channel)


class Members:
    """A channel per member, and which one the next call goes to.

    One channel per member rather than one channel over an `ipv4:` list of
    them: with TLS, each member's certificate is checked against that
    member's own name, which one shared channel cannot do (it has one target
    name for all). Calls go round the members that are connected, as gRPC's
    round_robin would; a member that dies costs only the calls in flight.
    """

    def __init__(
        self,
        members: Sequence[Member],
        credentials: grpc.ChannelCredentials | None,
        *,
        connect_seconds: float,
    ) -> None:
        self._stubs = [Stubs(_open_channel(member, credentials)) for member in members]
        self._next = 0
        self._connect_seconds = connect_seconds

    async def pick(self) -> Stubs:
        if len(self._stubs) == 1:
            return self._stubs[0]  # its channel itself holds a call while it connects
        count = len(self._stubs)
        order = [self._stubs[(self._next + step) % count] for step in range(count)]
        self._next = (self._next + 1) % count
        states = [stubs.channel.get_state(try_to_connect=True) for stubs in order]
        if grpc.ChannelConnectivity.READY not in states and _ON_THE_WAY & set(states):
            # None connected yet (a new client, or all reconnecting): wait for the
            # first that is, as round_robin holds a call, rather than send it to a
            # member that may be down.
            states = await _until_one_connects(order, self._connect_seconds)
        return order[preferred(states)]

    async def close(self) -> None:
        for stubs in self._stubs:
            await stubs.channel.close()


def preferred(states: Sequence[grpc.ChannelConnectivity]) -> int:
    """Which member to call, given their channels' states in round-robin order.

    Connected members first, then those on their way; a failing member only
    if every member is failing (the call then fails fast, as it should).
    """
    for wanted in _PREFERRED_STATES:
        for index, state in enumerate(states):
            if state in wanted:
                return index
    return 0


async def _until_one_connects(
    order: Sequence[Stubs], seconds: float
) -> list[grpc.ChannelConnectivity]:
    """Wait until a member is connected or none is on its way any more; their states then."""
    states = [stubs.channel.get_state() for stubs in order]
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            while grpc.ChannelConnectivity.READY not in states and _ON_THE_WAY & set(states):
                changes = [
                    asyncio.ensure_future(stubs.channel.wait_for_state_change(state))
                    for stubs, state in zip(order, states, strict=True)
                ]
                try:
                    await asyncio.wait(changes, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    for change in changes:
                        change.cancel()
                states = [stubs.channel.get_state() for stubs in order]
    return states


_ON_THE_WAY = {grpc.ChannelConnectivity.IDLE, grpc.ChannelConnectivity.CONNECTING}

_PREFERRED_STATES = (
    {grpc.ChannelConnectivity.READY},
    _ON_THE_WAY,
)


def _open_channel(member: Member, credentials: grpc.ChannelCredentials | None) -> grpc.aio.Channel:
    if credentials is None:
        return grpc.aio.insecure_channel(member.target, options=_CHANNEL_OPTIONS)
    return grpc.aio.secure_channel(member.target, credentials, options=_CHANNEL_OPTIONS)


class Credentials:
    """etcd's auth token for one user: fetched when first needed, fetched again when stale."""

    def __init__(self, security: EtcdSecurity, timeout: float) -> None:
        self._security = security
        self._timeout = timeout
        self._token: str | None = None
        self._lock = asyncio.Lock()
        # Auth was off in etcd when we asked: no token to send until etcd says one is needed.
        self._auth_disabled = False

    @property
    def enabled(self) -> bool:
        return self._security.user is not None

    def metadata(self) -> Metadata:
        return (("token", self._token),) if self._token is not None else None

    async def ready(self, members: Members) -> Metadata:
        """The metadata to send with a call, authenticating first if no token is held yet."""
        if self.enabled and self._token is None and not self._auth_disabled:
            await self.renew(members, stale=None)
        return self.metadata()

    async def renew(self, members: Members, stale: Metadata) -> Metadata:
        """Authenticate again, unless another call already replaced the `stale` token."""
        async with self._lock:
            if self.metadata() != stale and self._token is not None:
                return self.metadata()
            user = self._security.user
            assert user is not None
            try:
                password = self._security.password()
            except OSError as error:
                raise EtcdAccessDenied(f"--etcd-password-file unreadable: {error}") from error
            request = rpc.AuthenticateRequest(name=user, password=password)
            try:
                stubs = await members.pick()
                reply = await stubs.auth.Authenticate(request, timeout=self._timeout)
            except grpc.aio.AioRpcError as error:
                if "authentication is not enabled" in (error.details() or ""):
                    # "authentication is not enabled": send no token until it is.
                    self._auth_disabled = True
                    self._token = None
                    return None
                failure = store_error(error, f"authenticate etcd user {user!r}")
                if error.code() == grpc.StatusCode.INVALID_ARGUMENT:
                    raise EtcdAccessDenied(str(failure)) from error
                raise failure from error
            self._auth_disabled = False
            self._token = str(reply.token)
            return self.metadata()
