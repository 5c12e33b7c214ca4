"""The three roles, each allowing what the one below it does and more.

`read` sees the cluster; `deploy` also runs it (jobs, logs, DNS aliases);
`admin` also changes what outlives a job or belongs to the cluster (nodes,
tokens, secrets, volume data). One ordered list, as with Nomad's built-in
policies, keeps a role matrix small enough to check exhaustively.
"""

from __future__ import annotations

import enum


class Role(enum.StrEnum):
    READ = "read"
    DEPLOY = "deploy"
    ADMIN = "admin"


_RANK = {Role.READ: 0, Role.DEPLOY: 1, Role.ADMIN: 2}


def allows(held: Role, needed: Role) -> bool:
    """Whether a token of role `held` may make a call that needs `needed`."""
    return _RANK[held] >= _RANK[needed]
