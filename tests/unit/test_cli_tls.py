"""`ozy tls ca create` and `ozy tls cert create`: files, modes, refusals and exit codes."""

from __future__ import annotations

import json
import stat
from pathlib import Path

from cryptography import x509
from typer.testing import CliRunner

from ozymandias.cli.commands import app

runner = CliRunner()


def ozy(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


def test_a_ca_then_a_node_certificate(tmp_path: Path) -> None:
    ca = tmp_path / "tls"
    assert ozy("tls", "ca", "create", str(ca))[0] == 0
    code, output = ozy(
        "tls", "cert", "create", "--ca", str(ca), "--name", "n1",
        "--ip", "10.0.0.11", "--ip", "fd00::11", "--dns", "n1.example.com",
        "--out", str(tmp_path / "n1"), "--days", "30", "-o", "json",
    )  # fmt: skip
    assert code == 0, output
    written = json.loads(output)
    assert written == {"cert": str(tmp_path / "n1/n1.pem"), "key": str(tmp_path / "n1/n1-key.pem")}
    assert stat.S_IMODE(Path(written["key"]).stat().st_mode) == 0o600
    cert = x509.load_pem_x509_certificate(Path(written["cert"]).read_bytes())
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert [str(ip) for ip in sans.get_values_for_type(x509.IPAddress)] == [
        "10.0.0.11",
        "fd00::11",
        "127.0.0.1",
    ]
    # Without --out, next to the CA.
    assert ozy("tls", "cert", "create", "--ca", str(ca), "--name", "n2")[0] == 0
    assert (ca / "n2.pem").is_file() and (ca / "n2-key.pem").is_file()


def test_nothing_is_replaced_without_force(tmp_path: Path) -> None:
    ca = tmp_path / "tls"
    assert ozy("tls", "ca", "create", str(ca))[0] == 0
    key = (ca / "ca-key.pem").read_bytes()
    code, output = ozy("tls", "ca", "create", str(ca))
    assert code == 2
    assert "already exist" in output and "--force" in output
    assert (ca / "ca-key.pem").read_bytes() == key
    assert ozy("tls", "ca", "create", str(ca), "--force")[0] == 0
    assert (ca / "ca-key.pem").read_bytes() != key


def test_bad_input_exits_2_and_writes_nothing(tmp_path: Path) -> None:
    ca = tmp_path / "tls"
    assert ozy("tls", "ca", "create", str(ca))[0] == 0
    before = sorted(ca.iterdir())
    for args, message in [
        (["--name", "n1", "--ip", "10.0.0.300"], "--ip '10.0.0.300' is not an IP address"),
        (["--name", "n1/x"], "is not a DNS name"),
        (["--name", "n1", "--dns", "a b"], "is not a DNS name"),
        (["--name", "n1", "--days", "0"], "--days"),
    ]:
        code, output = ozy("tls", "cert", "create", "--ca", str(ca), *args)
        assert code == 2, args
        assert message in " ".join(output.split()), output
    code, output = ozy("tls", "cert", "create", "--ca", str(tmp_path / "none"), "--name", "n1")
    assert code == 2
    assert "no CA in" in output
    assert sorted(ca.iterdir()) == before
