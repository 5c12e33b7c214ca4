"""/v1/registries: the logins every node pulls images with (`ozy registry login|logout|list`).

A password goes in once, in the PUT, and is sealed before it reaches etcd;
no answer holds it. Logging in and out needs an admin token; the list, as
every GET, `read`.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Path
from pydantic import BaseModel, Field, field_validator

from ozymandias.acl.roles import Role
from ozymandias.api.auth import requires
from ozymandias.api.errors import store_call
from ozymandias.api.problems import Problem
from ozymandias.api.services import Services
from ozymandias.cluster.records import RegistryLogin
from ozymandias.registries.service import RegistryNotFound
from ozymandias.secrets.service import NoSecretsKey
from ozymandias.spec.images import REGISTRY_NAME_LENGTH, registry_name_problem

router = APIRouter(tags=["registries"])

MAX_USERNAME = 256
MAX_PASSWORD = 4096  # registry tokens (JWTs) run to a few KiB
MAX_CA_BYTES = 64 * 1024

RegistryPath = Annotated[str, Path(min_length=1, max_length=REGISTRY_NAME_LENGTH)]


class LoginBody(BaseModel):
    username: str = Field(min_length=1, max_length=MAX_USERNAME)
    password: str = Field(min_length=1, max_length=MAX_PASSWORD)
    ca: str | None = Field(
        None,
        max_length=MAX_CA_BYTES,
        description="PEM: the CA the registry's certificate is from, if no system CA signs it",
    )

    @field_validator("ca")
    @classmethod
    def _a_certificate(cls, value: str | None) -> str | None:
        if value is not None and "-----BEGIN CERTIFICATE-----" not in value:
            raise ValueError("ca is not a PEM certificate")
        return value


def login_view(login: RegistryLogin) -> dict[str, Any]:
    return {
        "registry": login.registry,
        "username": login.username,
        "updateTime": login.update_time,
        "keyId": login.key_id,
        "ca": login.ca is not None,
    }


def _checked(registry: str) -> str:
    if problem := registry_name_problem(registry):
        raise Problem(422, "invalid-registry", "Not a registry name", problem, registry=registry)
    return registry


@router.put("/v1/registries/{registry}", dependencies=[requires(Role.ADMIN)])
async def login(
    registry: RegistryPath, body: Annotated[LoginBody, Body()], services: Services
) -> dict[str, Any]:
    """Store a registry's login for every node's pulls; the password is sealed first."""
    try:
        stored = await store_call(
            services.registries.login(_checked(registry), body.username, body.password, body.ca)
        )
    except NoSecretsKey as error:
        raise Problem(
            409, "no-secrets-key", "This node cannot seal or open secrets", str(error)
        ) from None
    return login_view(stored)


@router.get("/v1/registries", dependencies=[requires(Role.READ)])
async def list_registries(services: Services) -> list[dict[str, Any]]:
    """Every registry with a login: its user, when it was set, whether it has a CA; no password."""
    return [login_view(login) for login in services.registries.list()]


@router.delete("/v1/registries/{registry}", dependencies=[requires(Role.ADMIN)])
async def logout(registry: RegistryPath, services: Services) -> dict[str, Any]:
    """Forget a registry's login: pulls from it are anonymous from then on."""
    try:
        await store_call(services.registries.logout(_checked(registry)))
    except RegistryNotFound as error:
        raise Problem(
            404, "registry-not-found", "No login for that registry", str(error), registry=registry
        ) from None
    return {"registry": registry, "deleted": True}
