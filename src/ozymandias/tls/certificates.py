"""A cluster CA and the node certificates it signs, as `nomad tls ca create` / `cert create` do.

The pure part builds certificates in memory (`new_ca`, `new_node_certificate`);
`create_ca` and `create_node_certificate` read and write the PEM files.
Keys are ECDSA P-256: small, fast to handshake, and accepted by every party
here (uvicorn's ssl module, gRPC's BoringSSL, etcd's Go TLS).

A node certificate is good for both ends of a connection (serverAuth and
clientAuth): the same files serve the node's API, prove the node to its
peers, and prove it to etcd when etcd requires client certificates.
"""

from __future__ import annotations

import datetime
import os
import re
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address, ip_address
from pathlib import Path
from typing import TypeVar

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_DAYS = 5 * 365
CERT_DAYS = 365
CA_CERT_FILE = "ca.pem"
CA_KEY_FILE = "ca-key.pem"
CA_NAME = "Ozymandias cluster CA"
# Always in a node certificate, so clients on the node itself can verify it.
LOCAL_DNS_NAMES = ("localhost",)
LOCAL_IPS = (IPv4Address("127.0.0.1"),)
# A clock a little behind the signer's must not see a fresh certificate as not yet valid.
_BACKDATE = datetime.timedelta(minutes=5)
_T = TypeVar("_T")
_NAME = re.compile(r"[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?")


@dataclass(frozen=True)
class Issued:
    """A certificate and its private key, both PEM."""

    cert_pem: bytes
    key_pem: bytes


def new_ca(*, days: int = CA_DAYS, now: datetime.datetime | None = None) -> Issued:
    """A self-signed CA that may sign leaf certificates only (path length 0)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, CA_NAME)])
    start = (now or _utc_now()) - _BACKDATE
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + _BACKDATE + datetime.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(cert_sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return Issued(_cert_pem(cert), _key_pem(key))


def new_node_certificate(
    ca: Issued,
    name: str,
    *,
    ips: Sequence[IPv4Address | IPv6Address] = (),
    dns_names: Sequence[str] = (),
    days: int = CERT_DAYS,
    now: datetime.datetime | None = None,
) -> Issued:
    """A certificate for `name`, signed by `ca`, for servers and clients alike.

    Its names: `name`, `dns_names` and localhost; `ips` and 127.0.0.1.
    """
    check_name(name)
    for dns_name in dns_names:
        check_name(dns_name)
    ca_cert = x509.load_pem_x509_certificate(ca.cert_pem)
    ca_key = serialization.load_pem_private_key(ca.key_pem, password=None)
    if not isinstance(ca_key, ec.EllipticCurvePrivateKey):
        raise ValueError("the CA key is not an ECDSA key (was it made by `ozy tls ca create`?)")
    key = ec.generate_private_key(ec.SECP256R1())
    start = (now or _utc_now()) - _BACKDATE
    sans: list[x509.GeneralName] = [
        *(x509.DNSName(dns) for dns in _unique([name, *dns_names, *LOCAL_DNS_NAMES])),
        *(x509.IPAddress(ip) for ip in _unique([*ips, *LOCAL_IPS])),
    ]
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + _BACKDATE + datetime.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(cert_sign=False), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=False,
        )
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    return Issued(_cert_pem(cert), _key_pem(key))


def new_loopback_certificate(
    name: str, *, days: int = CA_DAYS, now: datetime.datetime | None = None
) -> Issued:
    """A self-signed certificate for localhost and 127.0.0.1 only, its own root: a client
    trusts it by holding it (as a kubeconfig's certificate-authority-data)."""
    check_name(name)
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    start = (now or _utc_now()) - _BACKDATE
    sans = [
        *(x509.DNSName(dns) for dns in LOCAL_DNS_NAMES),
        *(x509.IPAddress(ip) for ip in LOCAL_IPS),
    ]
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + _BACKDATE + datetime.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return Issued(_cert_pem(cert), _key_pem(key))


def write_loopback_certificate(directory: Path, name: str) -> tuple[Path, Path]:
    """`<directory>/<name>.pem` and its key (0600), made by `new_loopback_certificate` unless
    both are there already; returns them."""
    cert_path, key_path = directory / f"{name}.pem", directory / f"{name}-key.pem"
    if not (cert_path.is_file() and key_path.is_file()):
        issued = new_loopback_certificate(name)
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        _write(key_path, issued.key_pem, 0o600)
        _write(cert_path, issued.cert_pem, 0o644)
    return cert_path, key_path


def names_host(cert_pem: bytes, host: str) -> bool:
    """Whether the certificate's subject alternative names include `host` (an address or a
    DNS name; wildcards are not matched), as a client checking it would require."""
    cert = x509.load_pem_x509_certificate(cert_pem)
    try:
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return False
    if _is_ip(host):
        return ip_address(host) in sans.get_values_for_type(x509.IPAddress)
    return host.lower() in (name.lower() for name in sans.get_values_for_type(x509.DNSName))


def check_name(name: str) -> None:
    """A DNS name (letters, digits, '-' and '.'): `name` is also a file name, so no '/'."""
    if not _NAME.fullmatch(name) or ".." in name:
        raise ValueError(f"{name!r} is not a DNS name like n1 or etcd-a.example.com")


def parse_ips(values: Sequence[str]) -> list[IPv4Address | IPv6Address]:
    """`--ip` values as addresses; ValueError names the one that is not."""
    try:
        return [ip_address(value) for value in values]
    except ValueError:
        bad = next(value for value in values if not _is_ip(value))
        raise ValueError(f"--ip {bad!r} is not an IP address") from None


def create_ca(directory: Path, *, days: int = CA_DAYS, force: bool = False) -> list[Path]:
    """Write a new CA's `ca.pem` and `ca-key.pem` (0600) into `directory`; returns them."""
    cert_path, key_path = directory / CA_CERT_FILE, directory / CA_KEY_FILE
    _refuse_overwriting([cert_path, key_path], force=force)
    ca = new_ca(days=days)
    # Only the CA's holder needs to open its directory: it holds the key every node trusts.
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    _write(key_path, ca.key_pem, 0o600)
    _write(cert_path, ca.cert_pem, 0o644)
    return [cert_path, key_path]


def create_node_certificate(
    ca_directory: Path,
    name: str,
    out: Path,
    *,
    ips: Sequence[IPv4Address | IPv6Address] = (),
    dns_names: Sequence[str] = (),
    days: int = CERT_DAYS,
    force: bool = False,
) -> list[Path]:
    """Write `<name>.pem` and `<name>-key.pem` (0600), signed by the CA in `ca_directory`."""
    check_name(name)
    cert_path, key_path = out / f"{name}.pem", out / f"{name}-key.pem"
    _refuse_overwriting([cert_path, key_path], force=force)
    ca = read_ca(ca_directory)
    issued = new_node_certificate(ca, name, ips=ips, dns_names=dns_names, days=days)
    out.mkdir(parents=True, exist_ok=True)
    _write(key_path, issued.key_pem, 0o600)
    _write(cert_path, issued.cert_pem, 0o644)
    return [cert_path, key_path]


def read_ca(directory: Path) -> Issued:
    """The CA `create_ca` wrote into `directory`; ValueError says what is missing."""
    cert_path, key_path = directory / CA_CERT_FILE, directory / CA_KEY_FILE
    missing = [str(path) for path in (cert_path, key_path) if not path.is_file()]
    if missing:
        raise ValueError(
            f"no CA in {directory}: {', '.join(missing)} missing (`ozy tls ca create` makes one)"
        )
    return Issued(cert_path.read_bytes(), key_path.read_bytes())


def _refuse_overwriting(paths: list[Path], *, force: bool) -> None:
    # Checked before anything is written, so a refusal leaves every file as it was.
    existing = [str(path) for path in paths if path.exists()]
    if existing and not force:
        raise FileExistsError(f"{', '.join(existing)} already exist(s): pass --force to replace")


def _write(path: Path, data: bytes, mode: int) -> None:
    """Write `path` whole or not at all, created with `mode` (a key is never readable by others,
    not even for an instant)."""
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.fchmod(descriptor, mode)
        with os.fdopen(descriptor, "wb") as file:
            file.write(data)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _key_usage(*, cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


def _cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _unique(items: Sequence[_T]) -> list[_T]:
    return list(dict.fromkeys(items))


def _is_ip(value: str) -> bool:
    try:
        ip_address(value)
    except ValueError:
        return False
    return True


def _utc_now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)
