"""The HAProxy configuration for a set of routes, and the runtime commands between two. Pure.

Each job's HTTP route and each TCP port gets a pool (an HAProxy backend) of
server *slots*: a slot holds one healthy instance or stands empty in
maintenance. Health changes move instances in and out of slots, which the
runtime API does without a reload (`set server … addr`, `state ready`,
`state maint`). Only a change of *shape* (a job, host or TCP port added or
removed, or a pool outgrowing its slots) needs a new process, and that
reload is seamless. Each reload (or restart after a crash) renders the file
from the current layout, slots included, since HAProxy starts from it alone.

HAProxy runs master-worker: the master stays root and dies with the daemon,
the worker drops to an unprivileged user once its ports are bound. A
client's X-Forwarded-For is kept (and appended to) only from a trusted
proxy; anyone else's is dropped, so a backend never sees a forged one.

Hosts map to pools through a map file, so matching a Host header costs a
tree lookup however many jobs there are. Unknown hosts get a 404 that names
the host; a pool without a usable server answers 503 itself.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property
from ipaddress import IPv4Network, IPv6Network
from pathlib import Path
from typing import Literal

from ozymandias.ingress.routes import Backend, HttpRoute, Routes, TcpRoute

# New pools get this many slots at least, and a quarter more than their job's
# instances: room for a deployment's surge instance or a small scale-up without a
# reload. A pool that outgrows them doubles. No more than that: every slot is a
# server to HAProxy, empty or not, which costs it ~5 kB and ~10 µs of its start
# (at 100,000 instances, doubling to a power of two was 60,000 empty servers).
MIN_SLOTS = 8

Slots = tuple[Backend | None, ...]

# Retried once, on another instance (redispatch), only where that is safe: a
# connection that never got established may always be retried; a request
# whose response failed only if its method is idempotent.
_IDEMPOTENT = "METH_GET || METH_HEAD || METH_OPTIONS || { method PUT DELETE TRACE }"


@dataclass(frozen=True)
class Pool:
    name: str  # the HAProxy backend's name
    mode: Literal["http", "tcp"]
    job: str
    listen_port: int | None  # tcp: the port every node listens on; http: None (Host routes)
    slots: Slots
    # The route's backends the slots were filled from: the same tuple again means the
    # same slots, so an unchanged route costs a planning pass no work.
    source: tuple[Backend, ...] = field(default=(), compare=False, repr=False)


@dataclass(frozen=True)
class Layout:
    """Routes as HAProxy runs them: pools of slots, the host map and the TCP listeners."""

    hosts: tuple[tuple[str, str], ...] = ()  # (host, pool name), sorted
    pools: tuple[Pool, ...] = ()

    @cached_property
    def _shape(self) -> object:
        # Computed once per layout: the controller and the proxy both ask, per change.
        return (
            self.hosts,
            tuple(
                (pool.name, pool.mode, pool.job, pool.listen_port, len(pool.slots))
                for pool in self.pools
            ),
        )

    def shape(self) -> object:
        """Everything but which backend sits in which slot: if it changes, HAProxy reloads."""
        return self._shape

    def positions(self) -> dict[str, int]:
        """Each pool's place in `pools`, by name."""
        return self._positions

    @cached_property
    def _positions(self) -> dict[str, int]:
        return {pool.name: position for position, pool in enumerate(self.pools)}

    def reslotted(self, pools: tuple[Pool, ...]) -> Layout:
        """This layout with `pools`, which must be its own with other backends in the same
        slots: the shape and positions carry over rather than being computed again."""
        layout = Layout(self.hosts, pools)
        # cached_property keeps its value in the instance's __dict__, frozen or not.
        layout.__dict__["_shape"] = self._shape
        layout.__dict__["_positions"] = self._positions
        return layout


@dataclass(frozen=True)
class Settings:
    http_port: int
    stats_socket: Path
    hosts_map: Path
    bind_address: str = "0.0.0.0"
    # Above ~8,000 HAProxy wants more open files than this host's hard limit (20,000).
    maxconn: int = 4096
    # Whom the worker runs as once its ports are bound (None: stays as started, root).
    user: str | None = "nobody"
    group: str | None = "nogroup"
    # Clients whose X-Forwarded-For is kept; everyone else's is dropped.
    trusted_proxies: tuple[IPv4Network | IPv6Network, ...] = ()


# Every HTTP request enters here, whatever its host; TCP ports each have their own.
HTTP_FRONTEND = "http-in"


def http_pool_name(job: str) -> str:
    return f"http-{job}"


def tcp_pool_name(port: int) -> str:
    return f"tcp-{port}"


def tcp_frontend_name(pool_name: str) -> str:
    return f"{pool_name}-in"


def plan_layout(routes: Routes, previous: Layout | None = None) -> Layout:
    """The layout for `routes`, keeping every backend of `previous` in the slot it had.

    Kept backends stay put so HAProxy's connections to them survive; new
    ones take free slots; a pool grows only when its backends outnumber its
    slots.
    """
    old = {pool.name: pool for pool in previous.pools} if previous is not None else {}

    def pool(name: str, mode: Literal["http", "tcp"], route: HttpRoute | TcpRoute) -> Pool:
        listen_port = route.port if isinstance(route, TcpRoute) else None
        before = old.get(name)
        if before is None:
            slots = _fill((), route.backends, route.instances)
            return Pool(name, mode, route.job, listen_port, slots, route.backends)
        if before.source is route.backends and (before.job, before.listen_port) == (
            route.job,
            listen_port,
        ):
            return before
        slots = _fill(before.slots, route.backends, route.instances)
        return Pool(name, mode, route.job, listen_port, slots, route.backends)

    pools = [pool(http_pool_name(route.job), "http", route) for route in routes.http]
    pools += [pool(tcp_pool_name(route.port), "tcp", route) for route in routes.tcp]
    hosts = sorted(
        (host, http_pool_name(route.job)) for route in routes.http for host in route.hosts
    )
    return Layout(hosts=tuple(hosts), pools=tuple(pools))


def with_backends(layout: Layout, backends: Mapping[str, tuple[Backend, ...]]) -> Layout | None:
    """`layout` with the named pools' backends changed, each kept in its slot: the same
    shape, so runtime commands apply it. None when it is not: a pool it lacks, or one
    its backends outgrow (plan the layout anew then, a reload)."""
    positions = layout.positions()
    pools = list(layout.pools)
    for name, wanted in backends.items():
        position = positions.get(name)
        if position is None:
            return None
        before = pools[position]
        if before.source is wanted:
            continue
        slots = _fill(before.slots, wanted)
        if len(slots) != len(before.slots):
            return None
        pools[position] = replace(before, slots=slots, source=wanted)
    return layout.reslotted(tuple(pools))


def _fill(previous: Slots, backends: Iterable[Backend], at_least: int = 0) -> Slots:
    """`previous`'s slots with `backends` in them, kept backends in place; grown (doubled)
    to hold them all, and at least `at_least` (the job's instance count). A new pool
    (no `previous`) starts with a quarter more than it needs."""
    wanted = list(backends)
    slots: list[Backend | None] = [slot if slot in wanted else None for slot in previous]
    needed = max(len(wanted), at_least)
    size = max(len(slots), MIN_SLOTS) if previous else max(MIN_SLOTS, needed + needed // 4)
    while size < needed:
        size *= 2
    slots += [None] * (size - len(slots))
    placed = set(slots)
    free = (index for index, slot in enumerate(slots) if slot is None)
    for backend in wanted:
        if backend not in placed:
            slots[next(free)] = backend
    return tuple(slots)


def server_name(slot: int) -> str:
    return f"s{slot}"


def runtime_commands(old: Layout, new: Layout) -> list[str]:
    """Runtime API commands that turn `old`'s servers into `new`'s (both of one shape)."""
    if old.shape() != new.shape():
        raise ValueError("layouts of different shapes need a reload, not runtime commands")
    commands: list[str] = []
    for before, after in zip(old.pools, new.pools, strict=True):
        if before is after:
            continue
        for index, (was, now) in enumerate(zip(before.slots, after.slots, strict=True)):
            if was == now:
                continue
            server = f"{after.name}/{server_name(index)}"
            # Maintenance stops new requests to it; requests in flight finish.
            if was is not None:
                commands.append(f"set server {server} state maint")
            if now is not None:
                commands.append(f"set server {server} addr {now.address} port {now.port}")
                commands.append(f"set server {server} state ready")
    return commands


# The runtime API reads a command line into one buffer (tune.bufsize, 16 kB by default)
# and drops the connection on a longer one: a few hundred commands a line at most.
COMMAND_LINE_MAX_BYTES = 8192


def command_lines(commands: Iterable[str], max_bytes: int = COMMAND_LINE_MAX_BYTES) -> list[str]:
    """`commands` joined by ';' into lines of at most `max_bytes` each (a longer command
    alone on its line): one line per runtime API connection."""
    lines: list[str] = []
    line = ""
    for command in commands:
        if line and len(line) + 1 + len(command) > max_bytes:
            lines.append(line)
            line = ""
        line = f"{line};{command}" if line else command
    if line:
        lines.append(line)
    return lines


def render_hosts_map(layout: Layout) -> str:
    return "".join(f"{host} {pool}\n" for host, pool in layout.hosts)


def render_config(layout: Layout, settings: Settings) -> str:
    sections = [_global_and_defaults(settings), _http_frontend(settings)]
    for pool in layout.pools:
        if pool.mode == "tcp":
            sections.append(_tcp_frontend(pool, settings))
        sections.append(_backend(pool))
    return "\n".join(sections)


def _global_and_defaults(settings: Settings) -> str:
    identity = "".join(
        f"    {keyword} {value}\n"
        for keyword, value in (("user", settings.user), ("group", settings.group))
        if value is not None
    )
    return f"""\
global
    maxconn {settings.maxconn}
    # Changing user clears PR_SET_PDEATHSIG, so the process that drops to `user` must not
    # be the one the daemon started: the master stays root and dies with the daemon, and
    # its worker, which drops, exits when the master does.
    master-worker
{identity}\
    # expose-fd: a reload takes over the listening sockets, so no connection is refused.
    stats socket {settings.stats_socket} mode 600 level admin expose-fd listeners
    # An old process finishes its requests after a reload, but not forever.
    hard-stop-after 30s

defaults
    maxconn {settings.maxconn}
    timeout connect 2s
    timeout client 60s
    timeout server 60s
    timeout http-request 10s
    timeout http-keep-alive 10s
    timeout queue 5s
    retries 1
    option redispatch 1
"""


def _http_frontend(settings: Settings) -> str:
    return f"""\
frontend {HTTP_FRONTEND}
    mode http
    bind {settings.bind_address}:{settings.http_port}
    {_drop_untrusted_forwarded_for(settings)}
    # Added after any kept X-Forwarded-For: a trusted proxy's list is appended to.
    option forwardfor
    # After a reload, idle keep-alive clients are closed after a response, never mid-request.
    option idle-close-on-response
    http-request set-header X-Forwarded-Proto http
    http-request set-header X-Forwarded-Host %[req.hdr(host)]
    http-request set-var(txn.pool) req.hdr(host),lower,word(1,:),map_str({settings.hosts_map})
    http-request return status 404 content-type text/plain lf-string "no job serves host %[req.hdr(host)]\\n" unless {{ var(txn.pool) -m found }}
    use_backend %[var(txn.pool)]
"""  # noqa: E501


def _drop_untrusted_forwarded_for(settings: Settings) -> str:
    rule = "http-request del-header X-Forwarded-For"
    if not settings.trusted_proxies:
        return rule
    return f"{rule} unless {{ src {' '.join(str(n) for n in settings.trusted_proxies)} }}"


def _tcp_frontend(pool: Pool, settings: Settings) -> str:
    return f"""\
frontend {tcp_frontend_name(pool.name)}
    mode tcp
    bind {settings.bind_address}:{pool.listen_port}
    # Raw TCP is often a database connection that idles for long.
    timeout client 1h
    default_backend {pool.name}
"""


def _backend(pool: Pool) -> str:
    lines = [f"backend {pool.name}", f"    mode {pool.mode}", "    balance roundrobin"]
    if pool.mode == "http":
        lines += [
            "    retry-on conn-failure empty-response response-timeout",
            f"    http-request disable-l7-retry unless {_IDEMPOTENT}",
            "    http-request return status 503 content-type text/plain"
            f' string "no healthy instance of job {pool.job}\\n" if {{ nbsrv lt 1 }}',
        ]
    else:
        lines.append("    timeout server 1h")
    for index, slot in enumerate(pool.slots):
        if slot is None:
            # Any address will do while in maintenance; the runtime API sets the real one.
            lines.append(f"    server {server_name(index)} 127.0.0.1:1 disabled")
        else:
            lines.append(f"    server {server_name(index)} {slot.address}:{slot.port}")
    return "\n".join(lines) + "\n"
