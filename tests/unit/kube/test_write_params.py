"""A write's dryRun: All, or none."""

from __future__ import annotations

import pytest

from ozymandias.kube.status import KubeError
from ozymandias.kube_api.write_params import check_dry_run


@pytest.mark.parametrize(("value", "dry"), [(None, False), ("", False), ("All", True)])
def test_dry_run(value: str | None, dry: bool) -> None:
    assert check_dry_run(value) is dry


@pytest.mark.parametrize("value", ["all", "true", "Server"])
def test_other_dry_run_values_are_refused(value: str) -> None:
    with pytest.raises(KubeError) as raised:
        check_dry_run(value)
    assert raised.value.code == 400
