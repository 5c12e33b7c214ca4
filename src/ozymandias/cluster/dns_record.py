"""One DNS record as the cluster keeps it in etcd (the SkyDNS value format).

Shared vocabulary, like `records.py`: the DNS layout builds these, `store/`
stores them and the DNS server answers from them, so it sits below all three.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

DEFAULT_TTL = 5


@dataclass(frozen=True, slots=True)
class DnsRecord:
    """One SkyDNS record: a host (an IPv4 address or a name) at a DNS name.

    Every node's DNS zone keeps one per record in the cluster, some 300,000 at
    100,000 instances: slots take 64 bytes each, a __dict__'s inline values 104.
    """

    name: str
    """Lower case, without the trailing dot."""
    host: str
    port: int | None = None
    ttl: int = DEFAULT_TTL

    def to_json(self) -> bytes:
        value: dict[str, str | int] = {"host": self.host, "ttl": self.ttl}
        if self.port is not None:
            value["port"] = self.port
        return json.dumps(value).encode()

    @classmethod
    def from_json(cls, name: str, raw: bytes) -> DnsRecord:
        try:
            value = json.loads(raw)
            return cls(name, str(value["host"]), value.get("port"), int(value.get("ttl", 0)))
        except (KeyError, TypeError, json.JSONDecodeError) as error:
            raise ValueError(f"not a SkyDNS record: {raw[:80]!r}") from error
