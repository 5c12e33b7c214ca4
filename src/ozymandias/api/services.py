"""What the routers work with: the node's services, reached through a FastAPI dependency.

`create_app` builds one `ApiServices` and keeps it on `app.state.services`;
a handler asks for it with a `services: Services` parameter.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Request

from ozymandias.agent.node_agent import NodeAgent
from ozymandias.allocation_history.history import AllocationHistory
from ozymandias.api.peer_link import PeerLink
from ozymandias.api.request_limits import Follows
from ozymandias.api.watch_stream import WatchStreams
from ozymandias.cluster.records import Node
from ozymandias.deployments.operator_actions import OperatorActions
from ozymandias.dns.alias_service import DnsAliasService
from ozymandias.ingress.controller import IngressController
from ozymandias.jobs.history import JobHistory
from ozymandias.jobs.service import JobService
from ozymandias.registries.service import RegistryService
from ozymandias.secrets.service import SecretService
from ozymandias.spec.limits import SpecLimits
from ozymandias.store.acl_store import AclStore
from ozymandias.store.cluster_mirrors import ClusterMirrors
from ozymandias.store.cluster_store import ClusterStore


@dataclass(frozen=True)
class ApiServices:
    jobs: JobService
    history: JobHistory
    mirrors: ClusterMirrors
    store: ClusterStore
    agent: NodeAgent
    node: Node
    aliases: DnsAliasService
    ingress: IngressController
    spec_limits: SpecLimits
    follows: Follows
    acl: AclStore
    peers: PeerLink
    secrets: SecretService
    registries: RegistryService
    deployments: OperatorActions
    watches: WatchStreams
    allocation_history: AllocationHistory = field(default_factory=AllocationHistory)


async def api_services(request: Request) -> ApiServices:
    """The app's services (async, so FastAPI does not hand it to a thread)."""
    services = request.app.state.services
    assert isinstance(services, ApiServices)
    return services


Services = Annotated[ApiServices, Depends(api_services)]
