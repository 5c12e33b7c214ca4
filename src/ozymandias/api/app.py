"""The HTTP API every node serves: jobs, nodes, instances, events and logs.

Handlers only translate HTTP to calls on the job service (which plans and
commits), the DNS alias service, and reads of the cluster mirrors (which
every node keeps), so any node can answer any request. Each resource has its
router in its own module; this one composes them into the app.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from ozymandias import __version__
from ozymandias.agent.node_agent import NodeAgent
from ozymandias.allocation_history.history import AllocationHistory
from ozymandias.api import (
    acl,
    deployments,
    events,
    health,
    ingress,
    instance_exec,
    instance_restart,
    instances,
    job_versions,
    jobs,
    metrics,
    node_drains,
    node_history,
    nodes,
    rebalance,
    rebalance_run,
    registries,
    secrets,
    volumes,
)
from ozymandias.api import dns as dns_api
from ozymandias.api.auth import Authentication, Guard, check_every_route_declares_a_role
from ozymandias.api.openapi import problem_openapi
from ozymandias.api.peer import EtcdContact, etcd_contact_router
from ozymandias.api.peer_link import PeerLink
from ozymandias.api.problems import (
    Problem,
    handle_http_error,
    handle_problem,
    handle_unexpected_error,
    handle_validation_error,
)
from ozymandias.api.request_limits import ApiLimits, Follows, RequestLimits
from ozymandias.api.services import ApiServices
from ozymandias.api.ui import ui_routes
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
from ozymandias.store.dns_store import DnsStore
from ozymandias.store.watch_sources import events_mirror
from ozymandias.watch.watches import Watches

# In the order their routes are matched (their paths do not overlap).
_ROUTERS = [
    health.router,
    acl.router,
    jobs.router,
    deployments.router,
    job_versions.router,
    volumes.router,
    nodes.router,
    node_drains.router,
    node_history.router,
    rebalance.router,
    rebalance_run.router,
    instances.router,
    instance_exec.router,
    instance_restart.router,
    ingress.router,
    events.router,
    dns_api.router,
    secrets.router,
    registries.router,
    metrics.router,
]


def create_app(
    *,
    service: JobService,
    mirrors: ClusterMirrors,
    store: ClusterStore,
    agent: NodeAgent,
    node: Node,
    dns: DnsStore,
    ingress: IngressController,
    limits: ApiLimits,
    spec_limits: SpecLimits,
    acl_store: AclStore,
    guard: Guard,
    etcd_contact: EtcdContact,
    peers: PeerLink,
    secret_service: SecretService,
    registry_service: RegistryService,
    watches: Watches | None = None,
    allocation_history: AllocationHistory | None = None,
) -> FastAPI:
    app = FastAPI(
        title="Ozymandias",
        version=__version__,
        description="Submit, scale and inspect jobs. Every error is application/problem+json.",
    )
    app.add_exception_handler(Problem, handle_problem)
    app.add_exception_handler(RequestValidationError, handle_validation_error)
    app.add_exception_handler(StarletteHTTPException, handle_http_error)
    app.add_exception_handler(Exception, handle_unexpected_error)
    app.add_middleware(RequestLimits, limits=limits)
    # Added last, so it runs first: a caller without a token is refused before
    # the limits read its body.
    app.add_middleware(Authentication, guard=guard)
    app.state.services = ApiServices(
        jobs=service,
        history=JobHistory(store, mirrors, service),
        mirrors=mirrors,
        store=store,
        agent=agent,
        node=node,
        aliases=DnsAliasService(dns),
        ingress=ingress,
        spec_limits=spec_limits,
        follows=Follows(limits),
        acl=acl_store,
        peers=peers,
        secrets=secret_service,
        registries=registry_service,
        deployments=OperatorActions(store),
        watches=WatchStreams(
            watches if watches is not None else Watches(mirrors, lambda: events_mirror(store.etcd)),
            limits,
        ),
        allocation_history=allocation_history or AllocationHistory(),
    )
    for router in _ROUTERS:
        app.include_router(router)
    # Peers that lost etcd ask this to tell a partition from an outage of etcd.
    app.include_router(etcd_contact_router(node.name, etcd_contact))
    # The dashboard's static files: no API operation, open to anyone (see api/ui.py).
    app.router.routes.extend(ui_routes())
    check_every_route_declares_a_role(app)
    app.openapi = lambda: problem_openapi(app, jobs.JOB_SCHEMAS)  # type: ignore[method-assign]
    return app
