"""The API's and its clients' SSL contexts (tls/contexts.py), shaking hands in memory."""

from __future__ import annotations

import ssl
from ipaddress import IPv4Address
from pathlib import Path

import pytest

from ozymandias.node_config import NodeConfig, api_warnings
from ozymandias.tls.certificates import create_ca, create_node_certificate
from ozymandias.tls.contexts import ClientTls, client_context, server_context
from ozymandias.tls.settings import ServerTls


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A CA with certificates n1 and n2 in ca/, and another CA with its own n1 in other/."""
    root = tmp_path_factory.mktemp("pki")
    create_ca(root / "ca")
    for name in ("n1", "n2"):
        create_node_certificate(root / "ca", name, root / "ca", ips=[IPv4Address("10.0.0.11")])
    create_ca(root / "other")
    create_node_certificate(root / "other", "n1", root / "other")
    return root


def server_of(pki: Path, *, require_clients: bool = False) -> ssl.SSLContext:
    client_ca = pki / "ca" / "ca.pem" if require_clients else None
    return server_context(ServerTls(pki / "ca" / "n1.pem", pki / "ca" / "n1-key.pem", client_ca))


def handshake(server: ssl.SSLContext, client: ssl.SSLContext, host: str = "n1") -> None:
    """Both ends' handshakes over memory buffers; the first end to fail raises its SSLError."""
    client_in, client_out, server_in, server_out = (ssl.MemoryBIO() for _ in range(4))
    server_end = server.wrap_bio(server_in, server_out, server_side=True)
    client_end = client.wrap_bio(client_in, client_out, server_hostname=host)
    done: set[str] = set()
    for _ in range(10):
        for name, end in (("client", client_end), ("server", server_end)):
            if name in done:
                continue
            try:
                end.do_handshake()
                done.add(name)
            except ssl.SSLWantReadError:
                pass
        server_in.write(client_out.read())
        client_in.write(server_out.read())
        if len(done) == 2:
            return
    raise AssertionError("the handshake did not finish")


def test_a_client_trusting_the_cluster_ca_reaches_the_api_by_name_or_address(pki: Path) -> None:
    client = client_context(ClientTls(ca=pki / "ca" / "ca.pem"))
    for host in ("n1", "localhost", "127.0.0.1", "10.0.0.11"):
        handshake(server_of(pki), client, host)


def test_a_client_refuses_another_cas_certificate_and_a_name_not_in_it(pki: Path) -> None:
    stranger = server_context(ServerTls(pki / "other" / "n1.pem", pki / "other" / "n1-key.pem"))
    client = client_context(ClientTls(ca=pki / "ca" / "ca.pem"))
    with pytest.raises(ssl.SSLCertVerificationError, match="unable to get local issuer"):
        handshake(stranger, client)
    with pytest.raises(ssl.SSLCertVerificationError, match="mismatch"):
        handshake(server_of(pki), client, "10.0.0.12")
    # The system's CAs do not know the cluster's.
    with pytest.raises(ssl.SSLCertVerificationError):
        handshake(server_of(pki), client_context(ClientTls()))


def test_an_api_requiring_client_certificates_refuses_a_client_without_one(pki: Path) -> None:
    without = client_context(ClientTls(ca=pki / "ca" / "ca.pem"))
    with pytest.raises(ssl.SSLError, match="PEER_DID_NOT_RETURN_A_CERTIFICATE"):
        handshake(server_of(pki, require_clients=True), without)


def test_it_refuses_a_client_certificate_of_another_ca_and_takes_its_own(pki: Path) -> None:
    ca = pki / "ca" / "ca.pem"
    stranger = ClientTls(ca=ca, cert=pki / "other" / "n1.pem", key=pki / "other" / "n1-key.pem")
    with pytest.raises(ssl.SSLError, match="CERTIFICATE_VERIFY_FAILED"):
        handshake(server_of(pki, require_clients=True), client_context(stranger))
    member = ClientTls(ca=ca, cert=pki / "ca" / "n2.pem", key=pki / "ca" / "n2-key.pem")
    handshake(server_of(pki, require_clients=True), client_context(member))


def test_files_that_are_missing_or_wrong_are_named_by_their_flag(pki: Path) -> None:
    ca = pki / "ca"
    with pytest.raises(ValueError, match=r"--tls-cert .*nope\.pem: no such file"):
        server_context(ServerTls(ca / "nope.pem", ca / "n1-key.pem"))
    with pytest.raises(ValueError, match="are not a PEM certificate and its private key"):
        server_context(ServerTls(ca / "n1.pem", ca / "n2-key.pem"))
    with pytest.raises(ValueError, match=r"--tls-client-ca .* is not a PEM CA certificate"):
        server_context(ServerTls(ca / "n1.pem", ca / "n1-key.pem", ca / "n1-key.pem"))
    with pytest.raises(ValueError, match=r"--ca .*: no such file"):
        client_context(ClientTls(ca=ca / "nope.pem"))
    with pytest.raises(ValueError, match="--client-cert and --client-key go together"):
        ClientTls(cert=ca / "n1.pem")


def test_a_node_calls_peers_with_its_own_certificate_trusting_its_client_ca(
    pki: Path,
) -> None:
    ca = pki / "ca"
    tls = ServerTls(ca / "n1.pem", ca / "n1-key.pem", ca / "ca.pem")
    peer = NodeConfig(name="n1", api_tls=tls).peer_tls
    assert (peer.ca, peer.cert, peer.key) == (ca / "ca.pem", ca / "n1.pem", ca / "n1-key.pem")
    assert NodeConfig(name="n1", api_tls=tls, peer_ca=pki / "x.pem").peer_tls.ca == pki / "x.pem"
    # Without certificates of its own: no client certificate, and the system's CAs.
    assert NodeConfig(name="n1").peer_tls == ClientTls(
        ca_flag="--tls-ca", cert_flag="--tls-cert", key_flag="--tls-key"
    )


def test_a_node_warns_of_plain_http_and_of_a_certificate_not_naming_its_address(
    pki: Path,
) -> None:
    ca = pki / "ca"
    tls = ServerTls(ca / "n1.pem", ca / "n1-key.pem")
    assert api_warnings(NodeConfig(name="n1"), "127.0.0.1") == []
    insecure = NodeConfig(name="n1", api_host="0.0.0.0", insecure_http=True)
    assert "--insecure-http: the API serves plain HTTP" in api_warnings(insecure, "10.0.0.11")[0]
    secure = NodeConfig(name="n1", api_host="0.0.0.0", api_tls=tls)
    assert api_warnings(secure, "10.0.0.11") == []
    (wrong,) = api_warnings(secure, "10.0.0.12")
    assert "does not name 10.0.0.12" in wrong and "--ip 10.0.0.12" in wrong
