"""A real image registry on loopback for the tests: Debian's `docker-registry` (the
distribution registry 2.8), with htpasswd auth and TLS from a test CA, holding the example
web image pushed with `podman push`."""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from pathlib import Path

import httpx

from tests.support.machine import free_port, run
from tests.support.tls import TestPki

SOURCE_IMAGE = "localhost/ozy-example-web:latest"
TAGS = ("1", "2", "latest")
"""The tags of `web` pushed: each test pulls its own, so no pull finds one left by another."""


class RegistryServer:
    """`docker-registry serve` on 127.0.0.1:<free port>, run by `start`, killed by `stop`."""

    __test__ = False

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.username = "ozy-test"
        self.password = f"pw-{time.time_ns()}"
        self.port = free_port()
        self.host = f"127.0.0.1:{self.port}"
        self.pki = TestPki(directory / "pki")
        self.cert_dir = directory / "certs"  # for podman push: ca.crt of the test CA
        self.log_path = directory / "registry.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def ca_pem(self) -> Path:
        return self.pki.ca

    def image(self, tag: str) -> str:
        return f"{self.host}/web:{tag}"

    def start(self) -> None:
        certificate = self.pki.certificate("registry", ips=("127.0.0.1",))
        self.cert_dir.mkdir(parents=True)
        shutil.copy(self.pki.ca, self.cert_dir / "ca.crt")
        htpasswd = self.directory / "htpasswd"
        made = run("htpasswd", "-Bbn", self.username, self.password)
        htpasswd.write_text(made.stdout)
        config = self.directory / "config.yml"
        config.write_text(
            "version: 0.1\n"
            "log: {level: info}\n"
            f"storage: {{filesystem: {{rootdirectory: {self.directory / 'data'}}}}}\n"
            "http:\n"
            f"  addr: {self.host}\n"
            f"  tls: {{certificate: {certificate.cert}, key: {certificate.key}}}\n"
            f"auth: {{htpasswd: {{realm: ozy-test, path: {htpasswd}}}}}\n"
        )
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                ["docker-registry", "serve", str(config)], stdout=log, stderr=subprocess.STDOUT
            )
        self._wait_until_ready()
        for tag in TAGS:
            run(
                "podman", "push", "--quiet",
                "--creds", f"{self.username}:{self.password}",
                "--cert-dir", str(self.cert_dir),
                SOURCE_IMAGE, self.image(tag),
                timeout=120,
            )  # fmt: skip

    def _wait_until_ready(self) -> None:
        deadline = time.monotonic() + 30
        while True:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"docker-registry exited: {self.log_path.read_text()[-2000:]}")
            try:
                # 401 is an answer: the registry serves, and asks for a login.
                if httpx.get(f"https://{self.host}/v2/", verify=self.pki.context()).status_code:
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("docker-registry did not answer within 30 s")
            time.sleep(0.1)

    def manifest_fetches(self, tag: str) -> int:
        """GETs of `web:<tag>`'s manifest that the registry answered 200: one per pull."""
        # The access log's lines, as Apache's: "GET /v2/web/manifests/1 HTTP/1.1" 200
        pattern = re.compile(rf'"GET /v2/web/manifests/{re.escape(tag)} HTTP/[0-9.]+" 200 ')
        return sum(1 for line in self.log_path.read_text().splitlines() if pattern.search(line))

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def remove_pulled_images(self) -> None:
        """Take this registry's names off podman's store, so the next pull is a pull.

        Untag, never rmi: a pulled image is the example image under another name
        (same layers, same id), which the other tests need.
        """
        for tag in TAGS:
            run("podman", "untag", self.image(tag), self.image(tag), check=False)
