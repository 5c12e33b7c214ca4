"""Where a node keeps its pods' secret files (agent/secret_delivery.py): under /dev/shm, which
every user may write, so nothing planted there may steer what the node writes or removes."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, cast

import pytest

from ozymandias.agent.secret_delivery import SecretDelivery, SecretsUnavailable


def delivery(root: Path) -> SecretDelivery:
    return SecretDelivery("n1", cast(Any, None), None, root)


@pytest.fixture
def victim(tmp_path: Path) -> Path:
    """A directory an attacker would like the node to empty."""
    target = tmp_path / "victim"
    (target / "ssh").mkdir(parents=True)
    return target


def test_a_link_planted_for_the_nodes_directory_steers_nothing(
    tmp_path: Path, victim: Path
) -> None:
    shm = tmp_path / "shm" / "ozymandias"
    shm.mkdir(parents=True)
    (shm / "n1").symlink_to(victim)
    files = delivery(shm / "n1")
    mode = victim.stat().st_mode
    files.keep_only([])
    files.remove_all()
    assert (victim / "ssh").is_dir()
    with pytest.raises(SecretsUnavailable, match="not a directory of this node's user alone"):
        files._private_root()
    assert victim.stat().st_mode == mode  # not made 0700 through the link either


def test_a_parent_others_may_write_to_is_refused(tmp_path: Path) -> None:
    shm = tmp_path / "shm" / "ozymandias"
    shm.mkdir(parents=True)
    os.chmod(shm, 0o777)
    with pytest.raises(SecretsUnavailable, match="writable by others"):
        delivery(shm / "n1")._private_root()


def test_the_nodes_own_directory_is_made_private_and_emptied_of_gone_pods(tmp_path: Path) -> None:
    root = tmp_path / "shm" / "ozymandias" / "n1"
    root.parent.parent.mkdir()
    files = delivery(root)
    assert files._private_root() == root
    assert root.stat().st_mode & 0o777 == 0o700
    (root / "gone-pod").mkdir()
    (root / "running-pod").mkdir()
    files.keep_only(["running-pod"])
    assert sorted(p.name for p in root.iterdir()) == ["running-pod"]
    files.remove_all()
    assert not root.exists()
