"""Queries per second of the node's DNS server, next to dnsmasq, both under dnsperf.

Both serve the same three A records for web.job.cluster.local on loopback
(ours from a record set, as a node serves the records under /skydns/; dnsmasq
from a hosts file) and answer NXDOMAIN for other names in the domain. The
query mix is half that A record and half an unknown name. The servers run
one after the other in the same run, so they see the same machine.

    .venv/bin/python bench/dns.py [--seconds 15] [--clients 8]

Needs dnsperf and dnsmasq (setup/setup.sh installs them). The goal: at
least half of dnsmasq's rate.
"""

from __future__ import annotations

import argparse
import contextlib
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

# Run as a script, this file's directory comes first on sys.path, where this
# file would shadow the `dns` package (dnspython) it benchmarks.
if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    del sys.path[0]

import uvloop

from ozymandias.cluster.dns_record import DnsRecord
from ozymandias.dns.server import DnsServer, Listener

NAME = "web.job.cluster.local"
ADDRESSES = ["10.213.1.2", "10.213.1.3", "10.213.1.4"]
GOAL = 0.5


def free_port() -> int:
    with socket.socket(type=socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def serve_ours(port: int) -> None:
    """The child process: our server, as a node runs it (on uvloop)."""
    server = DnsServer("cluster.local", [])
    records = [DnsRecord(f"web-{i}.{NAME}", ip) for i, ip in enumerate(ADDRESSES)]
    server.update(records, serial=1)
    uvloop.run(server.serve([Listener("127.0.0.1", port)]))


@contextlib.contextmanager
def running(command: list[str], port: int) -> Iterator[None]:
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 10
        dig = ["dig", "@127.0.0.1", "-p", str(port), "+short", "+tries=1", "+time=1", NAME]
        while sorted(subprocess.run(dig, capture_output=True, text=True).stdout.split()) != (
            ADDRESSES
        ):
            if process.poll() is not None or time.monotonic() > deadline:
                error = process.stderr.read().decode() if process.stderr else ""
                raise SystemExit(f"{command[0]} did not answer on port {port}: {error}")
            time.sleep(0.1)
        yield
    finally:
        process.terminate()
        process.wait(10)


def dnsperf(port: int, queries: Path, seconds: int, clients: int) -> float:
    command = ["dnsperf", "-s", "127.0.0.1", "-p", str(port), "-d", str(queries)]
    result = subprocess.run(
        [*command, "-c", str(clients), "-l", str(seconds)],
        capture_output=True,
        text=True,
        check=True,
    )
    match = re.search(r"Queries per second:\s+([\d.]+)", result.stdout)
    if match is None:
        raise SystemExit(f"unexpected dnsperf output:\n{result.stdout}")
    return float(match.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve_ours(args.serve)
        return
    missing = [tool for tool in ("dnsperf", "dnsmasq", "dig") if shutil.which(tool) is None]
    if missing:
        raise SystemExit(f"missing {', '.join(missing)}: run setup/setup.sh")

    with tempfile.TemporaryDirectory() as scratch:
        queries = Path(scratch) / "queries"
        queries.write_text(f"{NAME} A\nnothing.job.cluster.local A\n")
        hosts = Path(scratch) / "hosts"
        hosts.write_text("".join(f"{ip} {NAME}\n" for ip in ADDRESSES))

        ours_port = free_port()
        with running([sys.executable, __file__, "--serve", str(ours_port)], ours_port):
            ours = dnsperf(ours_port, queries, args.seconds, args.clients)

        dnsmasq_port = free_port()
        dnsmasq = [
            "dnsmasq", "--keep-in-foreground", "--no-resolv", "--no-hosts",
            f"--addn-hosts={hosts}", "--listen-address=127.0.0.1", "--bind-interfaces",
            f"--port={dnsmasq_port}", "--local=/cluster.local/", "--user=root", "--pid-file=",
        ]  # fmt: skip
        with running(dnsmasq, dnsmasq_port):
            theirs = dnsperf(dnsmasq_port, queries, args.seconds, args.clients)

    ratio = ours / theirs
    print(f"dnsperf -c {args.clients} -l {args.seconds}, half {NAME} A (3 answers), half NXDOMAIN")
    print(f"  ozymandias (uvloop, answer cache): {ours:10.0f} queries/s")
    print(f"  dnsmasq:                           {theirs:10.0f} queries/s")
    print(f"  ratio: {ratio:.0%} (goal >= {GOAL:.0%}): {'met' if ratio >= GOAL else 'NOT met'}")


if __name__ == "__main__":
    main()
