"""/v1/secrets: set, list, inspect, delete secrets, and seal them all again with a new key.

No answer holds a value: a secret is shown as its keys, version, update
time and the id of the key that sealed it. Changing or deleting secrets,
and rotating the key, need an admin token; reading that metadata, as every
GET, needs `read`.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Body, Path
from pydantic import BaseModel, Field, model_validator

from ozymandias.acl.roles import Role
from ozymandias.api.auth import requires
from ozymandias.api.errors import store_call
from ozymandias.api.problems import Problem
from ozymandias.api.services import Services
from ozymandias.cluster.records import SealedSecret
from ozymandias.secrets.references import jobs_using
from ozymandias.secrets.service import NoSecretsKey, SecretInUse, SecretNotFound
from ozymandias.spec.secret_refs import (
    SECRET_KEY_LENGTH,
    SECRET_KEY_PATTERN,
    SECRET_NAME_LENGTH,
    SECRET_NAME_PATTERN,
)

router = APIRouter(tags=["secrets"])

MAX_KEYS = 100
MAX_VALUE_BYTES = 64 * 1024
MAX_SECRET_BYTES = 512 * 1024  # all values of one secret; etcd holds up to 1.5 MiB a value

SecretNamePath = Annotated[
    str, Path(max_length=SECRET_NAME_LENGTH, pattern=f"^{SECRET_NAME_PATTERN}$")
]


class SecretBody(BaseModel):
    data: dict[str, str] = Field(
        min_length=1,
        max_length=MAX_KEYS,
        description="every key of the secret and its value (keys left out are removed)",
    )

    @model_validator(mode="after")
    def _check_sizes(self) -> SecretBody:
        # Messages name keys and sizes, never a value.
        total = 0
        for key, value in self.data.items():
            if len(key) > SECRET_KEY_LENGTH or not re.fullmatch(SECRET_KEY_PATTERN, key):
                raise ValueError(
                    f"key {key[:64]!r} is not a secret key: 1-{SECRET_KEY_LENGTH} letters, "
                    "digits, '.', '_' and '-'"
                )
            size = len(value.encode("utf-8", "surrogatepass"))
            if size > MAX_VALUE_BYTES:
                raise ValueError(f"the value of {key} is {size} bytes; at most {MAX_VALUE_BYTES}")
            total += size
        if total > MAX_SECRET_BYTES:
            raise ValueError(f"the values are {total} bytes together; at most {MAX_SECRET_BYTES}")
        return self


class RotateBody(BaseModel):
    key_id: str = Field(
        alias="keyId",
        pattern=r"^[0-9a-f]{16}$",
        description="the id of the new key (`ozy secret keygen` prints it); every node that "
        "opens secrets must hold it in its key file",
    )


def secret_view(secret: SealedSecret) -> dict[str, Any]:
    return {
        "name": secret.name,
        "keys": secret.keys,
        "version": secret.version,
        "updateTime": secret.update_time,
        "keyId": secret.key_id,
    }


def _not_found(name: str) -> Problem:
    return Problem(
        404, "secret-not-found", "No such secret", f"there is no secret named {name!r}", secret=name
    )


def _in_use(name: str, error: SecretInUse, advice: str) -> Problem:
    return Problem(
        409,
        "secret-in-use",
        "Secret is in use",
        f"{error}; {advice}",
        secret=name,
        jobs=error.jobs,
    )


def _no_key(error: NoSecretsKey) -> Problem:
    return Problem(409, "no-secrets-key", "This node cannot seal or open secrets", str(error))


@router.put("/v1/secrets/{name}", dependencies=[requires(Role.ADMIN)])
async def put_secret(
    name: SecretNamePath, body: Annotated[SecretBody, Body()], services: Services
) -> dict[str, Any]:
    """Set a secret's values, sealed before they reach etcd; the jobs using it roll out anew."""
    try:
        result = await store_call(services.secrets.set(name, body.data))
    except NoSecretsKey as error:
        raise _no_key(error) from None
    except SecretInUse as error:
        raise _in_use(name, error, "keep the keys they use, or change those jobs first") from None
    return {
        **secret_view(result.secret),
        "changed": result.changed,
        "rolledOut": result.rolled_out,
    }


@router.get("/v1/secrets", dependencies=[requires(Role.READ)])
async def list_secrets(services: Services) -> list[dict[str, Any]]:
    """Every secret's keys, version and update time; never a value."""
    secrets = sorted(services.mirrors.secrets.items.values(), key=lambda s: s.name)
    return [secret_view(secret) for secret in secrets]


@router.get("/v1/secrets/{name}", dependencies=[requires(Role.READ)])
async def get_secret(name: SecretNamePath, services: Services) -> dict[str, Any]:
    """One secret's keys, version and update time, and the jobs using it; never a value."""
    secret = services.mirrors.secret(name)
    if secret is None:
        raise _not_found(name)
    users = jobs_using(name, services.mirrors.jobs.items.values())
    return {**secret_view(secret), "usedBy": users}


@router.delete("/v1/secrets/{name}", dependencies=[requires(Role.ADMIN)])
async def delete_secret(name: SecretNamePath, services: Services) -> dict[str, Any]:
    """Delete a secret; refused (409) while a job uses it."""
    try:
        await store_call(services.secrets.delete(name))
    except SecretNotFound:
        raise _not_found(name) from None
    except SecretInUse as error:
        raise _in_use(name, error, "change or delete those jobs first") from None
    return {"name": name, "deleted": True}


@router.post("/v1/secrets/rotate-key", dependencies=[requires(Role.ADMIN)])
async def rotate_key(body: Annotated[RotateBody, Body()], services: Services) -> dict[str, Any]:
    """Seal every secret (and registry login) again with the key `keyId`, which new secrets
    are sealed with from now.

    The key itself never crosses the API: the node answering must hold it in
    its key file, as every node that opens secrets must.
    """
    try:
        result = await store_call(services.secrets.rotate(body.key_id))
        logins = await store_call(services.registries.reseal(body.key_id))
    except NoSecretsKey as error:
        raise _no_key(error) from None
    return {"keyId": result.key_id, "resealed": result.resealed, "resealedLogins": logins}
