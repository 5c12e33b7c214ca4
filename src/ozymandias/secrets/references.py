"""Which secrets jobs refer to, and which references have nothing behind them: pure."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from ozymandias.cluster.records import JobRecord
from ozymandias.spec.models import JobSpec


def unknown_references(spec: JobSpec, secrets: Mapping[str, Iterable[str]]) -> list[str]:
    """What the job refers to that does not exist: each missing secret, or key of a secret.

    `secrets` maps each secret's name to its keys.
    """
    problems = []
    for name, key in sorted(spec.secret_refs):
        if name not in secrets:
            problems.append(f"there is no secret {name!r} (`ozy secret set {name} ...`)")
        elif key not in secrets[name]:
            keys = ", ".join(sorted(secrets[name])) or "none"
            problems.append(f"secret {name!r} has no key {key!r} (it has: {keys})")
    return problems


def secrets_used(spec: JobSpec) -> set[str]:
    return {name for name, _ in spec.secret_refs}


def jobs_using(secret_name: str, jobs: Iterable[JobRecord]) -> list[str]:
    """The names of the jobs whose containers use the secret, sorted."""
    return sorted(record.spec.name for record in jobs if secret_name in secrets_used(record.spec))


def keys_in_use(secret_name: str, keys: Iterable[str], jobs: Iterable[JobRecord]) -> list[str]:
    """Which jobs use a key of the secret other than `keys`: "job (key)", sorted."""
    kept = set(keys)
    return sorted(
        f"{record.spec.name} ({key})"
        for record in jobs
        for name, key in record.spec.secret_refs
        if name == secret_name and key not in kept
    )
