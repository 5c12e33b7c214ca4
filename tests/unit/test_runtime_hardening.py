"""The hardening in a container's creation body: from the job spec, through the
plan `agent/pod_plan.py` makes, to the JSON podman is sent (`runtime/podman_json.py`)."""

from typing import Any

import pytest

from ozymandias.agent.local_plan import DesiredInstance
from ozymandias.agent.pod_plan import pod_plan
from ozymandias.runtime.models import CAPABILITIES, ContainerPlan, PodPlan
from ozymandias.runtime.podman_json import container_spec
from ozymandias.spec.loader import load_job

# Docker's default capability set (moby's oci/caps/defaults.go).
DOCKER_DEFAULT_CAPABILITIES = {
    "CHOWN",
    "DAC_OVERRIDE",
    "FSETID",
    "FOWNER",
    "MKNOD",
    "NET_RAW",
    "SETGID",
    "SETUID",
    "SETFCAP",
    "SETPCAP",
    "NET_BIND_SERVICE",
    "SYS_CHROOT",
    "KILL",
    "AUDIT_WRITE",
}


def creation_body(container: str) -> dict[str, Any]:
    """The creation body of container `app` of a one-container job, given in YAML flow style."""
    spec = load_job(f"name: web\ncontainers: {{app: {container}}}\n")
    plan = pod_plan("n1", DesiredInstance("web", 0, 1, spec), network=None)
    [[app]] = plan.start_waves
    return container_spec(plan, app)


@pytest.mark.parametrize(
    ("container", "pids", "cpu"),
    [
        pytest.param("{image: x}", 2048, None, id="defaults: no cpu quota"),
        pytest.param("{image: x, pids: 64}", 64, None, id="pids"),
        pytest.param("{image: x, cpus: 1}", 2048, {"period": 100_000, "quota": 100_000}, id="1"),
        pytest.param("{image: x, cpus: 0.5}", 2048, {"period": 100_000, "quota": 50_000}, id="0.5"),
        pytest.param(
            "{image: x, cpus: 2.25, pids: 100}",
            100,
            {"period": 100_000, "quota": 225_000},
            id="several cores",
        ),
        pytest.param(
            "{image: x, cpus: 0.333}", 2048, {"period": 100_000, "quota": 33_300}, id="rounded"
        ),
    ],
)
def test_limits_follow_the_spec(container: str, pids: int, cpu: dict[str, int] | None) -> None:
    limits = creation_body(container)["resource_limits"]
    assert limits["pids"] == {"limit": pids}
    assert limits.get("cpu") == cpu
    # The memory limit is still there, with no swap.
    assert limits["memory"] == {"limit": 256 * 1024**2, "swap": 256 * 1024**2}


@pytest.mark.parametrize(
    "container",
    [
        pytest.param("{image: x}", id="defaults"),
        pytest.param("{image: x, cpus: 4, pids: 100000, memory: 4G}", id="generous limits"),
        pytest.param(
            "{image: x, volumes: [{type: local, path: /data, space: 10M}]}", id="with a volume"
        ),
    ],
)
def test_every_container_is_hardened(container: str) -> None:
    body = creation_body(container)
    assert body["no_new_privileges"] is True
    assert body["cap_drop"] == ["ALL"]
    assert set(body["cap_add"]) < DOCKER_DEFAULT_CAPABILITIES
    assert "NET_RAW" not in body["cap_add"]
    assert body["log_configuration"] == {"driver": "k8s-file", "size": 10 * 1024**2}
    assert not {"privileged", "devices", "user", "userns", "pidns", "netns"} & body.keys()


def test_capabilities_are_podmans_defaults() -> None:
    # What the example images, and the tests' images, are known to run with.
    assert set(CAPABILITIES) == DOCKER_DEFAULT_CAPABILITIES - {"NET_RAW", "MKNOD", "AUDIT_WRITE"}
    assert len(CAPABILITIES) == len(set(CAPABILITIES))


def test_a_plan_built_without_the_spec_is_hardened_too() -> None:
    # Callers that build plans directly (the runtime's integration tests, benchmarks)
    # get the same defaults, and a plan's own values are what reach the body.
    pod = PodPlan("p", {}, None, "p", [])
    bare = container_spec(pod, ContainerPlan("a", "x", None, {}, 64 * 1024**2))
    assert (bare["no_new_privileges"], bare["cap_drop"]) == (True, ["ALL"])
    assert bare["cap_add"] == list(CAPABILITIES)
    assert bare["resource_limits"]["pids"] == {"limit": 2048}
    assert "cpu" not in bare["resource_limits"]
    custom = ContainerPlan("a", "x", None, {}, 1, capabilities=("KILL",), log_size=1024)
    body = container_spec(pod, custom)
    assert (body["cap_add"], body["log_configuration"]["size"]) == (["KILL"], 1024)
