"""The DNS server on loopback: zone answers, the answer cache, truncation, forwarding."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import dns.asyncquery
import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype

from ozymandias.cluster.dns_record import DnsRecord
from ozymandias.dns.server import DnsServer, Listener, upstream_resolvers

WEB = [DnsRecord(f"web-{i}.web.job.cluster.local", f"10.0.0.{i + 2}") for i in range(3)]
SRV = [
    DnsRecord("web-0._80._tcp.web.job.cluster.local", "web-0.pod.cluster.local", port=3000),
    DnsRecord("web-0.pod.cluster.local", "10.0.0.2"),
]


def free_udp_and_tcp_port() -> int:
    while True:
        with socket.socket() as tcp, socket.socket(type=socket.SOCK_DGRAM) as udp:
            tcp.bind(("127.0.0.1", 0))
            port = int(tcp.getsockname()[1])
            with contextlib.suppress(OSError):
                udp.bind(("127.0.0.1", port))
                return port


@contextlib.asynccontextmanager
async def serving(server: DnsServer) -> AsyncIterator[int]:
    port = free_udp_and_tcp_port()
    task = asyncio.create_task(server.serve([Listener("127.0.0.1", port)]))
    await asyncio.sleep(0.05)
    try:
        yield port
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def ask(port: int, name: str, rdtype: str = "A", *, tcp: bool = False) -> dns.message.Message:
    query = dns.message.make_query(name, rdtype)
    if tcp:
        return await dns.asyncquery.tcp(query, "127.0.0.1", port=port, timeout=2)
    return await dns.asyncquery.udp(query, "127.0.0.1", port=port, timeout=2)


def addresses(response: dns.message.Message) -> set[str]:
    return {item.to_text() for rrset in response.answer for item in rrset}


async def test_a_records_nxdomain_and_nodata_with_the_soa() -> None:
    server = DnsServer("cluster.local", [])
    server.update([*WEB, *SRV], serial=7)
    async with serving(server) as port:
        for tcp in (False, True):
            answer = await ask(port, "web.job.cluster.local", tcp=tcp)
            assert addresses(answer) == {"10.0.0.2", "10.0.0.3", "10.0.0.4"}
            assert answer.flags & dns.flags.AA
        # The SRV records below _80._tcp add nothing to the job's A answers.
        srv = await ask(port, "_80._tcp.web.job.cluster.local", "SRV")
        assert addresses(srv) == {"10 10 3000 web-0.pod.cluster.local."}
        assert {item.to_text() for item in srv.additional[0]} == {"10.0.0.2"}

        missing = await ask(port, "nope.job.cluster.local")
        assert missing.rcode() == dns.rcode.NXDOMAIN
        assert missing.authority[0].rdtype == dns.rdatatype.SOA
        nodata = await ask(port, "web.job.cluster.local", "AAAA")
        assert nodata.rcode() == dns.rcode.NOERROR and not nodata.answer
        assert nodata.authority[0].rdtype == dns.rdatatype.SOA


async def test_a_new_record_set_replaces_cached_answers() -> None:
    server = DnsServer("cluster.local", [])
    server.update(WEB, serial=1)
    async with serving(server) as port:
        assert len(addresses(await ask(port, "web.job.cluster.local"))) == 3
        assert len(addresses(await ask(port, "web.job.cluster.local"))) == 3  # from the cache
        server.update(WEB[:1], serial=2)
        assert addresses(await ask(port, "web.job.cluster.local")) == {"10.0.0.2"}


async def test_answers_too_big_for_udp_are_truncated_and_whole_over_tcp() -> None:
    many = [
        DnsRecord(f"big-{i}.big.job.cluster.local", f"10.1.{i // 250}.{i % 250}")
        for i in range(100)
    ]
    server = DnsServer("cluster.local", [])
    server.update(many, serial=1)
    async with serving(server) as port:
        query = dns.message.make_query("big.job.cluster.local", "A", use_edns=False)
        truncated = await dns.asyncquery.udp(query, "127.0.0.1", port=port, timeout=2)
        assert truncated.flags & dns.flags.TC and not truncated.answer
        whole = await ask(port, "big.job.cluster.local", tcp=True)
        assert len(addresses(whole)) == 100


async def test_other_names_go_upstream_or_fail() -> None:
    upstream = DnsServer("example.test", [])
    upstream.update([DnsRecord("www.example.test", "192.0.2.1")], serial=1)
    async with serving(upstream) as upstream_port:
        server = DnsServer("cluster.local", [("127.0.0.1", upstream_port)])
        async with serving(server) as port:
            for tcp in (False, True):
                assert addresses(await ask(port, "www.example.test", tcp=tcp)) == {"192.0.2.1"}
    async with serving(DnsServer("cluster.local", [])) as port:
        assert (await ask(port, "www.example.test")).rcode() == dns.rcode.SERVFAIL


def test_upstreams_come_from_resolv_conf_without_our_own_addresses(tmp_path: Path) -> None:
    conf = tmp_path / "resolv.conf"
    conf.write_text("search x\nnameserver 10.213.1.1\nnameserver 192.0.2.53\n")
    assert upstream_resolvers(conf, ["10.213.1.1"]) == [("192.0.2.53", 53)]
    assert upstream_resolvers(Path("/nonexistent"), []) == []
