"""Kubernetes quantities to bytes and cores, and back."""

from __future__ import annotations

import pytest

from ozymandias.kube.quantities import (
    bytes_of,
    format_bytes,
    format_cores,
    format_millicores,
    millicores_of,
)


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("128Mi", 128 * 1024**2),
        ("1Gi", 1024**3),
        ("1G", 10**9),
        ("500M", 500 * 10**6),
        ("1k", 1000),
        ("1Ki", 1024),
        ("128974848", 128974848),
        (128974848, 128974848),
        ("129e6", 129 * 10**6),
        ("1.5Gi", 3 * 1024**3 // 2),
        ("0.1", 1),  # rounded up, as Quantity.Value() rounds
        ("1Ti", 1024**4),
    ],
)
def test_sizes(text: str | int, size: int) -> None:
    assert bytes_of(text) == size


@pytest.mark.parametrize(
    ("text", "millicores"),
    [
        ("500m", 500),
        ("1", 1000),
        ("0.5", 500),
        (2, 2000),
        ("2.5", 2500),
        ("0.0001", 1),
        ("1e-3", 1),
    ],
)
def test_cpus(text: str | int, millicores: int) -> None:
    assert millicores_of(text) == millicores


@pytest.mark.parametrize(
    "text", ["", "lots", "1Xi", "Mi", "1 Gi", "--1", True, None, [1], "9" * 100]
)
def test_bad_quantities(text: object) -> None:
    with pytest.raises(ValueError, match="quantities must match"):
        bytes_of(text)


@pytest.mark.parametrize(
    ("size", "shown"),
    [
        (128 * 1024**2, "128Mi"),
        (1024**3, "1Gi"),
        (1536, "1536"),
        (1024, "1Ki"),
        (3 * 1024**4, "3Ti"),
        (10**9, "1000000000"),
    ],
)
def test_sizes_are_written_with_the_largest_exact_unit(size: int, shown: str) -> None:
    assert format_bytes(size) == shown
    assert bytes_of(shown) == size


def test_cores() -> None:
    assert format_millicores(2000) == "2" and format_millicores(1500) == "1500m"
    assert format_cores(0.5) == "500m" and format_cores(1.0) == "1"
