"""The cluster CA and node certificates (tls/certificates.py): what they say, and they chain."""

from __future__ import annotations

import datetime
import stat
from ipaddress import IPv4Address, IPv6Address, ip_address
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from cryptography.x509.verification import PolicyBuilder, Store, VerificationError

from ozymandias.tls.certificates import (
    CA_CERT_FILE,
    CA_KEY_FILE,
    Issued,
    check_name,
    create_ca,
    create_node_certificate,
    names_host,
    new_ca,
    new_node_certificate,
    parse_ips,
    read_ca,
)

NOW = datetime.datetime(2026, 6, 1, tzinfo=datetime.UTC)


@pytest.fixture(scope="module")
def ca() -> Issued:
    return new_ca(now=NOW)


def cert(issued: Issued) -> x509.Certificate:
    return x509.load_pem_x509_certificate(issued.cert_pem)


def verify_as_server(
    ca: Issued, leaf: Issued, name: x509.GeneralName, at: datetime.datetime
) -> None:
    """The chain as a TLS client checks it (web PKI rules), for `name`, at time `at`."""
    verifier = (
        PolicyBuilder().store(Store([cert(ca)])).time(at).build_server_verifier(name)  # type: ignore[arg-type]
    )
    verifier.verify(cert(leaf), [])


def test_the_ca_is_a_self_signed_p256_ca_that_signs_only_leaves(ca: Issued) -> None:
    certificate = cert(ca)
    assert certificate.subject == certificate.issuer
    assert isinstance(certificate.public_key(), ec.EllipticCurvePublicKey)
    assert certificate.public_key().curve.name == "secp256r1"  # type: ignore[union-attr]
    constraints = certificate.extensions.get_extension_for_class(x509.BasicConstraints)
    assert constraints.critical
    assert constraints.value.ca and constraints.value.path_length == 0
    usage = certificate.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.key_cert_sign and usage.crl_sign and usage.digital_signature


def test_a_node_certificate_chains_to_the_ca_for_each_of_its_names(ca: Issued) -> None:
    leaf = new_node_certificate(
        ca, "n1", ips=[IPv4Address("10.0.0.11")], dns_names=["n1.example.com"], now=NOW
    )
    at = NOW + datetime.timedelta(days=1)
    for name in (
        x509.DNSName("n1"),
        x509.DNSName("n1.example.com"),
        x509.DNSName("localhost"),
        x509.IPAddress(IPv4Address("10.0.0.11")),
        x509.IPAddress(IPv4Address("127.0.0.1")),
    ):
        verify_as_server(ca, leaf, name, at)
    with pytest.raises(VerificationError):
        verify_as_server(ca, leaf, x509.IPAddress(IPv4Address("10.0.0.12")), at)


def test_a_node_certificate_from_another_ca_does_not_chain(ca: Issued) -> None:
    stranger = new_node_certificate(new_ca(now=NOW), "n1", now=NOW)
    with pytest.raises(VerificationError):
        verify_as_server(ca, stranger, x509.DNSName("n1"), NOW + datetime.timedelta(days=1))


def test_a_node_certificate_names_the_node_and_serves_both_ends(ca: Issued) -> None:
    leaf = cert(
        new_node_certificate(
            ca,
            "n1",
            ips=[IPv4Address("10.0.0.11"), IPv6Address("fd00::11"), IPv4Address("127.0.0.1")],
            dns_names=["n1.example.com", "n1"],
            now=NOW,
        )
    )
    assert leaf.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "n1"
    assert leaf.issuer == cert(ca).subject
    sans = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    # Each name once, in order: the node's, the extra ones, then the loopback ones.
    assert sans.get_values_for_type(x509.DNSName) == ["n1", "n1.example.com", "localhost"]
    assert sans.get_values_for_type(x509.IPAddress) == [
        IPv4Address("10.0.0.11"),
        IPv6Address("fd00::11"),
        IPv4Address("127.0.0.1"),
    ]
    uses = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(uses) == [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
    usage = leaf.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature and not usage.key_cert_sign
    assert not leaf.extensions.get_extension_for_class(x509.BasicConstraints).value.ca


def test_validity_starts_a_little_early_and_lasts_the_days_asked(ca: Issued) -> None:
    leaf = cert(new_node_certificate(ca, "n1", days=30, now=NOW))
    # Backdated, so a node whose clock lags the signer's accepts it at once.
    assert leaf.not_valid_before_utc < NOW
    assert leaf.not_valid_after_utc == NOW + datetime.timedelta(days=30)
    late = NOW + datetime.timedelta(days=31)
    with pytest.raises(VerificationError):
        verify_as_server(
            ca, new_node_certificate(ca, "n1", days=30, now=NOW), x509.DNSName("n1"), late
        )
    assert cert(new_ca(days=10, now=NOW)).not_valid_after_utc == NOW + datetime.timedelta(days=10)


def test_names_host_reads_the_certificates_addresses_and_names(ca: Issued) -> None:
    pem = new_node_certificate(
        ca, "n1", ips=[IPv4Address("10.0.0.11")], dns_names=["N1.example.com"], now=NOW
    ).cert_pem
    for host in ("10.0.0.11", "127.0.0.1", "n1", "n1.example.com", "localhost"):
        assert names_host(pem, host), host
    for host in ("10.0.0.12", "::1", "n2", "example.com"):
        assert not names_host(pem, host), host
    assert not names_host(ca.cert_pem, "n1")  # the CA names no host


@pytest.mark.parametrize("name", ["n1", "etcd-a.example.com", "N1", "a", "x" * 253])
def test_dns_names_are_accepted(name: str) -> None:
    check_name(name)


@pytest.mark.parametrize(
    "name", ["", "-n1", "n1-", "a/b", "../n1", "n1..x", "n 1", "n1_x", ".n1", "x" * 254, "é"]
)
def test_other_names_are_refused_before_anything_is_made(ca: Issued, name: str) -> None:
    with pytest.raises(ValueError, match="is not a DNS name"):
        new_node_certificate(ca, name)
    with pytest.raises(ValueError, match="is not a DNS name"):
        new_node_certificate(ca, "n1", dns_names=[name])


def test_ips_are_parsed_and_a_bad_one_is_named() -> None:
    assert parse_ips(["10.0.0.11", "fd00::1"]) == [ip_address("10.0.0.11"), ip_address("fd00::1")]
    with pytest.raises(ValueError, match=r"--ip '10\.0\.0\.300' is not an IP address"):
        parse_ips(["10.0.0.1", "10.0.0.300"])


def test_files_are_written_keys_0600_and_never_replaced_without_force(tmp_path: Path) -> None:
    ca_dir = tmp_path / "ca"
    written = create_ca(ca_dir)
    assert written == [ca_dir / CA_CERT_FILE, ca_dir / CA_KEY_FILE]
    assert stat.S_IMODE((ca_dir / CA_KEY_FILE).stat().st_mode) == 0o600
    assert stat.S_IMODE(ca_dir.stat().st_mode) == 0o700
    ca = read_ca(ca_dir)
    cert_path, key_path = create_node_certificate(
        ca_dir, "n1", tmp_path / "n1", ips=[IPv4Address("10.0.0.11")]
    )
    assert (cert_path.name, key_path.name) == ("n1.pem", "n1-key.pem")
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    verify_as_server(
        ca,
        Issued(cert_path.read_bytes(), key_path.read_bytes()),
        x509.IPAddress(IPv4Address("10.0.0.11")),
        datetime.datetime.now(datetime.UTC),
    )
    before = key_path.read_bytes()
    with pytest.raises(FileExistsError, match="--force"):
        create_node_certificate(ca_dir, "n1", tmp_path / "n1")
    with pytest.raises(FileExistsError, match="--force"):
        create_ca(ca_dir)
    assert key_path.read_bytes() == before and read_ca(ca_dir) == ca
    create_node_certificate(ca_dir, "n1", tmp_path / "n1", force=True)
    assert key_path.read_bytes() != before
    assert sorted(p.name for p in (tmp_path / "n1").iterdir()) == ["n1-key.pem", "n1.pem"]


def test_a_missing_ca_is_named(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"no CA in .*ca\.pem.*ca-key\.pem missing"):
        create_node_certificate(tmp_path, "n1", tmp_path / "out")
    assert not (tmp_path / "out").exists()
