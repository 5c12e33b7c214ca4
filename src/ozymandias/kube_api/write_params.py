"""The query parameters every write takes, as kubectl sends them."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query

from ozymandias.kube.status import KubeError, bad_request, status

NAMESPACE = "default"

# `dryRun=All` (the only value the apiserver knows): validate and plan, write nothing.
DryRun = Annotated[str | None, Query(alias="dryRun", max_length=8)]
# kubectl names itself (`kubectl-client-side-apply`, `kubectl-edit`): read and not kept, as
# there are no managedFields here.
FieldManager = Annotated[str | None, Query(alias="fieldManager", max_length=128)]


def check_dry_run(value: str | None) -> bool:
    """Whether the write is a dry run; a BadRequest for any value but All."""
    if value is None or value == "":
        return False
    if value != "All":
        raise bad_request(f'unsupported dryRun value "{value}": only "All" is supported')
    return True


def check_namespace(namespace: str) -> None:
    """Only `default` exists: any other is a 404, as a namespace nobody made."""
    if namespace != NAMESPACE:
        message = f'namespaces "{namespace}" not found'
        details = {"name": namespace, "kind": "namespaces"}
        raise KubeError(status(404, "NotFound", message, details))
