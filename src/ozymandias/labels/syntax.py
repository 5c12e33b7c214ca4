"""What a label key and value may be: Kubernetes' syntax, so labels read the same there. Pure.

A key is a name of at most 63 characters (letters, digits, '-', '_', '.',
starting and ending with a letter or digit), optionally after a DNS
subdomain prefix and a slash (`example.com/team`). A value is empty or
such a name. Both stay short: they are shown in tables, matched by
selectors and stored with every version of a job.
"""

from __future__ import annotations

import re

NAME_LENGTH = 63
PREFIX_LENGTH = 253
MAX_JOB_LABELS = 64

_NAME = re.compile(r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?")
_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_NAME_RULE = "1-63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit"


def shown(text: str) -> str:
    """`text` quoted in a message, cut to a readable length (a key may be huge and hostile)."""
    return repr(text if len(text) <= 70 else text[:67] + "...")


def key_problem(key: str) -> str | None:
    """Why `key` is not a label key, or None."""
    prefix, slash, name = key.rpartition("/")
    if slash and not (len(prefix) <= PREFIX_LENGTH and _SUBDOMAIN.fullmatch(prefix)):
        return (
            f"label key {shown(key)}: the prefix before '/' must be a DNS subdomain"
            f" (lowercase, at most {PREFIX_LENGTH} characters)"
        )
    if not (len(name) <= NAME_LENGTH and _NAME.fullmatch(name)):
        return f"label key {shown(key)}: the name must be {_NAME_RULE}"
    return None


def value_problem(value: str) -> str | None:
    """Why `value` is not a label value (empty is one), or None."""
    if value and not (len(value) <= NAME_LENGTH and _NAME.fullmatch(value)):
        return f"label value {shown(value)} must be empty or {_NAME_RULE}"
    return None


def labels_problem(labels: dict[str, str]) -> str | None:
    """Why `labels` cannot be a job's labels (the first reason found), or None."""
    if len(labels) > MAX_JOB_LABELS:
        return f"at most {MAX_JOB_LABELS} labels, not {len(labels)}"
    for key, value in labels.items():
        problem = key_problem(key) or value_problem(value)
        if problem:
            return problem
    return None
