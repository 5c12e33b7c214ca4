"""The container options compose files need (entrypoint, working_dir, stop_signal, init,
tmpfs) and a job's DNS search path: from the job spec, through the plan, to podman's JSON."""

from typing import Any

import pytest

from ozymandias.agent.local_plan import DesiredInstance
from ozymandias.agent.pod_plan import pod_plan
from ozymandias.runtime.podman_json import container_spec, pod_spec
from ozymandias.spec.loader import SpecError, load_job


def bodies(job: str) -> tuple[dict[str, Any], dict[str, Any]]:
    spec = load_job(job)
    plan = pod_plan("n1", DesiredInstance("web", 0, 1, spec), network=None, dns_domain="c.test")
    [[app]] = plan.start_waves
    return pod_spec(plan), container_spec(plan, app)


def container(fields: str) -> dict[str, Any]:
    return bodies(f"name: web\ncontainers: {{app: {{image: x, {fields}}}}}\n")[1]


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ("entrypoint: /bin/sh -c", {"entrypoint": ["/bin/sh", "-c"]}),
        ("working_dir: /srv/app", {"work_dir": "/srv/app"}),
        ("stop_signal: SIGQUIT", {"stop_signal": 3}),
        ("stop_signal: int", {"stop_signal": 2}),
        ("stop_signal: 9", {"stop_signal": 9}),
        ("init: true", {"init": True}),
    ],
)
def test_options_reach_podman(fields: str, expected: dict[str, Any]) -> None:
    body = container(fields)
    assert {key: body[key] for key in expected} == expected


def test_without_options_podman_keeps_the_images_defaults() -> None:
    body = container("command: [a]")
    assert not {"entrypoint", "work_dir", "stop_signal", "init", "mounts"} & body.keys()


def test_tmpfs_mounts() -> None:
    assert container("tmpfs: [/run, /tmp]")["mounts"] == [
        {
            "destination": path,
            "type": "tmpfs",
            "source": "tmpfs",
            "options": ["rw", "nosuid", "nodev"],
        }
        for path in ("/run", "/tmp")
    ]


@pytest.mark.parametrize(
    "fields", ["stop_signal: SIGNOPE", "stop_signal: 99", "working_dir: relative", "tmpfs: [../x]"]
)
def test_bad_options_are_refused(fields: str) -> None:
    with pytest.raises(SpecError):
        container(fields)


def test_dns_search_names_are_below_the_cluster_domain() -> None:
    pod, _ = bodies("name: web\ndnsSearch: [shop]\ncontainers: {app: {image: x}}\n")
    assert pod["dns_search"] == ["shop.c.test"]
    pod, _ = bodies("name: web\ncontainers: {app: {image: x}}\n")
    assert "dns_search" not in pod


def test_depends_on_does_not_change_the_pods() -> None:
    plain = load_job("name: web\ncontainers: {app: {image: x}}\n")
    waiting = load_job(
        "name: web\ndependsOn: [{job: db, condition: service_healthy}]\n"
        "containers: {app: {image: x}}\n"
    )
    assert plain.pod_fingerprint() == waiting.pod_fingerprint()
    with pytest.raises(SpecError, match="condition"):
        load_job("name: web\ndependsOn: [{job: db, condition: later}]\ncontainers: {a: {image: x}}")
