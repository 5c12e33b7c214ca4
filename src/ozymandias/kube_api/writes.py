"""The write side of the Kubernetes API: one router, which the kube server includes.

Each concern has its module beside this one: Deployments (create, patch,
replace, delete), their `scale` and `status` subresources, a pod's delete
(a new pod for that instance) and a node's patch (cordon, uncordon). All of
them write through the calls the ozy API makes, never to etcd directly.
"""

from __future__ import annotations

from fastapi import APIRouter

from ozymandias.kube_api import deployments_write, node_patch, pod_delete, scale

router = APIRouter()
# The subresources first: their paths are longer than, and would never match, an item's.
router.include_router(scale.router)
router.include_router(deployments_write.router)
router.include_router(pod_delete.router)
router.include_router(node_patch.router)
