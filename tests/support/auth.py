"""The admin token every test's API calls carry, granted in the test etcd as a bootstrap would.

The API refuses a call without a token, so each etcd a test suite runs is
given one known admin token before a node starts (`EtcdctlReads.grant_test_admin`),
and `OZY_TOKEN` carries it to every `ozy` command a test runs. The token is
written through etcdctl, as `ozy up`'s bootstrap writes it through the store,
so the nodes find it in their token mirror like any other.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

from ozymandias.acl.tokens import secret_hash
from ozymandias.client_config import TOKEN_ENV
from ozymandias.cluster.records import AclToken

# A fixed secret: the suites' etcds are on loopback or in their own namespaces.
TEST_ADMIN_SECRET = "ozy-test-admin-secret-0123456789abcdefghij"
TEST_ADMIN = AclToken(
    accessor="test-admin",
    name="test-admin",
    role="admin",
    secret_hash=secret_hash(TEST_ADMIN_SECRET),
    create_time=0.0,
)


def bearer(secret: str = TEST_ADMIN_SECRET) -> dict[str, str]:
    """The header that carries `secret`."""
    return {"authorization": f"Bearer {secret}"}


@contextlib.contextmanager
def token_in_environment(secret: str = TEST_ADMIN_SECRET) -> Iterator[None]:
    """`OZY_TOKEN` set for every `ozy` command the tests run, and restored after."""
    before = os.environ.get(TOKEN_ENV)
    os.environ[TOKEN_ENV] = secret
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(TOKEN_ENV, None)
        else:
            os.environ[TOKEN_ENV] = before
