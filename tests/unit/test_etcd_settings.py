"""How a node reaches etcd: URLs and security settings that agree, or a clear refusal."""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest

from ozymandias.node_config import NodeConfig
from ozymandias.store.etcd_channel import ConnectionPlan, Member, connection_plan, preferred
from ozymandias.store.etcd_errors import EtcdAccessDenied, is_stale_token, store_error
from ozymandias.tls.settings import EtcdSecurity

CA = EtcdSecurity(cacert=Path("ca.pem"))
CLIENT = EtcdSecurity(cacert=Path("ca.pem"), cert=Path("n1.pem"), key=Path("n1-key.pem"))
USER = EtcdSecurity(user="ozy", password_file=Path("password"))
USER_OVER_TLS = EtcdSecurity(cacert=Path("ca.pem"), user="ozy", password_file=Path("password"))


def plain(host: str) -> ConnectionPlan:
    return ConnectionPlan([Member(host, 2379)], False)


def tls(host: str) -> ConnectionPlan:
    return ConnectionPlan([Member(host, 2379)], True)


@pytest.mark.parametrize(
    ("urls", "security", "plan"),
    [
        ("http://127.0.0.1:2379", EtcdSecurity(), plain("127.0.0.1")),
        ("10.0.0.1", EtcdSecurity(), plain("10.0.0.1")),
        ("10.0.0.1:2379", CA, tls("10.0.0.1")),
        (
            "https://a:2379, https://b:2479",
            CLIENT,
            ConnectionPlan([Member("a", 2379), Member("b", 2479)], True),
        ),
        # https:// with no CA file: the usual public roots.
        ("https://etcd.example.com", EtcdSecurity(), tls("etcd.example.com")),
        ("https://etcd.example.com", USER_OVER_TLS, tls("etcd.example.com")),
        # A password to an etcd on this host never crosses a network.
        ("http://127.0.0.1:2379", USER, plain("127.0.0.1")),
        ("http://localhost:2379", USER, plain("localhost")),
        ("http://[::1]:2379", EtcdSecurity(), plain("::1")),
    ],
)
def test_urls_and_settings_that_agree_say_how_to_dial(
    urls: str, security: EtcdSecurity, plan: ConnectionPlan
) -> None:
    assert connection_plan(urls, security) == plan


@pytest.mark.parametrize(
    ("urls", "security", "refusal"),
    [
        ("https://a:2379,http://b:2379", CLIENT, "mix http:// and https://"),
        ("https://a:2379,http://b:2379", EtcdSecurity(), "mix http:// and https://"),
        ("http://a:2379", CA, "use https:// URLs"),
        ("http://a:2379,b:2379", CLIENT, "use https:// URLs"),
        ("http://10.0.0.1:2379", USER, "in clear to 10.0.0.1"),
        ("http://127.0.0.1:2379,http://10.0.0.2:2379", USER, "in clear to 10.0.0.2"),
        ("unix://etcd.sock", EtcdSecurity(), "not unix://"),
        (" , ", EtcdSecurity(), "no etcd endpoint"),
        ("https://:2379", EtcdSecurity(), "not an etcd endpoint"),
    ],
)
def test_contradicting_settings_are_refused(
    urls: str, security: EtcdSecurity, refusal: str
) -> None:
    with pytest.raises(ValueError, match=refusal):
        connection_plan(urls, security)


def test_a_node_with_contradicting_etcd_settings_is_refused_before_it_starts() -> None:
    with pytest.raises(ValueError, match="use https:// URLs"):
        NodeConfig(name="n1", etcd="http://10.0.0.1:2379", etcd_security=CLIENT)


def test_an_ipv6_member_is_dialled_in_brackets() -> None:
    assert Member("::1", 2379).target == "[::1]:2379"
    assert Member("a", 2379).target == "a:2379"


READY = grpc.ChannelConnectivity.READY
IDLE = grpc.ChannelConnectivity.IDLE
CONNECTING = grpc.ChannelConnectivity.CONNECTING
FAILING = grpc.ChannelConnectivity.TRANSIENT_FAILURE


@pytest.mark.parametrize(
    ("states", "chosen"),
    [
        ([READY, READY, READY], 0),
        ([FAILING, READY, READY], 1),
        ([CONNECTING, FAILING, READY], 2),
        ([FAILING, CONNECTING, FAILING], 1),
        ([FAILING, FAILING, IDLE], 2),
        ([FAILING, FAILING, FAILING], 0),
    ],
)
def test_calls_go_to_a_connected_member_first(
    states: list[grpc.ChannelConnectivity], chosen: int
) -> None:
    assert preferred(states) == chosen


def rpc_error(code: grpc.StatusCode, details: str) -> grpc.aio.AioRpcError:
    return grpc.aio.AioRpcError(code, grpc.aio.Metadata(), grpc.aio.Metadata(), details=details)


@pytest.mark.parametrize(
    ("code", "details", "stale"),
    [
        (grpc.StatusCode.UNAUTHENTICATED, "etcdserver: invalid auth token", True),
        (grpc.StatusCode.INVALID_ARGUMENT, "etcdserver: revision of auth store is old", True),
        (grpc.StatusCode.INVALID_ARGUMENT, "etcdserver: user name is empty", True),
        (grpc.StatusCode.PERMISSION_DENIED, "etcdserver: permission denied", False),
        (grpc.StatusCode.UNAVAILABLE, "connection refused", False),
    ],
)
def test_a_stale_token_is_told_from_other_failures(
    code: grpc.StatusCode, details: str, stale: bool
) -> None:
    assert is_stale_token(rpc_error(code, details)) is stale


def test_refusals_are_access_denied_with_a_hint_and_outages_are_not() -> None:
    denied = store_error(
        rpc_error(grpc.StatusCode.PERMISSION_DENIED, "etcdserver: permission denied"), "read /ozy/"
    )
    assert isinstance(denied, EtcdAccessDenied)
    assert "readwrite on /ozy/ and /skydns/" in str(denied)
    no_user = store_error(
        rpc_error(grpc.StatusCode.INVALID_ARGUMENT, "etcdserver: user name is empty"), "read"
    )
    assert isinstance(no_user, EtcdAccessDenied)
    assert "--etcd-user" in str(no_user)
    down = store_error(rpc_error(grpc.StatusCode.UNAVAILABLE, "connection refused"), "read")
    assert not isinstance(down, EtcdAccessDenied)
    assert "connection refused" in str(down)
