"""The real kubectl, against a test node's Kubernetes API, with a kubeconfig from `ozy kubeconfig`.

Which kubectl: `OZY_TEST_KUBECTL` (e.g. Debian's 1.20 unpacked somewhere), else
`kubectl` on PATH (setup/setup.sh installs Debian's `kubernetes-client` when
there is none). The kubeconfig is written by `ozy kubeconfig`, so that command
is tested with every call; each kubeconfig has its own discovery cache, so no
run sees another's cached API.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from tests.support.auth import TEST_ADMIN_SECRET
from tests.support.cli_process import RunningCommand
from tests.support.nodes import NodeProcess

KUBECTL_ENV = "OZY_TEST_KUBECTL"


def kubectl_binary() -> str:
    """The kubectl the tests run; RuntimeError if there is none."""
    chosen = os.environ.get(KUBECTL_ENV) or shutil.which("kubectl")
    if not chosen:
        raise RuntimeError(f"no kubectl: set {KUBECTL_ENV} or run `make setup`")
    return chosen


@dataclass(frozen=True)
class Kubectl:
    """kubectl with one kubeconfig: `kubectl("get", "pods")` is a CompletedProcess."""

    binary: str
    kubeconfig: Path

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "KUBECONFIG": str(self.kubeconfig), "COLUMNS": "200"}

    def command(self, *arguments: str) -> list[str]:
        cache = self.kubeconfig.parent / f"{self.kubeconfig.name}-cache"
        return [self.binary, "--cache-dir", str(cache), *arguments]

    def __call__(
        self, *arguments: str, check: bool = True, stdin: str | None = None, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            self.command(*arguments),
            input=stdin,
            capture_output=True,
            text=True,
            env=self.env,
            timeout=timeout,
            check=False,
        )
        if check and done.returncode != 0:
            raise AssertionError(
                f"kubectl {' '.join(arguments)} exited {done.returncode}: {done.stderr}"
            )
        return done

    def background(self, *arguments: str) -> RunningCommand:
        """kubectl running on (`get -w`, `logs -f`), its output read while it runs."""
        return RunningCommand(self.command(*arguments), self.env)


def write_kubeconfig(
    node: NodeProcess, path: Path, token: str = TEST_ADMIN_SECRET, ozy_options: Sequence[str] = ()
) -> Path:
    """`ozy [OZY_OPTIONS] kubeconfig` for `node`'s Kubernetes API with `token`, saved at `path`
    (`ozy_options`: e.g. `--ca`, `--client-cert`, `--client-key` for a node with TLS)."""
    command = [sys.executable, "-m", "ozymandias.cli.main", *ozy_options, "kubeconfig"]
    command += ["--api", node.api, "--kube-port", str(node.kube_port), "--token", token]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(done.stdout)
    return path


def kubectl_for(
    node: NodeProcess,
    directory: Path,
    token: str = TEST_ADMIN_SECRET,
    ozy_options: Sequence[str] = (),
) -> Kubectl:
    """kubectl against `node`, as the holder of `token`."""
    name = f"kubeconfig-{node.name}-{token[:8]}"
    path = write_kubeconfig(node, directory / name, token, ozy_options)
    return Kubectl(kubectl_binary(), path)
