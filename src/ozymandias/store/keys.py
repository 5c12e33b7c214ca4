"""Every etcd key Ozymandias uses, built in one place.

Layout (all under one root so a cluster can share an etcd with other users):

    /ozy/nodes/<node>               Node            under the node's lease
    /ozy/allocations/<node>         Resources       what the scheduler has given the node
    /ozy/cordons/<node>             Cordon          present while the node takes no new instances
    /ozy/drains/<node>              Drain           an operator's request to empty the node
    /ozy/jobs/<job>                 JobRecord
    /ozy/schedules/<job>            Schedule        one value per job keeps commits small
    /ozy/deployments/<job>          Deployment      the rollout of the job's newest version
    /ozy/job-versions/<job>/<v>     JobVersion      the last versions submitted (history, rollback)
    /ozy/instances/<job>/<index>    InstanceStatus  under the reporting node's lease
    /ozy/events/<time>-<node>-<n>   Event           under a short-lived events lease
    /ozy/dns-aliases/<name>         DnsAlias        a DNS name over other names
    /ozy/subnets/<a.b.c.d-len>      node name       a node's pod subnet, under its lease
    /ozy/volumes/<job>/<name>       SharedVolume    a job's shared volume; outlives the job
    /ozy/shared-allocations/<domain> Resources      shared storage a domain's volumes take
    /ozy/volume-usage/<node>        NodeVolumes     what a node's volumes use, under its lease
    /ozy/acl/bootstrap              time            present once the first admin token is made
    /ozy/acl/tokens/<accessor>      AclToken        a token's role and the SHA-256 of its secret
    /ozy/acl/peer                   PeerCredential  the secret nodes show each other (no user's)
    /ozy/secrets/<name>             SealedSecret    values sealed with AES-256-GCM, never plain
    /ozy/secrets-key                key id          the key new seals use (not the key itself)
    /ozy/registries/<registry>      RegistryLogin   a registry's user; its password sealed
    /ozy/rebalance/current          Rebalance       the last `ozy rebalance`, and how far it got

DNS records live outside that root, under /skydns/, where CoreDNS's etcd
plugin looks for them: the name's labels reversed, so web-0.pod.cluster.local
is /skydns/local/cluster/pod/web-0. Each is under its node's lease.

Allocations are not under a lease: they are the scheduler's bookkeeping, and
every commit compares their revisions, so two peers can never both spend the
same free memory (nor, with shared allocations, the same shared storage).
"""

from __future__ import annotations

ROOT = b"/ozy/"

NODES = ROOT + b"nodes/"
ALLOCATIONS = ROOT + b"allocations/"
CORDONS = ROOT + b"cordons/"
DRAINS = ROOT + b"drains/"
JOBS = ROOT + b"jobs/"
SCHEDULES = ROOT + b"schedules/"
DEPLOYMENTS = ROOT + b"deployments/"
JOB_VERSIONS = ROOT + b"job-versions/"
INSTANCES = ROOT + b"instances/"
EVENTS = ROOT + b"events/"
DNS_ALIASES = ROOT + b"dns-aliases/"
SUBNETS = ROOT + b"subnets/"
VOLUMES = ROOT + b"volumes/"
SHARED_ALLOCATIONS = ROOT + b"shared-allocations/"
VOLUME_USAGE = ROOT + b"volume-usage/"
ACL_BOOTSTRAP = ROOT + b"acl/bootstrap"
ACL_TOKENS = ROOT + b"acl/tokens/"
ACL_PEER = ROOT + b"acl/peer"
SECRETS = ROOT + b"secrets/"
SECRETS_KEY_ID = ROOT + b"secrets-key"
REGISTRIES = ROOT + b"registries/"
REBALANCE = ROOT + b"rebalance/"
REBALANCE_CURRENT = REBALANCE + b"current"
SKYDNS = b"/skydns/"


def node(name: str) -> bytes:
    return NODES + name.encode()


def allocation(node_name: str) -> bytes:
    return ALLOCATIONS + node_name.encode()


def cordon(node_name: str) -> bytes:
    return CORDONS + node_name.encode()


def drain(node_name: str) -> bytes:
    return DRAINS + node_name.encode()


def job(name: str) -> bytes:
    return JOBS + name.encode()


def schedule(job_name: str) -> bytes:
    return SCHEDULES + job_name.encode()


def deployment(job_name: str) -> bytes:
    return DEPLOYMENTS + job_name.encode()


def job_versions(job_name: str) -> bytes:
    """The prefix holding the kept versions of one job."""
    return JOB_VERSIONS + job_name.encode() + b"/"


def job_version(job_name: str, version: int) -> bytes:
    # Zero-padded, so a prefix scan returns versions in order.
    return job_versions(job_name) + f"{version:010d}".encode()


def job_instances(job_name: str) -> bytes:
    """The prefix holding every instance status of one job."""
    return INSTANCES + job_name.encode() + b"/"


def instance(job_name: str, index: int) -> bytes:
    return job_instances(job_name) + str(index).encode()


def job_volumes(job_name: str) -> bytes:
    """The prefix holding every shared volume of one job."""
    return VOLUMES + job_name.encode() + b"/"


def volume(job_name: str, volume_name: str) -> bytes:
    return job_volumes(job_name) + volume_name.encode()


def shared_allocation(domain: str) -> bytes:
    return SHARED_ALLOCATIONS + domain.encode()


def volume_usage(node_name: str) -> bytes:
    return VOLUME_USAGE + node_name.encode()


def acl_token(accessor: str) -> bytes:
    return ACL_TOKENS + accessor.encode()


def secret(name: str) -> bytes:
    return SECRETS + name.encode()


def registry(name: str) -> bytes:
    return REGISTRIES + name.encode()


def event(time_ns: int, node_name: str, sequence: int) -> bytes:
    # Zero-padded time first, so a prefix scan returns events in time order.
    return EVENTS + f"{time_ns:020d}-{node_name}-{sequence}".encode()


def dns_alias(name: str) -> bytes:
    return DNS_ALIASES + name.encode()


def subnet(cidr: str) -> bytes:
    # "/" would read as a deeper level of keys.
    return SUBNETS + cidr.replace("/", "-").encode()


def subnet_cidr(key: bytes) -> str:
    """The subnet of a /ozy/subnets/ key."""
    address, _, length = name_after(SUBNETS, key).rpartition("-")
    return f"{address}/{length}"


def skydns(dns_name: str) -> bytes:
    """The key of a record at `dns_name` (the key of a domain is the prefix of its records)."""
    return SKYDNS + "/".join(reversed(dns_name.split("."))).encode()


def skydns_name(key: bytes) -> str:
    """The DNS name of a /skydns/ key."""
    return ".".join(reversed(name_after(SKYDNS, key).split("/")))


def name_after(prefix: bytes, key: bytes) -> str:
    """The part of `key` after `prefix`: the node or job name of a record key."""
    return key[len(prefix) :].decode()


def instance_address(key: bytes) -> tuple[str, int]:
    """(job, index) of an instance status key."""
    job_name, _, index = name_after(INSTANCES, key).rpartition("/")
    return job_name, int(index)


def prefix_end(prefix: bytes) -> bytes:
    """The first key after every key that starts with `prefix` (etcd's range_end)."""
    return prefix[:-1] + bytes([prefix[-1] + 1])
