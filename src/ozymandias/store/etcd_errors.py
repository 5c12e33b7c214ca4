"""The store's one error family, and how etcd's gRPC answers map onto it."""

from __future__ import annotations

import grpc


class StoreUnavailable(Exception):
    """etcd could not be reached, or did not answer in time."""


class CommitOutcomeUnknown(StoreUnavailable):
    """A transaction was sent but no answer came back: it may or may not have applied."""


class RevisionCompacted(StoreUnavailable):
    """The revision a watch wanted to resume from is gone: re-scan instead."""

    def __init__(self, compacted_revision: int) -> None:
        super().__init__(f"revision compacted up to {compacted_revision}")
        self.compacted_revision = compacted_revision


class EtcdAccessDenied(StoreUnavailable):
    """etcd answers, but refuses this client: wrong password, no user given, or no permission.

    Waiting does not help, unlike the rest of StoreUnavailable: the node's
    settings (or etcd's users and roles) must change.
    """


# What etcd answers when the token a request carried is no good any more:
# it expired (simple tokens live --auth-token-ttl seconds after their last
# use), etcd restarted (simple tokens live in memory), users or roles changed
# since it was issued, or none was sent because auth was enabled later. A
# request refused so was not applied: etcd checks the token before it
# proposes anything, so authenticating again and resending is safe, even for
# a transaction (etcd's Go client does the same).
_STALE_TOKEN_ANSWERS = (
    "etcdserver: invalid auth token",
    "etcdserver: revision of auth store is old",
    "etcdserver: user name is empty",
)

_HINTS = {
    "etcdserver: user name is empty": " (etcd's auth is on: give --etcd-user and "
    "--etcd-password-file)",
    "etcdserver: permission denied": " (the etcd user, --etcd-user or else the client "
    "certificate's common name, needs a role granting readwrite on /ozy/ and /skydns/, or root)",
}


def hint(details: str) -> str:
    """What to check when etcd refuses with `details`."""
    return "".join(text for answer, text in _HINTS.items() if answer in details)


_REFUSALS = {
    grpc.StatusCode.UNAUTHENTICATED,
    grpc.StatusCode.PERMISSION_DENIED,
}


# How gRPC reports a failed TLS handshake: a refused client certificate
# shows only after the handshake (TLS 1.3), as a record it cannot decrypt.
_TLS_FAILURE_MARKERS = ("handshake", "ssl", "tsi_", "certificate")


def _is_tls_failure(details: str) -> bool:
    return any(marker in details.lower() for marker in _TLS_FAILURE_MARKERS)


def is_stale_token(error: grpc.aio.AioRpcError) -> bool:
    return says_stale_token(error.details() or "")


def says_stale_token(details: str) -> bool:
    # Contained, not equal: etcd wraps some (a refused stream: "rpc error: code
    # = Unauthenticated desc = etcdserver: invalid auth token").
    return any(answer in details for answer in _STALE_TOKEN_ANSWERS)


def store_error(error: grpc.aio.AioRpcError, doing: str) -> StoreUnavailable:
    """The StoreUnavailable (or EtcdAccessDenied) that stands for a failed call."""
    details = error.details() or error.code().name
    if error.code() in _REFUSALS or says_stale_token(details):
        return EtcdAccessDenied(f"etcd refused to {doing}: {details}{hint(details)}")
    if error.code() == grpc.StatusCode.UNAVAILABLE and _is_tls_failure(details):
        return StoreUnavailable(
            f"etcd could not be reached to {doing}, TLS failed: {details} (check the URLs' "
            "scheme, that --etcd-cacert signed etcd's certificate and that etcd trusts the "
            "CA of --etcd-cert, if it asks for client certificates)"
        )
    return StoreUnavailable(f"etcd could not {doing}: {details}")
