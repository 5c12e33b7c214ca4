"""Compose variable interpolation, checked with the Compose Specification's own examples
(spec's "Interpolation" section) and the `.env` file format."""

from __future__ import annotations

import pytest

from ozymandias.compose.interpolation import (
    InterpolationError,
    interpolate,
    interpolate_tree,
    parse_env_file,
)

ENV = {"SET": "value", "EMPTY": "", "FOO": "foo", "TAG": "v1.5"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("$SET", "value"),
        ("${SET}", "value"),
        ("image:${TAG}", "image:v1.5"),
        ("${UNSET:-default}", "default"),
        ("${EMPTY:-default}", "default"),
        ("${SET:-default}", "value"),
        ("${UNSET-default}", "default"),
        ("${EMPTY-default}", ""),
        ("${SET:+replacement}", "replacement"),
        ("${EMPTY:+replacement}", ""),
        ("${UNSET:+replacement}", ""),
        ("${EMPTY+replacement}", "replacement"),
        ("${UNSET+replacement}", ""),
        ("${SET:?err}", "value"),
        ("${EMPTY?err}", ""),
        # Nested, as the spec's examples: ${VARIABLE:-${FOO}}, ${VARIABLE:-${FOO:-default}}.
        ("${UNSET:-${FOO}}", "foo"),
        ("${UNSET:-${ALSO_UNSET:-default}}", "default"),
        ("${UNSET?$FOO}", None),
        # $$ is a literal $: the spec's "echo $$VAR_NOT_INTERPOLATED_BY_COMPOSE".
        ("echo $$VAR_NOT_INTERPOLATED_BY_COMPOSE", "echo $VAR_NOT_INTERPOLATED_BY_COMPOSE"),
        ("$$$SET", "$value"),
        ("costs 5$", "costs 5$"),
        ("${UNSET}", ""),
        ("a-${SET}-b-$FOO.c", "a-value-b-foo.c"),
    ],
)
def test_the_compose_spec_rules(text: str, expected: str | None) -> None:
    if expected is None:
        with pytest.raises(InterpolationError, match="foo"):
            interpolate(text, ENV)
    else:
        assert interpolate(text, ENV) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("${UNSET:?the tag is needed}", "UNSET is missing a value: the tag is needed"),
        ("${EMPTY:?err}", "EMPTY is missing a value: err"),
        ("${UNSET?err}", "UNSET is missing a value: err"),
        ("${UNSET:?}", "UNSET is required"),
        ("${SET", "closing"),
        ("${1BAD}", "not a valid variable reference"),
        ("${SET%x}", "not a valid variable reference"),
    ],
)
def test_errors_say_what(text: str, message: str) -> None:
    with pytest.raises(InterpolationError, match=message):
        interpolate(text, ENV)


def test_unset_variables_are_collected_and_keys_are_left_alone() -> None:
    unset: set[str] = set()
    tree = {"services": {"$SET": {"image": "x:${NOPE}", "ports": ["${P:-80}", 8080]}}}
    result = interpolate_tree(tree, ENV, unset)
    assert result == {"services": {"$SET": {"image": "x:", "ports": ["80", 8080]}}}
    assert unset == {"NOPE"}


def test_a_tree_error_names_the_key() -> None:
    with pytest.raises(InterpolationError, match=r"services\.db\.image: .*DB_TAG"):
        interpolate_tree({"services": {"db": {"image": "${DB_TAG:?set it}"}}}, ENV, set())


def test_env_files() -> None:
    text = "\n".join(
        [
            "# a comment",
            "",
            "PLAIN=value # trailing comment",
            "export EXPORTED=1",
            "SINGLE='kept $as is'",
            'DOUBLE="line\\nbreak"',
            "EMPTY=",
            "BARE",
            "SPACED = around ",
        ]
    )
    assert parse_env_file(text) == {
        "PLAIN": "value",
        "EXPORTED": "1",
        "SINGLE": "kept $as is",
        "DOUBLE": "line\nbreak",
        "EMPTY": "",
        "BARE": "",
        "SPACED": "around",
    }
    with pytest.raises(InterpolationError, match="KEY=VALUE"):
        parse_env_file("not a line=")
