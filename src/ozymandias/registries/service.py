"""`ozy registry login|logout|list` on the node that takes the request.

The password is sealed with the cluster's secrets key before it reaches
etcd, so a node needs the key (`--secrets-key-file`) to take a login, and
to use one when it pulls (registries/access.py).
"""

from __future__ import annotations

from collections.abc import Callable

from ozymandias.cluster.records import RegistryLogin
from ozymandias.registries.sealing import open_login, reseal_login, seal_login
from ozymandias.secrets.keyring import Keyring
from ozymandias.secrets.sealing import SecretUnreadable
from ozymandias.secrets.service import NoSecretsKey
from ozymandias.store.cluster_mirrors import ClusterMirrors
from ozymandias.store.registry_store import RegistryStore
from ozymandias.store.secret_store import SecretStore


class RegistryNotFound(Exception):
    """No login is stored for that registry."""


class RegistryService:
    def __init__(
        self,
        store: RegistryStore,
        secret_store: SecretStore,
        mirrors: ClusterMirrors,
        keyring: Callable[[], Keyring],
        *,
        node_name: str,
    ) -> None:
        """`keyring` gives the node's secrets keys, or raises `NoSecretsKey`."""
        self._store = store
        self._secret_store = secret_store
        self._mirrors = mirrors
        self._keyring = keyring
        self._node_name = node_name

    async def login(
        self, registry: str, username: str, password: str, ca: str | None
    ) -> RegistryLogin:
        keyring = self._keyring()
        key_id, _ = await self._secret_store.active_key_id()
        if key_id is None:
            key_id = keyring.first_id
        elif key_id not in keyring.keys:
            raise NoSecretsKey(
                f"the cluster seals with key {key_id}, which node {self._node_name} does "
                "not hold: add it to its --secrets-key-file"
            )
        login = seal_login(keyring.keys[key_id], registry, username, password, ca)
        await self._store.write(login)
        return login

    async def reseal(self, key_id: str) -> list[str]:
        """Seal every login again with `key_id` (after `ozy secret rotate-key`); the registries
        resealed. A login that changed meanwhile is left as it is: it was sealed anew."""
        keyring = self._keyring()
        if key_id not in keyring.keys:
            raise NoSecretsKey(f"node {self._node_name} does not hold key {key_id}")
        resealed = []
        for login, revision in await self._store.read_all():
            if login.key_id == key_id:
                continue
            try:
                password = open_login(keyring.keys, login)
            except SecretUnreadable as error:
                raise NoSecretsKey(str(error)) from None
            if await self._store.replace(
                reseal_login(keyring.keys[key_id], login, password), revision
            ):
                resealed.append(login.registry)
        return resealed

    async def logout(self, registry: str) -> None:
        if not await self._store.delete(registry):
            raise RegistryNotFound(f"no login is stored for registry {registry}")

    def list(self) -> list[RegistryLogin]:
        return sorted(self._mirrors.registries.items.values(), key=lambda login: login.registry)
