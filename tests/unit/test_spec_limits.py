"""Tests for the bounds on a submitted job spec: its size, nesting, aliases and error count."""

import json
from typing import Any

import pytest

from ozymandias.spec.limits import SpecLimits
from ozymandias.spec.loader import FieldProblem, SpecError, check_instances, load_job
from ozymandias.spec.models import JobSpec


def job_json(container: dict[str, Any] | None = None, **fields: Any) -> str:
    """A job of one container `app`, as the JSON body the API receives."""
    return json.dumps(
        {"name": "web", "containers": {"app": {"image": "x", **(container or {})}}, **fields}
    )


DEFAULTS = SpecLimits()


def problems_of(text: str, limits: SpecLimits = DEFAULTS) -> list[FieldProblem]:
    with pytest.raises(SpecError) as caught:
        load_job(text, limits)
    return caught.value.problems


def repeated(count: int, item: Any) -> list[Any]:
    return [item] * count


@pytest.mark.parametrize(
    ("text", "path", "message"),
    [
        pytest.param(
            job_json(numInstances=100_000_000),
            "numInstances",
            "at most 10000 instances per job, got 100000000",
            id="numInstances",
        ),
        pytest.param(
            json.dumps({"name": "web", "containers": {f"c{i}": {"image": "x"} for i in range(65)}}),
            "containers",
            "at most 64 containers per job, got 65",
            id="containers",
        ),
        pytest.param(
            job_json({"environment": {f"V{i}": "x" for i in range(1001)}}),
            "containers.app.environment",
            "at most 1000 environment variables per container, got 1001",
            id="environment entries as a mapping",
        ),
        pytest.param(
            job_json({"environment": [f"V{i}=x" for i in range(1001)]}),
            "containers.app.environment",
            "at most 1000 environment variables per container, got 1001",
            id="environment entries as a list",
        ),
        pytest.param(
            # 1 byte of name and 2 bytes for each "é": one byte too many.
            job_json({"environment": {"A": "é" * (64 * 1024)}}),
            "containers.app.environment",
            "at most 131072 bytes of environment names and values per container, got 131073",
            id="environment bytes in UTF-8",
        ),
        pytest.param(
            job_json({"environment": {"A" * 256: "x"}}),
            "containers.app.environment." + "A" * 64 + "...",
            "at most 255 characters, got 256",
            id="environment name",
        ),
        pytest.param(
            job_json({"image": "x" * 513}),
            "containers.app.image",
            "at most 512 characters, got 513",
            id="image",
        ),
        pytest.param(
            job_json({"command": [str(i) for i in range(1001)]}),
            "containers.app.command",
            "at most 1000 items, got 1001",
            id="command args",
        ),
        pytest.param(
            job_json({"command": ["x" * 65536, "y" * 65537]}),
            "containers.app.command",
            "a command is at most 131072 bytes, got 131073",
            id="command bytes",
        ),
        pytest.param(
            job_json({"command": "x" * 131073}),
            "containers.app.command",
            "a command is at most 131072 bytes, got 131073",
            id="command string bytes",
        ),
        pytest.param(
            job_json({"ports": list(range(1, 102))}),
            "containers.app.ports",
            "at most 100 items, got 101",
            id="ports",
        ),
        pytest.param(
            job_json({"depends_on": repeated(101, "app")}),
            "containers.app.depends_on",
            "at most 100 items, got 101",
            id="depends_on",
        ),
        pytest.param(
            job_json({"depends_on": ["a" * 64]}),
            "containers.app.depends_on.0",
            "at most 63 characters, got 64",
            id="depends_on name",
        ),
        pytest.param(
            job_json(
                {"volumes": [{"type": "local", "path": f"/v{i}", "space": "1G"} for i in range(33)]}
            ),
            "containers.app.volumes",
            "at most 32 items, got 33",
            id="volumes",
        ),
        pytest.param(
            job_json({"volumes": [{"type": "local", "path": "/" + "v" * 4096, "space": "1G"}]}),
            "containers.app.volumes.0.path",
            "at most 4096 characters, got 4097",
            id="volume path",
        ),
        pytest.param(
            job_json(
                {"volumes": [{"type": "local", "path": "/v", "space": "1G", "name": "v" * 64}]}
            ),
            "containers.app.volumes.0.name",
            "at most 63 characters, got 64",
            id="volume name",
        ),
        pytest.param(
            job_json({"healthcheck": {"type": "http", "port": 80, "path": "/" * 2049}}),
            "containers.app.healthcheck.path",
            "at most 2048 characters, got 2049",
            id="healthcheck path",
        ),
        pytest.param(
            job_json({"healthcheck": {"type": "exec", "command": repeated(1001, "x")}}),
            "containers.app.healthcheck.command",
            "at most 1000 items, got 1001",
            id="healthcheck command",
        ),
        pytest.param(
            job_json(ingress={"hosts": [f"h{i}.test" for i in range(101)]}),
            "ingress.hosts",
            "at most 100 items, got 101",
            id="ingress hosts",
        ),
        pytest.param(
            job_json(ingress={"hosts": [("a" * 63 + ".") * 4]}),
            "ingress.hosts.0",
            "at most 253 characters, got 256",
            id="ingress host",
        ),
        pytest.param(
            job_json(ingress={"tcp": [{"port": i, "targetPort": 80} for i in range(1, 102)]}),
            "ingress.tcp",
            "at most 100 items, got 101",
            id="ingress tcp",
        ),
        pytest.param(
            job_json(affinity=repeated(101, {"key": "gpu", "operator": "Exists"})),
            "affinity",
            "at most 100 items, got 101",
            id="affinity",
        ),
        pytest.param(
            job_json(affinity=[{"key": "zone", "operator": "In", "values": repeated(101, "a")}]),
            "affinity.0.values",
            "at most 100 items, got 101",
            id="affinity values",
        ),
        pytest.param(
            job_json(affinity=[{"key": "k" * 254, "operator": "Exists"}]),
            "affinity.0.key",
            "at most 253 characters, got 254",
            id="affinity key",
        ),
        pytest.param(
            job_json(nodeSelector={f"k{i}": "v" for i in range(101)}),
            "nodeSelector",
            "at most 100 items, got 101",
            id="nodeSelector",
        ),
        pytest.param(
            job_json(schedulingConstraints={"mayBeScheduledOn": [f"n{i}" for i in range(1001)]}),
            "schedulingConstraints.mayBeScheduledOn",
            "at most 1000 items, got 1001",
            id="mayBeScheduledOn",
        ),
        pytest.param(
            job_json(schedulingConstraints={"cannotBeScheduledOn": ["n" * 64]}),
            "schedulingConstraints.cannotBeScheduledOn.0",
            "at most 63 characters, got 64",
            id="cannotBeScheduledOn node name",
        ),
    ],
)
def test_each_limit_is_refused_naming_its_field(text: str, path: str, message: str) -> None:
    assert [(problem.path, problem.message) for problem in problems_of(text)] == [(path, message)]


def test_a_spec_at_the_limits_is_accepted() -> None:
    job = load_job(
        job_json(
            {
                "environment": {f"V{i}": "x" for i in range(1000)},
                "command": repeated(1000, "x"),
                "ports": list(range(1, 101)),
                "image": "x" * 512,
            },
            numInstances=10_000,
        )
    )
    assert job.num_instances == 10_000
    assert len(job.containers["app"].environment) == 1000


def test_a_body_past_a_size_limit_is_refused_without_validating_it() -> None:
    # 65 containers, each invalid: only the count is reported, not 65 problems.
    containers = {f"C{i}": {"image": 1} for i in range(65)}
    problems = problems_of(json.dumps({"name": "web", "containers": containers}))
    assert problems == [
        FieldProblem("containers", "at most 64 containers per job, got 65", "max-containers")
    ]


def test_other_problems_are_reported_with_a_limit() -> None:
    problems = problems_of(job_json({"image": ""}, name="Web", numInstances=10_001))
    assert [problem.path for problem in problems] == [
        "name",
        "numInstances",
        "containers.app.image",
    ]


def test_an_error_names_the_limits_it_goes_past_and_only_those() -> None:
    with pytest.raises(SpecError) as past:
        load_job(job_json({"image": ""}, name="Web", numInstances=10_001))
    assert past.value.limits == ["max-instances"]
    with pytest.raises(SpecError) as invalid:
        load_job(job_json({"image": ""}, name="Web"))
    assert invalid.value.limits == []


DEEP_YAML = "name: web\ncontainers: " + "[" * 1000 + "]" * 1000
DEEP_JSON = '{"name": "web", "containers": {"app": {"image": "x", "command": ' + "[" * 1000
DEEP_BLOCK = "name: web\ncontainers:\n" + "".join(f"{'  ' * (i + 1)}k{i}:\n" for i in range(1000))


@pytest.mark.parametrize(
    ("text", "where"),
    [
        pytest.param(DEEP_YAML, "at line 2, column 45", id="YAML flow"),
        pytest.param(DEEP_JSON + "]" * 1000 + "}}}", "at line 1, column 94", id="JSON"),
        pytest.param(DEEP_JSON, "at line 1, column 94", id="JSON cut short"),
        pytest.param(DEEP_BLOCK, "at line 34, column 65", id="YAML block"),
    ],
)
def test_deep_nesting_is_refused_where_it_happens(text: str, where: str) -> None:
    # A RecursionError, as PyYAML's composer raised before, would fail this test.
    assert problems_of(text) == [
        FieldProblem("", f"nested more than 32 mappings and lists deep {where}", "max-depth")
    ]


def test_nesting_is_counted_through_aliases() -> None:
    # Written, the command is 4 deep; the value its alias repeats adds 2 levels.
    text = "name: web\nnumInstances: &n [[1]]\ncontainers: {app: {image: x, command: [*n]}}"
    assert problems_of(text, SpecLimits(max_depth=5)) == [
        FieldProblem(
            "", "nested more than 5 mappings and lists deep at line 3, column 40", "max-depth"
        )
    ]


BILLION_LAUGHS = (
    "name: web\ncontainers: {app: {image: x}}\n"
    'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    + "".join(
        f"{name}: &{name} [{', '.join(['*' + before] * 9)}]\n"
        for before, name in zip("abcdefgh", "bcdefghi", strict=True)
    )
)


@pytest.mark.parametrize(
    ("text", "message", "limit"),
    [
        pytest.param(
            # 81 anchors and aliases, under their limit, but 9**9 values.
            BILLION_LAUGHS,
            "more than 200000 values, each alias counted as the value it repeats"
            " at line 8, column 12",
            "max-yaml-nodes",
            id="billion laughs",
        ),
        pytest.param(
            "name: web\nx: &a 1\n" + "".join(f"k{i}: *a\n" for i in range(100)),
            "more than 100 YAML anchors and aliases at line 102, column 6",
            "max-yaml-aliases",
            id="too many aliases",
        ),
        pytest.param(
            "name: web\ncontainers: &c {app: {image: x, command: [*c]}}",
            "alias 'c' is inside the value it repeats at line 2, column 43",
            None,
            id="alias inside its own value",
        ),
        pytest.param(
            "name: web\ncontainers: {app: {image: x}}\n---\nname: other\n",
            "a job spec is one YAML document, but another one starts at line 3, column 1",
            None,
            id="two documents",
        ),
    ],
)
def test_yaml_past_its_limits_is_refused_before_validation(
    text: str, message: str, limit: str | None
) -> None:
    assert problems_of(text) == [FieldProblem("", message, limit)]


def test_a_few_aliases_are_fine() -> None:
    job = load_job(
        "---\nname: web\ncontainers:\n"
        "  app: {image: x, environment: &env {A: '1'}}\n"
        "  side: {image: y, environment: *env}\n"
    )
    assert job.containers["side"].environment == {"A": "1"}


@pytest.mark.parametrize(
    ("count", "more"), [(60, "and 10 more problems"), (51, "and 1 more problem")]
)
def test_problems_are_capped_with_a_count_of_the_rest(count: int, more: str) -> None:
    problems = problems_of(job_json({"ports": repeated(count, "bad")}))
    assert len(problems) == 51
    assert problems[0] == FieldProblem(
        "containers.app.ports.0", "'bad' is not a port mapping like 80:3000, 3000 or 53/udp"
    )
    assert problems[-1] == FieldProblem("", more)


def test_unknown_fields_past_the_cap_are_counted_in_their_mapping() -> None:
    text = job_json({f"k{i}": 1 for i in range(5)})
    assert problems_of(text, SpecLimits(max_errors=3)) == [
        FieldProblem("containers.app.k0", "unknown field 'k0'"),
        FieldProblem("containers.app.k1", "unknown field 'k1'"),
        FieldProblem("containers.app.k2", "unknown field 'k2'"),
        FieldProblem("", "and 1 more problem"),  # "containers.app: and 2 more unknown fields"
    ]


@pytest.mark.parametrize(
    ("limits", "text", "problem"),
    [
        pytest.param(
            SpecLimits(max_instances=2),
            job_json(numInstances=3),
            FieldProblem("numInstances", "at most 2 instances per job, got 3", "max-instances"),
            id="max_instances",
        ),
        pytest.param(
            SpecLimits(max_containers=1),
            json.dumps({"name": "web", "containers": {"a": {"image": "x"}, "b": {"image": "x"}}}),
            FieldProblem("containers", "at most 1 containers per job, got 2", "max-containers"),
            id="max_containers",
        ),
        pytest.param(
            SpecLimits(max_env_entries=1),
            job_json({"environment": ["A=1", "B=2"]}),
            FieldProblem(
                "containers.app.environment",
                "at most 1 environment variables per container, got 2",
                "max-env-entries",
            ),
            id="max_env_entries",
        ),
        pytest.param(
            SpecLimits(max_env_bytes=3),
            job_json({"environment": {"A": "bcd"}}),
            FieldProblem(
                "containers.app.environment",
                "at most 3 bytes of environment names and values per container, got 4",
                "max-env-size",
            ),
            id="max_env_bytes",
        ),
        pytest.param(
            SpecLimits(max_yaml_aliases=1),
            "name: &n web\ncontainers: {app: {image: x, command: [*n]}}",
            FieldProblem(
                "", "more than 1 YAML anchors and aliases at line 2, column 40", "max-yaml-aliases"
            ),
            id="max_yaml_aliases",
        ),
        pytest.param(
            SpecLimits(max_yaml_nodes=6),
            job_json(),
            FieldProblem(
                "",
                "more than 6 values, each alias counted as the value it repeats"
                " at line 1, column 39",
                "max-yaml-nodes",
            ),
            id="max_yaml_nodes",
        ),
        pytest.param(
            SpecLimits(max_depth=4),
            job_json({"environment": [{"name": "A", "value": "b"}]}),
            FieldProblem(
                "", "nested more than 4 mappings and lists deep at line 1, column 70", "max-depth"
            ),
            id="max_depth",
        ),
    ],
)
def test_smaller_limits_refuse_what_the_defaults_accept(
    limits: SpecLimits, text: str, problem: FieldProblem
) -> None:
    load_job(text)
    assert problems_of(text, limits) == [problem]


def test_max_errors_is_configurable() -> None:
    text = job_json({"image": ""}, name="Web")
    assert len(problems_of(text)) == 2
    assert problems_of(text, SpecLimits(max_errors=1)) == [
        FieldProblem("name", problems_of(text)[0].message),
        FieldProblem("", "and 1 more problem"),
    ]


def test_check_instances_is_the_submit_check_for_scaling() -> None:
    assert check_instances(10_000) is None
    assert check_instances(10_001) == FieldProblem(
        "numInstances", "at most 10000 instances per job, got 10001", "max-instances"
    )
    assert check_instances(3, SpecLimits(max_instances=2)) == FieldProblem(
        "numInstances", "at most 2 instances per job, got 3", "max-instances"
    )


def test_a_stored_spec_is_read_back_whatever_the_limits() -> None:
    # Accepted under raised limits, then read from the store without any.
    job = load_job(job_json(numInstances=20_000), SpecLimits(max_instances=50_000))
    assert JobSpec.model_validate_json(job.model_dump_json()) == job


@pytest.mark.parametrize("field", ["max_instances", "max_depth", "max_errors"])
def test_limits_must_be_positive(field: str) -> None:
    with pytest.raises(ValueError, match=f"^{field} must be at least 1, got 0$"):
        SpecLimits(**{field: 0})


def test_a_huge_number_stays_text_for_its_field_to_explain() -> None:
    # Python refuses to convert more than 4300 digits; this once escaped as a ValueError.
    (problem,) = problems_of(
        job_json(numInstances=0).replace('"numInstances": 0', '"numInstances": ' + "9" * 5000)
    )
    assert problem.path == "numInstances"
    assert problem.message.startswith("must be a whole number, got '99999")


def test_long_values_are_quoted_short() -> None:
    (problem,) = problems_of(job_json(name="W" * 100_000))
    assert problem == FieldProblem(
        "name",
        f"'{'W' * 64}...' is not a DNS label: use 1-63 lowercase letters, digits and '-',"
        " starting with a letter and not ending with '-'",
    )


def test_a_json_surrogate_pair_is_one_character_and_half_a_pair_is_refused() -> None:
    pair = job_json({"environment": {"A": "\U0001f600"}})
    assert "\\ud83d\\ude00" in pair  # as JSON writes it
    assert load_job(pair).containers["app"].environment == {"A": "\U0001f600"}
    assert problems_of(pair.replace("\\ude00", "")) == [
        FieldProblem(
            "",
            "a string holds half of a UTF-16 surrogate pair, which is not text"
            " at line 1, column 75",
        )
    ]


def test_aliases_cannot_expand_a_spec_past_its_stored_size() -> None:
    big = {"image": "x", "environment": {"V": "x" * 100_000}}
    text = (
        "name: web\ncontainers:\n  c0: &big "
        + json.dumps(big)
        + "\n"
        + "".join(f"  c{i}: *big\n" for i in range(1, 20))
    )
    assert len(text) < 120_000
    [problem] = problems_of(text)
    assert problem.limit == "max-spec-size"
    assert problem.message.startswith("the spec takes ")
    assert "more than the limit of 1048576" in problem.message
