"""The path and query parameters the writes take, as kubectl sends them, bounded."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query

from ozymandias.kube.status import bad_request

# A name is a DNS subdomain at most; a namespace a DNS label (and only `default` exists).
Name = Annotated[str, Path(max_length=253)]
Namespace = Annotated[str, Path(max_length=63)]
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
