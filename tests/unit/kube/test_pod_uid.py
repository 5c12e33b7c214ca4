"""A Pod's uid follows the pod its instance runs on, which `kubectl delete pod` waits on."""

from __future__ import annotations

from ozymandias.cluster.records import InstanceState, InstanceStatus
from ozymandias.kube.pods import pod_uid


def status(pod_id: str, updated_at: float = 100.0) -> InstanceStatus:
    return InstanceStatus(
        job="web",
        index=0,
        node="n1",
        state=InstanceState.RUNNING,
        updated_at=updated_at,
        pod_id=pod_id,
    )


def test_the_uid_is_kept_while_the_pod_is() -> None:
    assert pod_uid("web-0", status("c1", 100.0), 100.0) == pod_uid(
        "web-0", status("c1", 250.0), 250.0
    )


def test_a_new_pod_has_a_new_uid() -> None:
    assert pod_uid("web-0", status("c1"), 100.0) != pod_uid("web-0", status("c2"), 100.0)


def test_another_instance_has_another_uid() -> None:
    assert pod_uid("web-0", status("c1"), 100.0) != pod_uid("web-1", status("c1"), 100.0)


def test_before_its_pod_is_named_the_uid_is_the_placement_s() -> None:
    assert pod_uid("web-0", status(""), 100.0) == pod_uid("web-0", status(""), 100.0)
    assert pod_uid("web-0", status(""), 100.0) != pod_uid("web-0", status("c1"), 100.0)
