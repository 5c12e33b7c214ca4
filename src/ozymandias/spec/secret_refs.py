"""A container's use of secrets: which value of which secret, as a variable or a file.

```yaml
secrets:
  - {secret: db, key: password, env: POSTGRES_PASSWORD}
  - {secret: tls, key: cert, path: /run/secrets/tls.crt}
```

Only the reference is in the spec (and so in etcd and every answer); the node
that runs the pod opens the value (see agent/secret_delivery.py).
"""

import re
from typing import Annotated, Any

from pydantic import AfterValidator, Field, model_validator

from ozymandias.spec.base import SpecModel, problems_error, shown
from ozymandias.spec.process import EnvName

# Per container; as for ports and volumes, far beyond a real container's needs.
MAX_SECRET_REFS = 100
SECRET_NAME_LENGTH = 63
SECRET_KEY_LENGTH = 253  # as Kubernetes allows a Secret's keys
PATH_LENGTH = 4096

SECRET_NAME_PATTERN = r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?"
SECRET_KEY_PATTERN = r"[A-Za-z0-9._-]+"


def _check_secret_name(text: str) -> str:
    if not re.fullmatch(SECRET_NAME_PATTERN, text):
        raise ValueError(
            f"'{shown(text)}' is not a secret name: use 1-63 lowercase letters, digits and '-',"
            " starting and ending with a letter or digit"
        )
    return text


def _check_secret_key(text: str) -> str:
    if not re.fullmatch(SECRET_KEY_PATTERN, text):
        raise ValueError(
            f"'{shown(text)}' is not a secret key: use letters, digits, '.', '_' and '-'"
        )
    return text


def _check_file_path(text: str) -> str:
    parts = text.split("/")
    if not text.startswith("/") or text.endswith("/") or ".." in parts or "" in parts[1:]:
        raise ValueError(f"'{shown(text)}' must be an absolute file path without '..'")
    return text


SecretName = Annotated[
    str, Field(max_length=SECRET_NAME_LENGTH), AfterValidator(_check_secret_name)
]
SecretKey = Annotated[str, Field(max_length=SECRET_KEY_LENGTH), AfterValidator(_check_secret_key)]
FilePath = Annotated[str, Field(max_length=PATH_LENGTH), AfterValidator(_check_file_path)]


class SecretRef(SpecModel):
    """One value of a secret, given to the container as `env` or as the file `path`."""

    secret: SecretName
    key: SecretKey
    env: EnvName | None = Field(None, description="an environment variable to set to the value")
    path: FilePath | None = Field(
        None, description="a file holding the value, on tmpfs, mode 0400, read-only"
    )

    @model_validator(mode="before")
    @classmethod
    def _needs_env_or_path(cls, data: Any) -> Any:
        # A stored spec spells the one left out as null.
        if isinstance(data, dict) and (data.get("env") is None) == (data.get("path") is None):
            raise problems_error(
                cls.__name__, [((), "give exactly one of env (a variable) or path (a file)")]
            )
        return data
