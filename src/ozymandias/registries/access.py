"""What a node's pull of an image is given: the login and CA stored for its registry."""

from __future__ import annotations

import logging

from ozymandias.registries.sealing import open_login
from ozymandias.runtime.models import RegistryAccess
from ozymandias.secrets.keyring import KeyFile, KeyFileError
from ozymandias.secrets.sealing import SecretUnreadable
from ozymandias.spec.images import parse_image
from ozymandias.store.cluster_mirrors import ClusterMirrors

log = logging.getLogger(__name__)


class RegistryAccessUnavailable(Exception):
    """A login is stored for the image's registry, but this node cannot open it."""


class RegistryLogins:
    def __init__(self, node_name: str, mirrors: ClusterMirrors, key_file: KeyFile | None) -> None:
        self._node_name = node_name
        self._mirrors = mirrors
        self._key_file = key_file

    def access_for(self, image: str) -> RegistryAccess:
        """The access to `image`'s registry: anonymous when no login is stored for it."""
        registry = parse_image(image).registry
        login = self._mirrors.registry_login(registry)
        if login is None:
            return RegistryAccess()
        if self._key_file is None:
            raise RegistryAccessUnavailable(
                f"image pull: node {self._node_name} has no secrets key to open the login "
                f"for {registry} (ozy node run --secrets-key-file)"
            )
        try:
            password = open_login(self._key_file.keyring().keys, login)
        except (KeyFileError, SecretUnreadable) as error:
            raise RegistryAccessUnavailable(
                f"image pull: node {self._node_name} cannot open the login for {registry}: {error}"
            ) from None
        return RegistryAccess(username=login.username, password=password, ca_pem=login.ca)
