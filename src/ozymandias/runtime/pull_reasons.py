"""A failed image pull in a few words (pure): what an operator reads in an instance's reason.

Podman's errors are long chains ("initializing source docker://...: reading
manifest 1 in 127.0.0.1:5000/web: manifest unknown: manifest unknown"); the
kind of failure is what tells an operator what to fix, so it comes first.
"""

from __future__ import annotations

# Most specific first: a certificate's error also says "pinging container registry",
# and an unreachable registry's may say "not found" (a DNS name not found).
_KINDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "unauthorized",
        ("unauthorized", "authentication required", "denied", "401 unauthorized", "403"),
    ),
    ("untrusted certificate", ("x509:", "certificate signed by unknown authority")),
    (
        "registry unreachable",
        (
            "connection refused",
            "no such host",
            "i/o timeout",
            "no route to host",
            "network is unreachable",
            "tls handshake timeout",
            "pinging container registry",
            "server misbehaving",
        ),
    ),
    ("not found", ("manifest unknown", "not found", "name unknown", "404")),
)


def pull_kind(error: str) -> str | None:
    """The kind of pull failure `error` reports, None if it is none the node knows."""
    lowered = error.lower()
    for kind, markers in _KINDS:
        if any(marker in lowered for marker in markers):
            return kind
    return None


def pull_reason(image: str, error: str) -> str:
    """`image pull: unauthorized for 127.0.0.1:5000/web`, or podman's own words if unknown."""
    kind = pull_kind(error)
    if kind is None:
        return f"image pull: {error} for {image}"
    return f"image pull: {kind} for {image}"
