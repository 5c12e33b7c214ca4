"""What a node reports of its software, for kubectl's `get nodes -o wide`."""

from __future__ import annotations

import platform

import pytest

from ozymandias import __version__
from ozymandias.node_config import this_host_software


@pytest.mark.parametrize(
    ("machine", "architecture"),
    [("x86_64", "amd64"), ("aarch64", "arm64"), ("armv7l", "arm"), ("riscv64", "riscv64")],
)
def test_architecture_in_kubernetes_words(
    monkeypatch: pytest.MonkeyPatch, machine: str, architecture: str
) -> None:
    monkeypatch.setattr(platform, "machine", lambda: machine)
    assert this_host_software().architecture == architecture


def test_version_kernel_and_os(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(platform, "freedesktop_os_release", lambda: {"PRETTY_NAME": "Debian 12"})
    software = this_host_software()
    assert software.ozy_version == __version__
    assert software.kernel_version == platform.release()
    assert software.os_image == "Debian 12"


def test_a_host_without_os_release(monkeypatch: pytest.MonkeyPatch) -> None:
    def missing() -> dict[str, str]:
        raise OSError("no os-release")

    monkeypatch.setattr(platform, "freedesktop_os_release", missing)
    assert this_host_software().os_image == ""
