"""Compose files converted to jobs, field by field: every key issue #20 lists."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from ozymandias.compose.convert import convert
from ozymandias.compose.findings import ComposeError
from ozymandias.compose.loader import choose_project, is_compose, load_compose
from ozymandias.spec.loader import SpecError, job_from_data


def job_of(service: dict[str, Any], top: dict[str, Any] | None = None, **kwargs: Any) -> Any:
    document = {"services": {"app": {"image": "busybox", **service}}, **(top or {})}
    conversion = convert(document, "shop", **kwargs)
    (job,) = conversion.jobs
    job_from_data(job)  # every converted job is a valid job spec
    return job


def at(data: Any, path: str) -> Any:
    for part in path.split("."):
        data = data[int(part)] if isinstance(data, list) else data[part]
    return data


C = "containers.app."
CASES: list[tuple[str, dict[str, Any], str, Any]] = [
    ("image", {}, C + "image", "busybox"),
    ("command string", {"command": "echo 'a b'"}, C + "command", ["echo", "a b"]),
    ("command list", {"command": ["echo", 1]}, C + "command", ["echo", "1"]),
    ("entrypoint", {"entrypoint": "/bin/sh -c"}, C + "entrypoint", ["/bin/sh", "-c"]),
    (
        "environment map",
        {"environment": {"A": 1, "B": True, "C": "x"}},
        C + "environment",
        {"A": "1", "B": "true", "C": "x"},
    ),
    (
        "environment list",
        {"environment": ["A=1", "B=x=y"]},
        C + "environment",
        {"A": "1", "B": "x=y"},
    ),
    (
        "ports short",
        {"ports": ["8080"]},
        C + "ports",
        [{"cluster_port": 8080, "container_port": 8080, "protocol": "tcp"}],
    ),
    (
        "ports published",
        {"ports": ["30080:80"]},
        "ingress.tcp",
        [{"port": 30080, "targetPort": 80}],
    ),
    (
        "ports host ip",
        {"ports": ["127.0.0.1:30080:80/tcp"]},
        "ingress.tcp",
        [{"port": 30080, "targetPort": 80}],
    ),
    (
        "ports long",
        {"ports": [{"target": 53, "published": "30053", "protocol": "tcp"}]},
        "ingress.tcp",
        [{"port": 30053, "targetPort": 53}],
    ),
    ("ports udp", {"ports": ["53/udp"]}, C + "ports.0.protocol", "udp"),
    (
        "ports range",
        {"ports": ["30000-30001:7000-7001"]},
        "ingress.tcp",
        [{"port": 30000, "targetPort": 7000}, {"port": 30001, "targetPort": 7001}],
    ),
    (
        "expose",
        {"expose": ["5432", 6379]},
        C + "ports",
        [
            {"cluster_port": 5432, "container_port": 5432, "protocol": "tcp"},
            {"cluster_port": 6379, "container_port": 6379, "protocol": "tcp"},
        ],
    ),
    ("restart default", {}, C + "restart", "never"),
    ("restart no", {"restart": "no"}, C + "restart", "never"),
    ("restart always", {"restart": "always"}, C + "restart", "always"),
    ("restart on-failure", {"restart": "on-failure"}, C + "restart", "on-failure"),
    ("restart on-failure:N", {"restart": "on-failure:3"}, C + "restart", "on-failure"),
    ("restart on-failure:N retries", {"restart": "on-failure:3"}, C + "max_retries", 3),
    ("stop_grace_period", {"stop_grace_period": "1m30s"}, C + "stop_grace_period", 90.0),
    ("stop_grace_period number", {"stop_grace_period": 20}, C + "stop_grace_period", 20.0),
    ("user uid", {"user": 1000}, C + "user", "1000"),
    ("user name and group", {"user": "app:app"}, C + "user", "app:app"),
    ("restart unless-stopped", {"restart": "unless-stopped"}, C + "restart", "unless-stopped"),
    (
        "healthcheck CMD",
        {
            "healthcheck": {
                "test": ["CMD", "pg_isready"],
                "interval": "1m30s",
                "timeout": "10s",
                "retries": 5,
                "start_period": "40s",
            }
        },
        C + "healthcheck",
        {
            "type": "exec",
            "command": ["pg_isready"],
            "interval": 90.0,
            "timeout": 10.0,
            "unhealthy_threshold": 5,
            "start_period": 40.0,
        },
    ),
    (
        "healthcheck CMD-SHELL",
        {"healthcheck": {"test": ["CMD-SHELL", "nc -z 127.0.0.1 80"]}},
        C + "healthcheck.command",
        ["/bin/sh", "-c", "nc -z 127.0.0.1 80"],
    ),
    (
        "healthcheck string",
        {"healthcheck": {"test": "true"}},
        C + "healthcheck.command",
        ["/bin/sh", "-c", "true"],
    ),
    ("healthcheck defaults", {"healthcheck": {"test": "true"}}, C + "healthcheck.interval", 30.0),
    ("deploy.replicas", {"deploy": {"replicas": 3}}, "numInstances", 3),
    ("scale", {"scale": 2}, "numInstances", 2),
    (
        "deploy memory",
        {"deploy": {"resources": {"limits": {"memory": "512m"}}}},
        C + "memory",
        "512M",
    ),
    ("deploy cpus", {"deploy": {"resources": {"limits": {"cpus": "0.5"}}}}, C + "cpus", 0.5),
    (
        "deploy update_config",
        {
            "deploy": {
                "update_config": {"parallelism": 2, "monitor": "15s", "failure_action": "pause"}
            }
        },
        "update",
        {"max_parallel": 2, "min_healthy_time": 15.0, "auto_revert": False},
    ),
    (
        "placement label",
        {"deploy": {"placement": {"constraints": ["node.labels.zone == a"]}}},
        "nodeSelector",
        {"zone": "a"},
    ),
    (
        "placement not",
        {"deploy": {"placement": {"constraints": ["node.labels.disk != hdd"]}}},
        "affinity",
        [{"key": "disk", "operator": "NotIn", "values": ["hdd"]}],
    ),
    (
        "placement host",
        {"deploy": {"placement": {"constraints": ["node.hostname == n1"]}}},
        "schedulingConstraints",
        {"cannotBeScheduledOn": [], "mayBeScheduledOn": ["n1"]},
    ),
    ("deploy global", {"deploy": {"mode": "global"}}, "type", "system"),
    ("mem_limit", {"mem_limit": "1g"}, C + "memory", "1G"),
    ("cpus", {"cpus": 1.5}, C + "cpus", 1.5),
    ("labels", {"labels": {"tier": "web"}}, "labels", {"tier": "web", "project": "shop"}),
    ("labels list", {"labels": ["tier=web"]}, "labels.tier", "web"),
    ("working_dir", {"working_dir": "/srv"}, C + "working_dir", "/srv"),
    ("stop_signal", {"stop_signal": "SIGQUIT"}, C + "stop_signal", "SIGQUIT"),
    ("init", {"init": True}, C + "init", True),
    ("pull_policy", {"pull_policy": "always"}, C + "pull", "always"),
    ("pull_policy old name", {"pull_policy": "if_not_present"}, C + "pull", "missing"),
    ("pull_policy never", {"pull_policy": "never"}, C + "pull", "never"),
    ("tmpfs", {"tmpfs": ["/run", "/tmp:size=64m"]}, C + "tmpfs", ["/run", "/tmp"]),
    ("tmpfs volume", {"volumes": [{"type": "tmpfs", "target": "/cache"}]}, C + "tmpfs", ["/cache"]),
    (
        "anonymous volume",
        {"volumes": ["/scratch"]},
        C + "volumes",
        [{"type": "local", "path": "/scratch", "space": "256M"}],
    ),
    ("dns search", {}, "dnsSearch", ["shop"]),
    ("job name", {}, "name", "shop-app"),
    ("x- extension", {"x-anything": {"a": 1}}, "name", "shop-app"),
]


@pytest.mark.parametrize(
    ("service", "path", "expected"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_each_key(service: dict[str, Any], path: str, expected: Any) -> None:
    assert at(job_of(service), path) == expected


def test_named_volumes_are_shared_with_their_size() -> None:
    top = {"volumes": {"db_data": {"driver_opts": {"size": "2G"}}, "plain": None}}
    volumes = at(
        job_of({"volumes": ["db_data:/var/lib/db", "plain:/plain:ro"]}, top), C + "volumes"
    )
    assert volumes == [
        {"type": "shared", "path": "/var/lib/db", "space": "2G", "name": "db-data"},
        {"type": "shared", "path": "/plain", "space": "1G", "name": "plain"},
    ]


def test_secrets_become_files_in_run_secrets() -> None:
    top = {"secrets": {"db_pass": {"file": "./pass.txt"}}}
    document = {
        "services": {
            "app": {"image": "x", "secrets": ["db_pass", {"source": "db_pass", "target": "other"}]}
        },
        **top,
    }
    conversion = convert(document, "shop")
    assert at(conversion.jobs[0], C + "secrets") == [
        {"secret": "shop-db-pass", "key": "value", "path": "/run/secrets/db_pass"},
        {"secret": "shop-db-pass", "key": "value", "path": "/run/secrets/other"},
    ]
    assert conversion.secret_files == {"shop-db-pass": "./pass.txt"}


def test_env_files_then_environment_then_the_shell() -> None:
    service = {
        "env_file": ["a.env", {"path": "missing.env", "required": False}],
        "environment": {"B": "from-environment", "FROM_SHELL": None, "NOT_SET": None},
    }
    job = job_of(
        service,
        env={"FROM_SHELL": "shell"},
        env_files={"a.env": "A=1\nB=from-file\n", "missing.env": None},
    )
    assert at(job, C + "environment") == {"A": "1", "B": "from-environment", "FROM_SHELL": "shell"}
    with pytest.raises(ComposeError, match=r"service app, key env_file: b\.env does not exist"):
        job_of({"env_file": "b.env"}, env_files={"b.env": None})


def test_depends_on_both_forms_and_dependency_order() -> None:
    document = {
        "services": {
            "web": {"image": "w", "depends_on": ["api"]},
            "api": {
                "image": "a",
                "depends_on": {
                    "db": {"condition": "service_healthy"},
                    "init": {"condition": "service_completed_successfully"},
                },
            },
            "db": {"image": "d"},
            "init": {"image": "i"},
        }
    }
    conversion = convert(document, "p")
    names = [job["name"] for job in conversion.jobs]
    assert names.index("p-db") < names.index("p-api") < names.index("p-web")
    assert names.index("p-init") < names.index("p-api")
    jobs = {job["name"]: job for job in conversion.jobs}
    assert jobs["p-web"]["dependsOn"] == [{"job": "p-api", "condition": "service_started"}]
    assert jobs["p-api"]["dependsOn"] == [
        {"job": "p-db", "condition": "service_healthy"},
        {"job": "p-init", "condition": "service_completed_successfully"},
    ]
    assert conversion.services == {"web": "p-web", "api": "p-api", "db": "p-db", "init": "p-init"}


@pytest.mark.parametrize(
    ("service", "message"),
    [
        ({"volumes": ["./data:/data"]}, r"service app, key volumes\[0\]: './data' is a bind mount"),
        ({"volumes": ["/srv/data:/data"]}, "bind mount of a host path"),
        ({"volumes": [{"type": "bind", "source": "/x", "target": "/y"}]}, "bind mount"),
        ({"volumes": ["nope:/data"]}, "volume 'nope' is not in the top-level volumes"),
        ({"depends_on": ["ghost"]}, "service app, key depends_on: 'ghost' is not a service"),
        ({"healthcheck": {"test": ["WHAT", "x"]}}, "key healthcheck.test"),
        ({"restart": "sometimes"}, "service app, key restart"),
        ({"stop_grace_period": "soon"}, "service app, key stop_grace_period: 'soon'"),
        (
            {"deploy": {"placement": {"constraints": ["node.role == manager"]}}},
            r"key deploy.placement.constraints\[0\]",
        ),
        ({"secrets": ["ghost"]}, r"key secrets\[0\]: 'ghost' is not a top-level secret"),
    ],
)
def test_errors_name_the_service_and_key(service: dict[str, Any], message: str) -> None:
    with pytest.raises(ComposeError, match=message):
        job_of(service)


@pytest.mark.parametrize("user", ["root", 0, "0:0", "1000:root"])
def test_a_root_user_converts_but_the_job_spec_refuses_it(user: Any) -> None:
    (job,) = convert({"services": {"app": {"image": "x", "user": user}}}, "p").jobs
    with pytest.raises(SpecError) as raised:
        job_from_data(job)
    [problem] = raised.value.problems
    assert problem.path == "containers.app.user"
    assert "may not be root" in problem.message


def test_a_service_without_an_image_is_refused() -> None:
    with pytest.raises(ComposeError, match="service app: key 'image' is missing"):
        convert({"services": {"app": {"build": "."}}}, "p")


UNSUPPORTED = {
    "network_mode": "host",
    "privileged": True,
    "devices": ["/dev/fuse"],
    "links": ["db"],
    "cap_add": ["NET_ADMIN"],
}


def test_unsupported_keys_warn_once_each_and_fail_under_strict() -> None:
    document = {"services": {"app": {"image": "x", **UNSUPPORTED}}}
    warnings = convert(document, "p").warnings
    for key in UNSUPPORTED:
        lines = [line for line in warnings if f"'{key}'" in line]
        assert lines == [f"service app: key '{key}' is not supported, ignored"]
    with pytest.raises(ComposeError) as raised:
        convert(document, "p", strict=True)
    assert str(raised.value).splitlines() == [
        f"service app: key '{key}' is not supported, ignored" for key in UNSUPPORTED
    ]


def test_a_pull_policy_without_a_match_warns_and_fails_under_strict() -> None:
    document = {"services": {"app": {"image": "x", "pull_policy": "build"}}}
    converted = convert(document, "p")
    assert "pull" not in converted.jobs[0]["containers"]["app"]
    assert converted.warnings == [
        "service app: key 'pull_policy' is 'build', which is not supported, ignored"
    ]
    with pytest.raises(ComposeError, match="pull_policy"):
        convert(document, "p", strict=True)


def test_harmless_keys_only_note_and_pass_strict() -> None:
    document = {
        "version": "3.8",
        "services": {
            "app": {"image": "x", "container_name": "c", "hostname": "h", "networks": ["n"]}
        },
        "networks": {"n": None},
    }
    warnings = convert(document, "p", strict=True).warnings
    assert sorted(line.split("'")[1] for line in warnings) == [
        "container_name",
        "hostname",
        "networks",
        "networks",
        "version",
    ]


def test_published_ports_outside_the_ingress_range_are_noted() -> None:
    conversion = convert({"services": {"app": {"image": "x", "ports": ["8080:80"]}}}, "p")
    assert "ingress" not in conversion.jobs[0]
    assert any("published port 8080 is outside" in line for line in conversion.warnings)


def test_choose_project() -> None:
    assert choose_project("My_App", {}, {}, Path("/x")) == "my-app"
    assert choose_project(None, {"COMPOSE_PROJECT_NAME": "env"}, {"name": "n"}, Path("/x")) == "env"
    assert choose_project(None, {}, {"name": "named"}, Path("/x/dir")) == "named"
    assert choose_project(None, {}, {}, Path("/x/Shop.Front")) == "shopfront"


def test_is_compose() -> None:
    assert is_compose({"services": {}})
    assert not is_compose({"name": "x", "containers": {}})
    assert not is_compose(["services"])


def test_the_loader_reads_dotenv_env_files_and_the_schema(tmp_path: Path) -> None:
    directory = tmp_path / "Shop"
    directory.mkdir()
    (directory / ".env").write_text("TAG=1.2\nPORT=30080\n")
    (directory / "app.env").write_text("FROM_FILE=yes\n")
    (directory / "compose.yaml").write_text(
        yaml.safe_dump(
            {
                "services": {
                    "web": {
                        "image": "web:${TAG}",
                        "ports": ["${PORT}:80"],
                        "env_file": "app.env",
                        "environment": ["PRICE=$$5", "WHO=${WHO:-nobody}"],
                    }
                }
            }
        )
    )
    conversion = load_compose(directory / "compose.yaml", environ={"TAG": "2.0"})
    (job,) = conversion.jobs
    assert job["name"] == "shop-web"
    assert at(job, "containers.web.image") == "web:2.0"  # the environment wins over .env
    assert at(job, "ingress.tcp") == [{"port": 30080, "targetPort": 80}]
    assert at(job, "containers.web.environment") == {
        "FROM_FILE": "yes",
        "PRICE": "$5",
        "WHO": "nobody",
    }


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"services": {"web": {"image": 5}}}, 'service web, key image: 5 is not of type "string"'),
        (
            {"services": {"web": {"image": "x", "bogus": 1}}},
            r"service web: Additional properties are not allowed \('bogus' was unexpected\)",
        ),
        (
            {"services": {"web": {"image": "x", "ports": [{"published": 1}]}}},
            r"service web, key ports\[0\]",
        ),
        ({"services": {"web": {"image": "${X:?set X}"}}}, r"services.web.image: .*set X"),
        ({"containers": {}}, "is not a compose file"),
    ],
)
def test_the_loader_refuses_with_the_service_and_key(
    tmp_path: Path, document: dict[str, Any], message: str
) -> None:
    (tmp_path / "compose.yaml").write_text(yaml.safe_dump(document))
    with pytest.raises(ComposeError, match=message):
        load_compose(tmp_path / "compose.yaml", environ={})


def test_the_loader_checks_jobs_against_the_job_spec(tmp_path: Path) -> None:
    (tmp_path / "compose.yaml").write_text(
        yaml.safe_dump({"services": {"web": {"image": "x", "mem_limit": "lots"}}})
    )
    with pytest.raises(ComposeError, match=r"service web, job field containers\.web\.memory"):
        load_compose(tmp_path / "compose.yaml", environ={})
