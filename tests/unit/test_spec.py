"""Tests for the job spec: parsing, validation messages, and derived values."""

from pathlib import Path

import pytest

from ozymandias.spec.loader import FieldProblem, SpecError, dump_job, job_from_data, load_job
from ozymandias.spec.models import JobSpec
from ozymandias.spec.sizes import format_size, parse_size

FIXTURES = Path(__file__).parent / "fixtures"
K, M, G, T = 1024, 1024**2, 1024**3, 1024**4


@pytest.fixture(scope="module")
def webapp() -> JobSpec:
    return load_job((FIXTURES / "simple-webapp.yaml").read_text())


def job_yaml(containers: str, extra: str = "") -> str:
    """A minimal job around some containers, written in YAML flow style."""
    return f"name: web\ncontainers: {containers}\n{extra}"


def test_design_post_example_parses(webapp: JobSpec) -> None:
    app, db = webapp.containers["app"], webapp.containers["db"]
    assert webapp.name == "simple-webapp"
    assert webapp.num_instances == 3
    assert app.command == ["bin/rails", "s", "--restart"]
    assert app.memory == 2 * G
    assert [(p.cluster_port, p.container_port, p.protocol) for p in app.ports] == [
        (80, 3000, "tcp")
    ]
    assert app.environment["DATABASE_URL"] == "postgresql://webapp:webapp@localhost/webapp"
    assert app.depends_on == ["db"]
    assert app.healthcheck is not None
    assert app.healthcheck.type == "http"
    assert (app.healthcheck.port, app.healthcheck.path) == (3000, "/healthcheck")
    assert (app.healthcheck.timeout, app.healthcheck.interval) == (30, 60)
    assert (app.healthcheck.healthy_threshold, app.healthcheck.unhealthy_threshold) == (2, 2)
    assert [(v.type, v.path, v.space, v.name) for v in app.volumes] == [
        ("shared", "/data/shared", 1 * G, "data-shared"),
        ("local", "/data/scratch", 100 * M, "data-scratch"),
    ]
    assert db.memory == 4 * G
    assert db.environment == {
        "POSTGRES_USER": "webapp",
        "POSTGRES_PASSWORD": "webapp",
        "POSTGRES_DB": "webapp",
    }
    assert webapp.pod_memory == 6 * G
    assert webapp.local_volumes == {"data-scratch": 100 * M, "var-lib-postgresql-data": 10 * G}
    assert webapp.shared_volumes == {"data-shared": 1 * G}
    assert webapp.pod_disk == 100 * M + 10 * G  # shared volumes are counted per zone, not per pod
    assert webapp.start_order == [["db"], ["app"]]


def test_defaults() -> None:
    job = load_job(job_yaml("{app: {image: nginx, healthcheck: {type: tcp, port: 80}}}"))
    app = job.containers["app"]
    assert job.num_instances == 1
    assert (app.restart, app.command, app.memory) == ("always", None, 256 * M)
    assert (app.environment, app.ports, app.depends_on, app.volumes) == ({}, [], [], [])
    assert app.healthcheck is not None
    assert app.healthcheck.model_dump(exclude={"type", "port", "command"}) == {
        "path": "/",
        "timeout": 5,
        "interval": 10,
        "healthy_threshold": 1,
        "unhealthy_threshold": 3,
        "start_period": 5,
    }


@pytest.mark.parametrize(
    "environment",
    [
        "[{name: PORT, value: '3000'}, {name: DEBUG, value: 'true'}, {name: RATIO, value: '0.5'}]",
        "{PORT: 3000, DEBUG: true, RATIO: 0.5}",
        "[PORT=3000, DEBUG=true, RATIO=0.5]",
    ],
    ids=["name-value list", "mapping", "K=V list"],
)
def test_environment_forms_agree(environment: str) -> None:
    job = load_job(job_yaml(f"{{app: {{image: x, environment: {environment}}}}}"))
    assert job.containers["app"].environment == {"PORT": "3000", "DEBUG": "true", "RATIO": "0.5"}


def test_environment_value_may_contain_equals_sign() -> None:
    job = load_job(job_yaml("{app: {image: x, environment: ['URL=a?b=c']}}"))
    assert job.containers["app"].environment == {"URL": "a?b=c"}


@pytest.mark.parametrize(
    ("port", "expected"),
    [
        ("'80:3000'", (80, 3000, "tcp")),
        ("'3000'", (3000, 3000, "tcp")),
        ("3000", (3000, 3000, "tcp")),
        ("'53:5353/udp'", (53, 5353, "udp")),
        ("'8080/tcp'", (8080, 8080, "tcp")),
        # Unquoted, YAML 1.1 would read this as the base-60 number 1342.
        ("22:22", (22, 22, "tcp")),
        ("{cluster_port: 1, container_port: 2, protocol: udp}", (1, 2, "udp")),
    ],
)
def test_port_forms(port: str, expected: tuple[int, int, str]) -> None:
    job = load_job(job_yaml(f"{{app: {{image: x, ports: [{port}]}}}}"))
    mapping = job.containers["app"].ports[0]
    assert (mapping.cluster_port, mapping.container_port, mapping.protocol) == expected


@pytest.mark.parametrize(
    ("restart", "expected"),
    [("always", "always"), ("on-failure", "on-failure"), ("'no'", "never"), ("no", "never")],
)
def test_restart_accepts_compose_no(restart: str, expected: str) -> None:
    job = load_job(job_yaml(f"{{app: {{image: x, restart: {restart}}}}}"))
    assert job.containers["app"].restart == expected


def test_compose_shorthands() -> None:
    job = load_job(
        job_yaml(
            "{app: {image: x, command: 'sh -c \"echo hi\"',"
            " depends_on: {db: {condition: service_started}},"
            " healthcheck: {type: exec, command: 'pg_isready -q',"
            " timeout: 500ms, interval: 1m30s}},"
            " db: {image: y}}"
        )
    )
    app = job.containers["app"]
    assert app.command == ["sh", "-c", "echo hi"]
    assert app.depends_on == ["db"]
    assert app.healthcheck is not None
    assert app.healthcheck.command == ["pg_isready", "-q"]
    assert (app.healthcheck.timeout, app.healthcheck.interval) == (0.5, 90)


@pytest.mark.parametrize(
    ("check", "timeout"),
    [
        ("interval: 2", 2.0),  # the default timeout fits a short interval
        ("interval: 500ms", 0.5),
        ("interval: 1m", 5.0),  # and is 5 s otherwise
        ("{}", 5.0),
        ("interval: 2, timeout: 1", 1.0),  # a timeout the user writes is kept
    ],
)
def test_the_default_healthcheck_timeout_fits_the_interval(check: str, timeout: float) -> None:
    fields = check.strip("{}")
    extra = f", {fields}" if fields else ""
    job = load_job(job_yaml(f"{{app: {{image: x, healthcheck: {{type: tcp, port: 1{extra}}}}}}}"))
    healthcheck = job.containers["app"].healthcheck
    assert healthcheck is not None and healthcheck.timeout == timeout


def test_scheduling_fields() -> None:
    job = load_job(
        job_yaml(
            "{app: {image: x}}",
            "schedulingConstraints: {mayBeScheduledOn: [n1, n2], cannotBeScheduledOn: [n3]}\n"
            "nodeSelector: {disk: ssd}\n"
            "affinity: [{key: zone, operator: In, values: [a]},"
            " {key: gpu, operator: DoesNotExist}]",
        )
    )
    assert job.scheduling_constraints is not None
    assert job.scheduling_constraints.may_be_scheduled_on == ["n1", "n2"]
    assert job.scheduling_constraints.cannot_be_scheduled_on == ["n3"]
    assert job.node_selector == {"disk": "ssd"}
    assert [(a.key, a.operator, a.values) for a in job.affinity] == [
        ("zone", "In", ["a"]),
        ("gpu", "DoesNotExist", []),
    ]


@pytest.mark.parametrize(
    ("containers", "expected"),
    [
        ("{b: {image: x}, a: {image: x}}", [["a", "b"]]),
        (
            "{web: {image: x, depends_on: [api, cache]}, api: {image: x, depends_on: [db]},"
            " db: {image: x}, cache: {image: x}}",
            [["cache", "db"], ["api"], ["web"]],
        ),
    ],
)
def test_start_order_waves(containers: str, expected: list[list[str]]) -> None:
    assert load_job(job_yaml(containers)).start_order == expected


def test_containers_naming_one_volume_share_it() -> None:
    job = load_job(
        job_yaml(
            "{app: {image: x, volumes: [{type: local, path: /a, space: 1G, name: cache}]},"
            " side: {image: x, volumes: [{type: local, path: /b, space: 1G, name: cache}]}}"
        )
    )
    assert job.local_volumes == {"cache": 1 * G}
    assert job.pod_disk == 1 * G


def test_pod_fingerprint_ignores_only_instance_count(webapp: JobSpec) -> None:
    fingerprint = webapp.pod_fingerprint()
    assert len(fingerprint) == 16
    assert int(fingerprint, 16) >= 0
    assert webapp.model_copy(update={"num_instances": 7}).pod_fingerprint() == fingerprint
    data = dump_job(webapp)
    data["containers"]["db"]["image"] = "postgres:14"
    assert job_from_data(data).pod_fingerprint() != fingerprint


def test_dumped_spec_reads_back_the_same(webapp: JobSpec) -> None:
    data = dump_job(webapp)
    assert data["numInstances"] == 3
    assert "num_instances" not in data
    assert job_from_data(data) == webapp
    # The cluster stores specs with model_dump_json, spelled by field name.
    assert JobSpec.model_validate_json(webapp.model_dump_json()) == webapp


@pytest.mark.parametrize(
    ("text", "path", "message"),
    [
        pytest.param(
            job_yaml("{app: {image: x, memory: 2X}}"),
            "containers.app.memory",
            "'2X' is not a size like 512M or 2G",
            id="bad size",
        ),
        pytest.param(
            job_yaml("{app: {image: x, memory: 0}}"),
            "containers.app.memory",
            "'0' is not a size",
            id="zero size",
        ),
        pytest.param(
            "name: Web\ncontainers: {app: {image: x}}",
            "name",
            "'Web' is not a DNS label",
            id="name uppercase",
        ),
        pytest.param(
            "name: my_web\ncontainers: {app: {image: x}}",
            "name",
            "lowercase letters, digits and '-'",
            id="name underscore",
        ),
        pytest.param(
            f"name: {'a' * 64}\ncontainers: {{app: {{image: x}}}}",
            "name",
            "1-63",
            id="name too long",
        ),
        pytest.param(
            "name: 1web\ncontainers: {app: {image: x}}",
            "name",
            "starting with a letter",
            id="name leading digit",
        ),
        pytest.param(
            "name: web-\ncontainers: {app: {image: x}}",
            "name",
            "not ending with '-'",
            id="name trailing dash",
        ),
        pytest.param(
            job_yaml("{App: {image: x}}"),
            "containers.App",
            "'App' is not a DNS label",
            id="container name uppercase",
        ),
        pytest.param(
            job_yaml("{app: {image: x}}", "numInstances: -1"),
            "numInstances",
            "must be greater than or equal to 0, got -1",
            id="negative numInstances",
        ),
        pytest.param(
            job_yaml("{app: {image: x}}", "numInstances: three"),
            "numInstances",
            "must be a whole number, got 'three'",
            id="numInstances not a number",
        ),
        pytest.param(
            job_yaml("{app: {memory: 1G}}"),
            "containers.app.image",
            "field required",
            id="missing image",
        ),
        pytest.param(
            "containers: {app: {image: x}}",
            "name",
            "field required",
            id="missing name",
        ),
        pytest.param(
            job_yaml("{app: {image: x, restart: sometimes}}"),
            "containers.app.restart",
            "must be 'always', 'on-failure', 'never' or 'unless-stopped', got 'sometimes'",
            id="unknown restart policy",
        ),
        pytest.param(
            job_yaml("{app: {imgae: x}}"),
            "containers.app.imgae",
            "unknown field 'imgae' (did you mean 'image'?)",
            id="typo'd field",
        ),
        pytest.param(
            job_yaml("{app: {image: x}}", "numinstances: 2"),
            "numinstances",
            "unknown field 'numinstances' (did you mean 'numInstances'?)",
            id="typo'd camelCase field",
        ),
        pytest.param(
            job_yaml("{app: {image: x, colour: blue}}"),
            "containers.app.colour",
            "unknown field 'colour'",
            id="unknown field without suggestion",
        ),
        pytest.param(
            job_yaml("{app: {image: x, depends_on: [db]}}"),
            "containers.app.depends_on",
            "'db' is not a container of this job",
            id="depends_on unknown container",
        ),
        pytest.param(
            job_yaml("{app: {image: x, depends_on: [db]}, db: {image: y, depends_on: [app]}}"),
            "containers",
            "depends_on has a cycle: app -> db -> app",
            id="depends_on cycle",
        ),
        pytest.param(
            job_yaml("{app: {image: x, depends_on: [app]}}"),
            "containers",
            "depends_on has a cycle: app -> app",
            id="depends_on itself",
        ),
        pytest.param(
            job_yaml("{app: {image: x, ports: ['80:http']}}"),
            "containers.app.ports.0",
            "'80:http' is not a port mapping like 80:3000",
            id="bad port",
        ),
        pytest.param(
            job_yaml("{app: {image: x, ports: ['0:80']}}"),
            "containers.app.ports.0.cluster_port",
            "must be greater than or equal to 1, got 0",
            id="port 0",
        ),
        pytest.param(
            job_yaml("{app: {image: x, ports: ['80:70000']}}"),
            "containers.app.ports.0.container_port",
            "must be less than or equal to 65535, got 70000",
            id="port 70000",
        ),
        pytest.param(
            job_yaml("{app: {image: x, ports: ['80:3000']}, db: {image: y, ports: ['81:3000']}}"),
            "containers.db.ports.0",
            "container port 3000/tcp is already used by container 'app'",
            id="duplicate container port",
        ),
        pytest.param(
            job_yaml("{app: {image: x, ports: ['80:3000']}, db: {image: y, ports: ['80:5432']}}"),
            "containers.db.ports.0",
            "cluster port 80/tcp is already used by container 'app'",
            id="duplicate cluster port",
        ),
        pytest.param(
            job_yaml("{app: {image: x, environment: [{name: 1X, value: a}]}}"),
            "containers.app.environment.0.name",
            "'1X' is not an environment variable name",
            id="env bad name in list",
        ),
        pytest.param(
            job_yaml("{app: {image: x, environment: {MY-VAR: a}}}"),
            "containers.app.environment.MY-VAR",
            "'MY-VAR' is not an environment variable name",
            id="env bad name in mapping",
        ),
        pytest.param(
            job_yaml("{app: {image: x, environment: [A=1, B=2, A=3]}}"),
            "containers.app.environment.2.name",
            "'A' is set more than once",
            id="duplicate env",
        ),
        pytest.param(
            job_yaml("{app: {image: x, environment: [A]}}"),
            "containers.app.environment.0",
            "'A' is not NAME=value",
            id="env string without =",
        ),
        pytest.param(
            job_yaml("{app: {image: x, healthcheck: {type: http, path: /up}}}"),
            "containers.app.healthcheck.port",
            "http healthchecks need a port",
            id="http healthcheck without port",
        ),
        pytest.param(
            job_yaml("{app: {image: x, healthcheck: {type: exec}}}"),
            "containers.app.healthcheck.command",
            "exec healthchecks need a command",
            id="exec healthcheck without command",
        ),
        pytest.param(
            job_yaml("{app: {image: x, healthcheck: {type: tcp, port: 1, timeout: 1m}}}"),
            "containers.app.healthcheck.timeout",
            "timeout (60s) must not exceed interval (10s)",
            id="timeout longer than interval",
        ),
        pytest.param(
            job_yaml("{app: {image: x, healthcheck: {type: tcp, port: 1, interval: soon}}}"),
            "containers.app.healthcheck.interval",
            "'soon' is not a duration like 30s, 1m or 500ms",
            id="bad duration",
        ),
        pytest.param(
            job_yaml("{app: {image: x, volumes: [{type: local, path: data, space: 1G}]}}"),
            "containers.app.volumes.0.path",
            "'data' must be an absolute path",
            id="volume relative path",
        ),
        pytest.param(
            job_yaml("{app: {image: x, volumes: [{type: local, path: /a/../etc, space: 1G}]}}"),
            "containers.app.volumes.0.path",
            "without '..'",
            id="volume path with ..",
        ),
        pytest.param(
            job_yaml("{app: {image: x, volumes: [{type: shared, path: /d, space: 1G, name: D}]}}"),
            "containers.app.volumes.0.name",
            "'D' is not a volume name",
            id="volume bad name",
        ),
        pytest.param(
            job_yaml("{app: {image: x, volumes: [{type: local, path: /data, space: 10K}]}}"),
            "containers.app.volumes.0.space",
            "a volume needs at least 1M, got 10K",
            id="volume too small",
        ),
        pytest.param(
            job_yaml("{app: {image: x, volumes: [{type: nfs, path: /data, space: 1G}]}}"),
            "containers.app.volumes.0.type",
            "must be 'local' or 'shared', got 'nfs'",
            id="volume bad type",
        ),
        pytest.param(
            job_yaml(
                "{app: {image: x, volumes: [{type: local, path: /d, space: 1G},"
                " {type: shared, path: /d/, space: 1G}]}}"
            ),
            "containers.app.volumes.1.path",
            "/d is already mounted by volume 0",
            id="two volumes on one path",
        ),
        pytest.param(
            job_yaml(
                "{app: {image: x, volumes: [{type: local, path: /d, space: 1G}]},"
                " side: {image: x, volumes: [{type: local, path: /e, space: 2G, name: d}]}}"
            ),
            "containers.side.volumes.0",
            "volume 'd' is also mounted by container 'app'",
            id="containers disagree on a shared volume name",
        ),
        pytest.param(
            job_yaml("{app: {image: x}}", "affinity: [{key: zone, operator: In}]"),
            "affinity.0.values",
            "operator In needs at least one value",
            id="affinity In without values",
        ),
        pytest.param(
            job_yaml("{app: {image: x}}", "affinity: [{key: gpu, operator: Exists, values: [a]}]"),
            "affinity.0.values",
            "operator Exists takes no values",
            id="affinity Exists with values",
        ),
        pytest.param(
            job_yaml("{app: {image: x, command: 'echo \"hi'}}"),
            "containers.app.command",
            "No closing quotation",
            id="unbalanced quotes in command",
        ),
        pytest.param(
            job_yaml("{app: {image: x}}", "nodeSelector: [ssd]"),
            "nodeSelector",
            "must be a mapping",
            id="wrong type",
        ),
        pytest.param(job_yaml("{}"), "containers", "at least one container", id="no containers"),
        pytest.param(
            "name: web\ncontainers: {app: {image: x}\n",
            "",
            "invalid YAML at line 3, column 1",
            id="YAML syntax error",
        ),
        pytest.param("- name: web\n", "", "must be a mapping of fields, not a list", id="list"),
        pytest.param("", "", "the job spec is empty", id="empty document"),
        pytest.param("# only a comment\n", "", "the job spec is empty", id="comment only"),
        pytest.param("web", "", "not str 'web'", id="plain string"),
    ],
)
def test_bad_spec_is_explained(text: str, path: str, message: str) -> None:
    with pytest.raises(SpecError) as caught:
        load_job(text)
    assert [problem.path for problem in caught.value.problems] == [path]
    assert message in caught.value.problems[0].message


def test_every_problem_is_reported_on_its_own_line() -> None:
    with pytest.raises(SpecError) as caught:
        load_job("name: Web\nnumInstances: -1\ncontainers: {app: {image: x, memory: 2X}}")
    paths = [problem.path for problem in caught.value.problems]
    assert paths == ["name", "numInstances", "containers.app.memory"]
    assert str(caught.value).splitlines() == [str(problem) for problem in caught.value.problems]
    assert "containers.app.memory: '2X' is not a size like 512M or 2G" in str(caught.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            "name: web\nnumInstnces: 2\ncontainers: {app: {imgae: x, memory: 2X}}",
            [
                ("numInstnces", "unknown field 'numInstnces' (did you mean 'numInstances'?)"),
                ("containers.app.imgae", "unknown field 'imgae' (did you mean 'image'?)"),
                ("containers.app.memory", "'2X' is not a size like 512M or 2G"),
            ],
            id="top-level typo, container typo and bad value",
        ),
        pytest.param(
            "name: web\nnodeSelectr: {}\ncontainers:\n  app:\n    image: x\n"
            "    healthcheck: {type: http, port: 80, interval: soon, retries: 3}\n"
            "  db: {image: y, restart: sometimes}\n",
            [
                ("nodeSelectr", "unknown field 'nodeSelectr' (did you mean 'nodeSelector'?)"),
                ("containers.app.healthcheck.retries", "unknown field 'retries'"),
                (
                    "containers.app.healthcheck.interval",
                    "'soon' is not a duration like 30s, 1m or 500ms",
                ),
                (
                    "containers.db.restart",
                    "must be 'always', 'on-failure', 'never' or 'unless-stopped', got 'sometimes'",
                ),
            ],
            id="typos and bad values at every level, in two containers",
        ),
        pytest.param(
            "nmae: web\ncontainers: {app: {image: x, cpu: 2}}",
            [
                ("nmae", "unknown field 'nmae' (did you mean 'name'?)"),
                ("containers.app.cpu", "unknown field 'cpu' (did you mean 'cpus'?)"),
            ],
            id="a misspelled required field is not also reported missing",
        ),
        pytest.param(
            "name: web\ncolour: blue\ncontainers: {app: {memory: 1G}}",
            [
                ("colour", "unknown field 'colour'"),
                ("containers.app.image", "field required"),
            ],
            id="a required field missing without a typo is still reported",
        ),
    ],
)
def test_every_level_is_checked_at_once(text: str, expected: list[tuple[str, str]]) -> None:
    with pytest.raises(SpecError) as caught:
        load_job(text)
    assert [(problem.path, problem.message) for problem in caught.value.problems] == expected


def test_field_problem_without_path_is_just_the_message() -> None:
    assert str(FieldProblem("", "the job spec is empty")) == "the job spec is empty"
    assert str(FieldProblem("name", "field required")) == "name: field required"


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("512M", 512 * M),
        ("2G", 2 * G),
        ("1024K", 1024 * K),
        ("1T", T),
        ("2Gi", 2 * G),
        ("512MiB", 512 * M),
        ("100MB", 100 * M),
        ("512m", 512 * M),
        ("1.5G", 3 * G // 2),
        ("4096", 4096),
        (4096, 4096),
    ],
)
def test_parse_size(text: str | int, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["2X", "0", "-1", "", "G", "1.2.3M", 0, -5])
def test_parse_size_rejects(text: str | int) -> None:
    with pytest.raises(ValueError, match=f"^'{text}' is not a size like 512M or 2G$"):
        parse_size(text)


@pytest.mark.parametrize(
    ("size", "text"),
    [
        (12 * G, "12G"),
        (512 * M, "512M"),
        (3 * G // 2, "1.5G"),
        (100 * M, "100M"),
        (2 * T, "2T"),
        (1024 * K, "1M"),
        (1536, "1.5K"),
        (100, "100B"),
    ],
)
def test_format_size_round_trips(size: int, text: str) -> None:
    assert format_size(size) == text
    assert parse_size(text) == size


WEB_AND_DB = (
    "{app: {image: x, ports: ['80:3000', '8443']}, db: {image: y, ports: ['5432', 53/udp]}}"
)


def test_ingress_block() -> None:
    job = load_job(
        job_yaml(
            WEB_AND_DB,
            "ingress: {hosts: [Shop.Example.com, shop.test], port: 8443,"
            " tcp: [{port: 15432, targetPort: 5432}]}",
        )
    )
    assert job.ingress is not None
    assert job.ingress.hosts == ["shop.example.com", "shop.test"]
    assert job.http_ingress_port == 8443
    assert [(tcp.port, tcp.target_port) for tcp in job.ingress.tcp] == [(15432, 5432)]
    assert job_from_data(dump_job(job)) == job


def test_ingress_port_defaults_to_the_first_tcp_port() -> None:
    assert load_job(job_yaml(WEB_AND_DB)).http_ingress_port == 80
    assert load_job(job_yaml(WEB_AND_DB, "ingress: {hosts: [a.test]}")).http_ingress_port == 80
    assert load_job(job_yaml("{app: {image: x, ports: [53/udp]}}")).http_ingress_port is None
    assert load_job(job_yaml("{app: {image: x}}")).http_ingress_port is None


def test_ingress_does_not_change_the_pod_fingerprint() -> None:
    plain = load_job(job_yaml(WEB_AND_DB))
    routed = load_job(job_yaml(WEB_AND_DB, "ingress: {hosts: [shop.test]}"))
    assert routed.pod_fingerprint() == plain.pod_fingerprint()


@pytest.mark.parametrize(
    ("ingress", "path", "message"),
    [
        pytest.param(
            "{port: 81}",
            "ingress.port",
            "port 81 is not a tcp cluster port of this job (it declares: 80, 8443, 5432)",
            id="undeclared port",
        ),
        pytest.param(
            "{tcp: [{port: 1053, targetPort: 53}]}",
            "ingress.tcp.0.targetPort",
            "port 53 is not a tcp cluster port",
            id="udp target",
        ),
        pytest.param(
            "{tcp: [{port: 1, targetPort: 5432}, {port: 1, targetPort: 80}]}",
            "ingress.tcp.1.port",
            "port 1 is listed twice",
            id="tcp port twice",
        ),
        pytest.param(
            "{hosts: [a.test, A.test]}", "ingress.hosts.1", "listed more than once", id="host twice"
        ),
        pytest.param(
            "{hosts: ['a.test:8080']}", "ingress.hosts.0", "is not a hostname", id="host with port"
        ),
        pytest.param("{host: [a.test]}", "ingress.host", "did you mean 'hosts'?", id="typo"),
        pytest.param(
            "{tcp: [{port: 1, target: 5432}]}",
            "ingress.tcp.0.target",
            "did you mean 'targetPort'?",
            id="tcp typo",
        ),
    ],
)
def test_bad_ingress_is_explained(ingress: str, path: str, message: str) -> None:
    with pytest.raises(SpecError) as caught:
        load_job(job_yaml(WEB_AND_DB, f"ingress: {ingress}"))
    assert path in [problem.path for problem in caught.value.problems]
    assert any(message in problem.message for problem in caught.value.problems)
