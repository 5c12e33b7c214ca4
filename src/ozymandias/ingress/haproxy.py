"""The node's HAProxy: the only code that runs it and talks to its runtime API.

HAProxy is the data plane because it is a proven proxy that changes its
servers at runtime without a reload and reloads without refusing a
connection; the routes themselves are ours (see `controller.py`).

Each process generation has its own stats socket, so a command never lands
on a process that is on its way out. A reload starts a new process with
`-x <old socket>` (it takes over the listening sockets, which the old one
exposes) and `-sf <old pid>` (the old one stops accepting and finishes what
it has). HAProxy runs master-worker: the process started here is the
master, which stays root and dies with the daemon (PR_SET_PDEATHSIG), like
the podman service; its worker serves, as an unprivileged user once its
ports are bound, and exits with the master. (A process that changes user
loses its death signal, so a single HAProxy that dropped root would
outlive a killed daemon.) The worker needs nothing of the root-owned runtime
directory after that: the config and map are read and the stats socket
bound before it drops, and only the daemon, as root, connects to the
socket, signals the old master (`-sf`) and removes the files. If HAProxy
dies on its own (a dead worker takes its master along), `run()` starts it
again from the current layout.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import grp
import logging
import os
import pwd
import shutil
import socket
import subprocess
import time
from collections.abc import Coroutine, Iterable, Sequence
from ipaddress import IPv4Network, IPv6Network
from pathlib import Path

from ozymandias.child_process import die_with_parent, stop_child
from ozymandias.ingress.haproxy_config import (
    Layout,
    Settings,
    render_config,
    render_hosts_map,
    runtime_commands,
)
from ozymandias.ingress.haproxy_stderr import stderr_level
from ozymandias.ingress.runtime_api import run_commands, send
from ozymandias.metrics.ingress_updates import RELOAD_DURATION, observe_runtime_update

log = logging.getLogger(__name__)

_READY_SECONDS = 10.0
_CHECK_ATTEMPTS = 3
_STOP_GRACE_SECONDS = 5.0
_RESTART_DELAY_SECONDS = 1.0
_STDERR_LINES_KEPT = 20
# How long an exited HAProxy's last stderr lines may take to be read, to say why it exited.
_STDERR_READ_SECONDS = 1.0
# `show stat` for a few hundred pools is a few hundred kB; more is not HAProxy's answer.
_STATS_MAX_BYTES = 16 * 1024 * 1024


class HaproxyError(Exception):
    """HAProxy refused a configuration or a command, or would not start."""


def _primary_group(user: str) -> str:
    return grp.getgrgid(pwd.getpwnam(user).pw_gid).gr_name


class Haproxy:
    def __init__(
        self,
        runtime_dir: Path,
        http_port: int,
        binary: str = "haproxy",
        *,
        user: str | None = "nobody",
        group: str | None = None,
        trusted_proxies: Sequence[IPv4Network | IPv6Network] = (),
    ) -> None:
        """`user`: who the worker runs as once its ports are bound (None: root);
        `group`: its group (None: the user's own, which distributions name differently)."""
        self.runtime_dir = runtime_dir
        self.http_port = http_port
        self._binary = binary
        self._user = user
        self._group = group if group is not None or user is None else _primary_group(user)
        self._trusted_proxies = tuple(trusted_proxies)
        self._layout = Layout()
        self._process: asyncio.subprocess.Process | None = None
        self._generation = 0
        self._lock = asyncio.Lock()
        self._launched = asyncio.Event()  # set by each new generation, for `run`
        self._stderr_tail: collections.deque[str] = collections.deque(maxlen=_STDERR_LINES_KEPT)
        # Generations the node told to stop (a reload's -sf, or the node stopping): their
        # goodbyes ("Exiting Master process", the worker "exited with code 143") are routine.
        self._told_to_stop: set[int] = set()
        self._background: set[asyncio.Task[None]] = set()

    @property
    def layout(self) -> Layout:
        """What HAProxy serves now."""
        return self._layout

    @property
    def config_path(self) -> Path:
        return self.runtime_dir / "haproxy.cfg"

    @property
    def pid(self) -> int | None:
        process = self._process
        return process.pid if process is not None and process.returncode is None else None

    def _settings(self, generation: int) -> Settings:
        return Settings(
            http_port=self.http_port,
            stats_socket=self.runtime_dir / f"stats-{generation}.sock",
            hosts_map=self.runtime_dir / f"hosts-{generation}.map",
            user=self._user,
            group=self._group,
            trusted_proxies=self._trusted_proxies,
        )

    def held_tcp_ports(self) -> frozenset[int]:
        """The TCP ingress ports the running HAProxy listens on (none while it is down)."""
        if self.pid is None:
            return frozenset()
        return frozenset(
            pool.listen_port
            for pool in self._layout.pools
            if pool.mode == "tcp" and pool.listen_port is not None
        )

    def taken_ports(self, ports: Iterable[int]) -> frozenset[int]:
        """Those of `ports` HAProxy could not bind now: another process holds them.

        Bound and closed at once, as HAProxy binds them (SO_REUSEADDR, so a
        connection in TIME_WAIT is no holder); only a socket bound to the
        port, a listener above all, makes it fail.
        """
        address = self._settings(self._generation).bind_address
        taken = set()
        for port in ports:
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                try:
                    probe.bind((address, port))
                except OSError:
                    taken.add(port)
        return frozenset(taken)

    def read_stats(self, timeout: float) -> tuple[Layout, str]:
        """The layout served now and `show stat`'s CSV from the running generation.

        Blocking, within `timeout` seconds in all: prometheus_client calls its
        collectors synchronously, at scrape time. The layout is read first, so
        a slot it shows filled was filled before the counters were read.
        Raises OSError (TimeoutError too) when HAProxy is down, reloading, or slow.
        """
        layout, generation = self._layout, self._generation
        if self.pid is None:
            raise ConnectionRefusedError("HAProxy is not running")
        deadline = time.monotonic() + timeout
        reply = bytearray()
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as stats:
            stats.settimeout(timeout)
            stats.connect(str(self._settings(generation).stats_socket))
            stats.sendall(b"show stat\n")
            while chunk := stats.recv(65536):
                reply += chunk
                if len(reply) > _STATS_MAX_BYTES:
                    raise OSError(f"HAProxy's stats exceed {_STATS_MAX_BYTES} bytes")
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"HAProxy's stats took over {timeout}s")
                stats.settimeout(remaining)
        return layout, reply.decode(errors="replace")

    async def start(self, layout: Layout | None = None) -> None:
        """Start HAProxy serving `layout` (None: no routes, the HTTP port answers 404).

        A node that starts in a cluster already running starts it with every
        route at once: one process to start, not an empty one and then a reload.
        """
        async with self._lock:
            self.runtime_dir.mkdir(parents=True, exist_ok=True)
            for pattern in ("stats-*.sock", "hosts-*.map"):
                for leftover in self.runtime_dir.glob(pattern):
                    leftover.unlink()
            await self._launch(self._layout if layout is None else layout)

    async def apply(self, layout: Layout) -> None:
        """Make HAProxy serve `layout`: by runtime commands if the shape is unchanged, else reload.

        Runtime commands leave the config file as the last reload wrote it:
        rendering every pool anew on each health change would cost a node with
        thousands of jobs more than the change itself, and a reload or a
        restart renders the file from the current layout anyway.
        """
        async with self._lock:
            if layout == self._layout:
                return
            if layout.shape() == self._layout.shape() and self.pid is not None:
                commands = runtime_commands(self._layout, layout)
                try:
                    await self._command(commands)
                except (HaproxyError, OSError) as error:
                    log.warning("runtime update failed (%s): reloading HAProxy instead", error)
                    await self._launch(layout)
                    return
                observe_runtime_update(len(commands))
                self._layout = layout
                return
            await self._launch(layout)

    async def run(self) -> None:
        """Restart HAProxy from the current layout whenever it dies, until cancelled.

        Waits on the process's exit rather than looking every so often: an idle node
        does nothing on a timer."""
        while True:
            process = self._process
            if process is None:
                self._launched.clear()
                await self._launched.wait()
                continue
            await process.wait()
            async with self._lock:
                if self._process is not process:
                    continue  # a reload replaced it (its exit was expected), or a stop
                log.error(
                    "HAProxy (pid %d) exited with %s; restarting it. stderr: %s",
                    process.pid,
                    process.returncode,
                    " | ".join(self._stderr_tail),
                )
                try:
                    await self._launch(self._layout)
                except HaproxyError as error:
                    log.error("could not restart HAProxy (trying again): %s", error)
                    await asyncio.sleep(_RESTART_DELAY_SECONDS)

    async def stop(self) -> None:
        async with self._lock:
            process, self._process = self._process, None
            if process is not None:
                self._told_to_stop.add(process.pid)
                await stop_child(process, _STOP_GRACE_SECONDS)
            for task in list(self._background):
                task.cancel()
            # Config, map and sockets serve a running HAProxy only; `start` writes them anew.
            shutil.rmtree(self.runtime_dir, ignore_errors=True)

    async def _launch(self, layout: Layout) -> None:
        """Start a new generation serving `layout`, taking over from the running one if any."""
        started = time.perf_counter()
        generation = self._generation + 1
        settings = self._settings(generation)
        old = self._process
        running = old is not None and old.returncode is None
        # Written aside and checked first: a config HAProxy rejects never replaces a good one.
        # With none running there is nothing to protect, and the start says what `-c`
        # would: checking first would parse the whole config twice (a second at 100k
        # servers) before the node's ingress first serves.
        candidate = self.runtime_dir / "haproxy.cfg.new"
        self._write_files(layout, settings, candidate)
        if running:
            await self._check(candidate)
        checked = time.perf_counter()
        candidate.replace(self.config_path)

        arguments = ["-db", "-f", str(self.config_path)]
        if old is not None and running:
            old_socket = self._settings(self._generation).stats_socket
            arguments += ["-x", str(old_socket), "-sf", str(old.pid)]
            self._told_to_stop.add(old.pid)
        self._stderr_tail.clear()
        try:
            process = await asyncio.create_subprocess_exec(
                self._binary,
                *arguments,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                # Own process group, so a Ctrl-C meant for the daemon does not reach the
                # proxy first; but not its own session, which would give it its own
                # scheduler autogroup: competing as a group of one for the CPU, it
                # answered with a p99 latency twice that of the same config run by hand.
                preexec_fn=die_with_parent(os.getpid(), own_process_group=True),
            )
        except OSError as error:
            if old is not None:
                self._told_to_stop.discard(old.pid)
            raise HaproxyError(f"cannot run {self._binary}: {error}") from error
        drained = self._keep(self._drain_stderr(process))
        try:
            await self._wait_ready(process, settings.stats_socket, drained)
        except BaseException:
            if old is not None:  # not replaced after all: what it says matters again
                self._told_to_stop.discard(old.pid)
            raise
        if old is not None:
            await self._wait_stopped_listening(old, self._settings(self._generation).stats_socket)
            self._keep(self._reap(old, self._generation))
        self._process, self._generation, self._layout = process, generation, layout
        self._launched.set()
        elapsed = time.perf_counter() - started
        RELOAD_DURATION.observe(elapsed)
        log.info(
            "HAProxy generation %d (pid %d) serves %d pools (started in %.2fs: "
            "config written and checked in %.2fs)",
            generation,
            process.pid,
            len(layout.pools),
            elapsed,
            checked - started,
        )

    def _write_files(self, layout: Layout, settings: Settings, config: Path) -> None:
        self.runtime_dir.mkdir(parents=True, exist_ok=True)
        settings.hosts_map.write_text(render_hosts_map(layout))
        config.write_text(render_config(layout, settings))

    def _remove_files(self, generation: int) -> None:
        settings = self._settings(generation)
        settings.stats_socket.unlink(missing_ok=True)
        settings.hosts_map.unlink(missing_ok=True)

    async def _check(self, config: Path) -> None:
        for _ in range(_CHECK_ATTEMPTS):
            checker = await asyncio.create_subprocess_exec(
                self._binary,
                "-c",
                "-f",
                str(config),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
            )
            output, _ = await checker.communicate()
            if checker.returncode == 0:
                return
            if checker.returncode is not None and checker.returncode > 0:
                break
            # Killed by a signal: seen rarely here (SIGSEGV) on configs that
            # check fine when run again, so a crash is not taken as a verdict.
            log.warning("haproxy -c died (exit %s); checking again", checker.returncode)
        raise HaproxyError(
            f"HAProxy rejects {config} (exit {checker.returncode}): "
            f"{output.decode(errors='replace')}"
        )

    async def _wait_ready(
        self, process: asyncio.subprocess.Process, stats: Path, drained: asyncio.Task[None]
    ) -> None:
        """Until the new process answers on its own socket (then its listeners are up).

        If it exits instead, its stderr says why (there is no `-c` pass before a first
        start): read to the end (`drained`) before saying it."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + _READY_SECONDS
        while loop.time() < deadline:
            if process.returncode is not None:
                await asyncio.wait({drained}, timeout=_STDERR_READ_SECONDS)
                raise HaproxyError(
                    f"HAProxy exited with {process.returncode} at start: "
                    + " | ".join(self._stderr_tail)
                )
            with contextlib.suppress(OSError):
                await send(stats, "show info")
                return
            await asyncio.sleep(0.02)
        process.kill()
        raise HaproxyError(f"HAProxy did not answer on {stats} within {_READY_SECONDS:.0f}s")

    async def _wait_stopped_listening(self, old: asyncio.subprocess.Process, stats: Path) -> None:
        """Until the old generation has stopped taking connections, so none gets the old routes.

        The new process tells it to (-sf) once it runs; a soft-stopping
        HAProxy closes every listener at once, its stats socket included.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + _READY_SECONDS
        while old.returncode is None and loop.time() < deadline:
            try:
                await send(stats, "show info")
            except OSError:
                return
            await asyncio.sleep(0.01)

    async def _command(self, commands: list[str]) -> None:
        if not commands:
            return
        problems = await run_commands(self._settings(self._generation).stats_socket, commands)
        if problems:
            raise HaproxyError("; ".join(problems))

    async def _reap(self, old: asyncio.subprocess.Process, generation: int) -> None:
        # The old generation finishes its requests after `-sf`, then exits (hard-stop-after 30s).
        await old.wait()
        self._remove_files(generation)

    async def _drain_stderr(self, process: asyncio.subprocess.Process) -> None:
        assert process.stderr is not None
        async for raw in process.stderr:
            line = raw.decode(errors="replace").rstrip()
            self._stderr_tail.append(line)
            stopping = process.pid in self._told_to_stop
            log.log(stderr_level(line, stopping=stopping), "haproxy[%d]: %s", process.pid, line)
        self._told_to_stop.discard(process.pid)

    def _keep(self, coroutine: Coroutine[object, object, None]) -> asyncio.Task[None]:
        task = asyncio.create_task(coroutine)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return task
