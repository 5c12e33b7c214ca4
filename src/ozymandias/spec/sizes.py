"""Sizes of memory and disk, written the way docker-compose users write them.

Units are binary (1K = 1024 bytes), as for docker's `--memory 512m`: a job's
"2G" must mean the same amount of RAM the kernel's cgroup limit will enforce.
"""

import re
from decimal import Decimal

_UNITS = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}

# "512M", "2Gi", "512MiB", "1.5G", "100B", "4096"; the "i"/"iB"/"B" suffixes
# are accepted so Kubernetes and docker spellings both work.
_SIZE = re.compile(r"(?P<number>\d+(?:\.\d+)?)\s*(?P<unit>[KMGT]?)(?:i|iB|B)?", re.IGNORECASE)


def parse_size(text: str | int) -> int:
    """Parse a size like "512M" or "2G" (or a plain number of bytes) into bytes."""
    error = ValueError(f"'{text}' is not a size like 512M or 2G")
    if isinstance(text, int):
        size = text
    else:
        match = _SIZE.fullmatch(text.strip())
        if not match:
            raise error
        # Decimal keeps "1.1G" exact until the final rounding to whole bytes.
        size = round(Decimal(match["number"]) * _UNITS[match["unit"].upper()])
    if size <= 0:
        raise error
    return size


def format_size(n: int) -> str:
    """Format bytes as the shortest readable size: "12G", "512M", "1.5G", "100B".

    Up to two decimals are kept, so the result parses back to `n` exactly
    whenever `n` is a whole number of hundredths of its unit.
    """
    # Round before comparing so 1048575 bytes reads as "1M", not "1024K".
    unit = next((u for u in "TGMK" if round(n / _UNITS[u], 2) >= 1), "")
    number = f"{n / _UNITS[unit]:.2f}".rstrip("0").rstrip(".")
    return f"{number}{unit or 'B'}"


def format_cpu(millicores: int) -> str:
    """Format CPU as cores, the unit a spec's `cpus` is written in: "1 core", "2.5 cores"."""
    number = f"{millicores / 1000:.3f}".rstrip("0").rstrip(".")
    return f"{number} core" if number == "1" else f"{number} cores"
