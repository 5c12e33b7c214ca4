"""Label and field selectors as the apiserver reads them: grammar, matching, refusals."""

from __future__ import annotations

from typing import Any

import pytest

from ozymandias.kube.selectors import (
    LabelRequirement,
    field_matches,
    matches,
    parse_field_selector,
    parse_label_selector,
    single_name,
)
from ozymandias.kube.status import KubeError

LABELS = {"app": "nginx", "tier": "web", "example.com/team": "payments", "gen": "3"}


@pytest.mark.parametrize(
    ("text", "requirements"),
    [
        ("", ()),
        ("app=nginx", (LabelRequirement("app", "=", ("nginx",)),)),
        ("app==nginx", (LabelRequirement("app", "=", ("nginx",)),)),
        ("app!=nginx", (LabelRequirement("app", "!=", ("nginx",)),)),
        ("app=", (LabelRequirement("app", "=", ("",)),)),
        ("app", (LabelRequirement("app", "exists"),)),
        ("!app", (LabelRequirement("app", "!"),)),
        ("tier in (web, api)", (LabelRequirement("tier", "in", ("web", "api")),)),
        ("tier notin (db)", (LabelRequirement("tier", "notin", ("db",)),)),
        ("tier in (web,)", (LabelRequirement("tier", "in", ("web", "")),)),
        ("gen>2", (LabelRequirement("gen", "gt", ("2",)),)),
        ("gen < 10", (LabelRequirement("gen", "lt", ("10",)),)),
        (
            "a=b,c!=d,e in (x,y),f notin (z),g,!h",
            (
                LabelRequirement("a", "=", ("b",)),
                LabelRequirement("c", "!=", ("d",)),
                LabelRequirement("e", "in", ("x", "y")),
                LabelRequirement("f", "notin", ("z",)),
                LabelRequirement("g", "exists"),
                LabelRequirement("h", "!"),
            ),
        ),
        (
            " example.com/team = payments ",
            (LabelRequirement("example.com/team", "=", ("payments",)),),
        ),
    ],
)
def test_label_selectors_parse(text: str, requirements: tuple[LabelRequirement, ...]) -> None:
    assert parse_label_selector(text) == requirements


@pytest.mark.parametrize(
    ("text", "selected"),
    [
        ("", True),
        ("app=nginx", True),
        ("app=apache", False),
        ("app!=apache", True),
        ("missing!=x", True),  # != holds for a missing key, as in Kubernetes
        ("missing notin (x)", True),
        ("missing in (x)", False),
        ("tier in (api,web)", True),
        ("tier notin (web)", False),
        ("app,tier", True),
        ("!app", False),
        ("!missing", True),
        ("gen>2", True),
        ("gen>3", False),
        ("gen<4", True),
        ("app>1", False),  # not a number: Gt never holds
        ("app=nginx,tier=db", False),
    ],
)
def test_label_selectors_match(text: str, selected: bool) -> None:
    assert matches(parse_label_selector(text), LABELS) is selected


@pytest.mark.parametrize(
    "text",
    [
        "a b",
        "a=b=c",
        "a in b",
        "a in ()",
        "a in (x",
        "a in (x y)",
        "gen>x",
        "gen>",
        ",a",
        "a,",
        "!",
        "a=(b)",
        "bad key=1",
        "-a=1",
        "a=" + "x" * 64,
        "a" * 5000,
        ",".join(f"k{i}" for i in range(101)),
    ],
)
def test_bad_label_selectors_are_bad_requests(text: str) -> None:
    with pytest.raises(KubeError) as raised:
        parse_label_selector(text)
    assert raised.value.code == 400 and raised.value.reason == "BadRequest"


POD: dict[str, Any] = {
    "metadata": {"name": "web-0", "namespace": "default"},
    "spec": {"nodeName": "n1", "restartPolicy": "Always"},
    "status": {"phase": "Running", "podIP": "10.88.0.5"},
}
NODE: dict[str, Any] = {"metadata": {"name": "n1"}, "spec": {"unschedulable": True}}
EVENT: dict[str, Any] = {
    "metadata": {"name": "e1", "namespace": "default"},
    "involvedObject": {"kind": "Pod", "name": "web-0"},
    "reason": "Started",
    "source": {"component": "ozy"},
    "type": "Normal",
}


@pytest.mark.parametrize(
    ("kind", "obj", "text", "selected"),
    [
        ("Pod", POD, "", True),
        ("Pod", POD, "metadata.name=web-0", True),
        ("Pod", POD, "metadata.name==web-1", False),
        ("Pod", POD, "metadata.name!=web-1", True),
        ("Pod", POD, "metadata.namespace=default", True),
        ("Pod", POD, "spec.nodeName=n1,status.phase=Running", True),
        ("Pod", POD, "spec.nodeName=n1,status.phase!=Running", False),
        ("Pod", POD, "status.podIP=10.88.0.5", True),
        ("Node", NODE, "spec.unschedulable=true", True),
        ("Node", NODE, "spec.unschedulable=false", False),
        ("Event", EVENT, "involvedObject.name=web-0,involvedObject.kind=Pod", True),
        ("Event", EVENT, "source=ozy,type=Normal,reason=Started", True),
        ("Event", EVENT, "type=Warning", False),
        ("Deployment", {"metadata": {"name": "a,b"}}, r"metadata.name=a\,b", True),
        ("Deployment", {"metadata": {"name": "web"}}, "metadata.name=", False),
    ],
)
def test_field_selectors(kind: str, obj: dict[str, Any], text: str, selected: bool) -> None:
    assert field_matches(parse_field_selector(text, kind), obj) is selected


@pytest.mark.parametrize(
    ("kind", "text", "said"),
    [
        ("Pod", "spec.hostname=x", "field label not supported: spec.hostname"),
        ("Deployment", "spec.replicas=1", "field label not supported: spec.replicas"),
        ("Pod", "metadata.name", "invalid selector"),
        ("Pod", "=web", "no field"),
        ("Pod", "metadata.name=x\\", "lone"),
    ],
)
def test_bad_field_selectors_are_bad_requests(kind: str, text: str, said: str) -> None:
    with pytest.raises(KubeError) as raised:
        parse_field_selector(text, kind)
    assert raised.value.code == 400
    assert said in str(raised.value)


def test_single_name_is_what_kubectl_delete_waits_on() -> None:
    assert single_name(parse_field_selector("metadata.name=web", "Deployment")) == "web"
    assert single_name(parse_field_selector("metadata.name!=web", "Deployment")) is None
    assert single_name(parse_field_selector("", "Deployment")) is None
