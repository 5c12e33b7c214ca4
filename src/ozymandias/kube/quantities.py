"""Kubernetes resource quantities (`128Mi`, `500m`, `1.5G`, `1e3`): to bytes and cores, and back.

The grammar is apimachinery's `resource.Quantity`: a decimal number and a
suffix, binary (Ki, Mi, Gi, Ti, Pi, Ei), decimal (m, k, M, G, T, P, E) or an
exponent (e3). Values are rounded up, as `Quantity.Value()` and `MilliValue()`
round. Pure.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal

_SUFFIXES: dict[str, Decimal] = {
    "": Decimal(1),
    "m": Decimal("0.001"),
    "k": Decimal(10) ** 3,
    "M": Decimal(10) ** 6,
    "G": Decimal(10) ** 9,
    "T": Decimal(10) ** 12,
    "P": Decimal(10) ** 15,
    "E": Decimal(10) ** 18,
    "Ki": Decimal(2) ** 10,
    "Mi": Decimal(2) ** 20,
    "Gi": Decimal(2) ** 30,
    "Ti": Decimal(2) ** 40,
    "Pi": Decimal(2) ** 50,
    "Ei": Decimal(2) ** 60,
}
_QUANTITY = re.compile(
    r"(?P<number>[+-]?(?:\d+(?:\.\d*)?|\.\d+))"
    r"(?:(?P<suffix>Ki|Mi|Gi|Ti|Pi|Ei|m|k|M|G|T|P|E)|[eE](?P<exponent>[+-]?\d{1,3}))?"
)
_MAX_LENGTH = 64
# What the apiserver answers for a malformed quantity.
_GRAMMAR = (
    "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
)


def parse_quantity(value: object) -> Decimal:
    """The amount `value` stands for; ValueError if it is not a quantity."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValueError(_GRAMMAR)
    text = str(value).strip()
    match = _QUANTITY.fullmatch(text) if len(text) <= _MAX_LENGTH else None
    if match is None:
        raise ValueError(_GRAMMAR)
    number = Decimal(match["number"])
    if match["exponent"] is not None:
        return number * Decimal(10) ** int(match["exponent"])
    return number * _SUFFIXES[match["suffix"] or ""]


def bytes_of(value: object) -> int:
    """A memory or storage quantity in whole bytes, rounded up."""
    return math.ceil(parse_quantity(value))


def millicores_of(value: object) -> int:
    """A CPU quantity in thousandths of a core, rounded up."""
    return math.ceil(parse_quantity(value) * 1000)


def format_bytes(size: int) -> str:
    """`128Mi`, `2Gi`, or plain bytes: the largest binary suffix that is exact."""
    for suffix in ("Ei", "Pi", "Ti", "Gi", "Mi", "Ki"):
        unit = int(_SUFFIXES[suffix])
        if size and size % unit == 0:
            return f"{size // unit}{suffix}"
    return str(size)


def format_millicores(millicores: int) -> str:
    """`2` for whole cores, `500m` otherwise, as Kubernetes writes CPU."""
    return str(millicores // 1000) if millicores % 1000 == 0 else f"{millicores}m"


def format_cores(cores: float) -> str:
    """A spec's `cpus` (cores, a float) as a CPU quantity."""
    return format_millicores(math.ceil(round(cores * 1000, 6)))
