"""Job labels (their syntax and bounds) and `-l` selectors: parsing and matching, as tables."""

from __future__ import annotations

import pytest

from ozymandias.labels.selector import Operator, Requirement, matches, parse_selector
from ozymandias.labels.syntax import MAX_JOB_LABELS, key_problem, labels_problem, value_problem
from ozymandias.spec.loader import SpecError, job_from_data

LABELS = {"tier": "web", "env": "prod", "example.com/team": "payments"}


@pytest.mark.parametrize(
    ("text", "requirements"),
    [
        ("tier=web", [Requirement("tier", Operator.EQUALS, "web")]),
        ("tier==web", [Requirement("tier", Operator.EQUALS, "web")]),
        ("tier!=web", [Requirement("tier", Operator.NOT_EQUALS, "web")]),
        ("tier", [Requirement("tier", Operator.EXISTS)]),
        ("!legacy", [Requirement("legacy", Operator.DOES_NOT_EXIST)]),
        ("tier=", [Requirement("tier", Operator.EQUALS, "")]),
        (
            " tier = web , example.com/team ",
            [
                Requirement("tier", Operator.EQUALS, "web"),
                Requirement("example.com/team", Operator.EXISTS),
            ],
        ),
    ],
)
def test_a_selector_is_read(text: str, requirements: list[Requirement]) -> None:
    assert parse_selector(text) == tuple(requirements)


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("", "empty requirement"),
        ("tier=web,", "empty requirement"),
        ("a,,b", "empty requirement"),
        ("=web", "has no label key"),
        ("!", "has no label key"),
        ("tier=a=b", "one operator"),
        ("tier=!a", "one operator"),
        ("tier in (web,api)", "set-based selectors"),
        ("my tier=web", "the name must be"),
        ("tier=two words", "label value 'two words'"),
        ("Bad_Prefix/x=1", "DNS subdomain"),
        ("k=" + "v" * 64, "must be empty or"),
        (",".join(["k"] * 21), "at most 20 requirements"),
        ("k=" + "v" * 1000, "at most 1000 characters"),
    ],
)
def test_a_bad_selector_says_what_is_wrong(text: str, said: str) -> None:
    with pytest.raises(ValueError) as raised:
        parse_selector(text)
    assert said in str(raised.value)


@pytest.mark.parametrize(
    ("text", "selected"),
    [
        ("tier=web", True),
        ("tier=api", False),
        ("tier!=api", True),
        ("tier!=web", False),
        ("missing!=x", True),  # as in Kubernetes: an absent label is not equal to x
        ("missing=", False),
        ("example.com/team", True),
        ("missing", False),
        ("!missing", True),
        ("!tier", False),
        ("tier=web,env=prod", True),
        ("tier=web,env=dev", False),
    ],
)
def test_a_selector_matches_labels(text: str, selected: bool) -> None:
    assert matches(parse_selector(text), LABELS) is selected


def test_nothing_matches_an_unlabelled_object_but_absences() -> None:
    assert not matches(parse_selector("tier=web"), {})
    assert matches(parse_selector("!tier,tier!=web"), {})


@pytest.mark.parametrize(
    ("key", "bad"),
    [
        ("tier", False),
        ("a.b-c_d", False),
        ("example.com/team", False),
        ("x" * 63, False),
        ("x" * 64, True),
        ("-tier", True),
        ("tier-", True),
        ("Example.com/team", True),
        ("/team", True),
        ("a/b/c", True),
        ("", True),
    ],
)
def test_label_keys(key: str, bad: bool) -> None:
    assert (key_problem(key) is not None) is bad


@pytest.mark.parametrize(
    ("value", "bad"),
    [
        ("", False),
        ("web", False),
        ("v1.2_3-rc", False),
        ("a b", True),
        ("_x", True),
        ("x" * 64, True),
    ],
)
def test_label_values(value: str, bad: bool) -> None:
    assert (value_problem(value) is not None) is bad


def test_a_job_has_a_bounded_number_of_labels() -> None:
    assert labels_problem({f"k{i}": "v" for i in range(MAX_JOB_LABELS)}) is None
    assert labels_problem({f"k{i}": "v" for i in range(MAX_JOB_LABELS + 1)}) is not None


def job(**extra: object) -> dict[str, object]:
    return {"name": "web", "containers": {"app": {"image": "nginx"}}, **extra}


def test_a_job_spec_takes_labels() -> None:
    assert job_from_data(job(labels={"tier": "web"})).labels == {"tier": "web"}
    assert job_from_data(job()).labels == {}


@pytest.mark.parametrize(
    ("labels", "said"),
    [
        ({"my tier": "web"}, "the name must be"),
        ({"tier": "two words"}, "label value"),
        ({f"k{i}": "v" for i in range(MAX_JOB_LABELS + 1)}, "at most 64"),
        ({"tier": 3}, "labels"),
    ],
)
def test_bad_job_labels_are_refused(labels: dict[str, object], said: str) -> None:
    with pytest.raises(SpecError) as raised:
        job_from_data(job(labels=labels))
    assert said in str(raised.value)
    assert any(problem.path.startswith("labels") for problem in raised.value.problems)


def test_labels_do_not_change_the_pod_fingerprint() -> None:
    plain = job_from_data(job())
    labelled = job_from_data(job(labels={"tier": "web"}))
    assert labelled.pod_fingerprint() == plain.pod_fingerprint()
    assert labelled != plain
