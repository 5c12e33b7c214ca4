"""JSON patch (RFC 6902) and JSON pointers (RFC 6901): the RFCs' examples and the errors."""

from typing import Any

import pytest

from ozymandias.kube.json_patch import apply_json_patch, parse_pointer
from ozymandias.kube.json_values import json_equal
from ozymandias.kube.patch_error import PatchError

# RFC 6902 Appendix A (A.13, a document with a duplicate "op", is a JSON parser's concern).
RFC_6902_APPENDIX_A = [
    (  # A.1 adding an object member
        {"foo": "bar"},
        [{"op": "add", "path": "/baz", "value": "qux"}],
        {"baz": "qux", "foo": "bar"},
    ),
    (  # A.2 adding an array element
        {"foo": ["bar", "baz"]},
        [{"op": "add", "path": "/foo/1", "value": "qux"}],
        {"foo": ["bar", "qux", "baz"]},
    ),
    (  # A.3 removing an object member
        {"baz": "qux", "foo": "bar"},
        [{"op": "remove", "path": "/baz"}],
        {"foo": "bar"},
    ),
    (  # A.4 removing an array element
        {"foo": ["bar", "qux", "baz"]},
        [{"op": "remove", "path": "/foo/1"}],
        {"foo": ["bar", "baz"]},
    ),
    (  # A.5 replacing a value
        {"baz": "qux", "foo": "bar"},
        [{"op": "replace", "path": "/baz", "value": "boo"}],
        {"baz": "boo", "foo": "bar"},
    ),
    (  # A.6 moving a value
        {"foo": {"bar": "baz", "waldo": "fred"}, "qux": {"corge": "grault"}},
        [{"op": "move", "from": "/foo/waldo", "path": "/qux/thud"}],
        {"foo": {"bar": "baz"}, "qux": {"corge": "grault", "thud": "fred"}},
    ),
    (  # A.7 moving an array element
        {"foo": ["all", "grass", "cows", "eat"]},
        [{"op": "move", "from": "/foo/1", "path": "/foo/3"}],
        {"foo": ["all", "cows", "eat", "grass"]},
    ),
    (  # A.8 testing a value: success
        {"baz": "qux", "foo": ["a", 2, "c"]},
        [
            {"op": "test", "path": "/baz", "value": "qux"},
            {"op": "test", "path": "/foo/1", "value": 2},
        ],
        {"baz": "qux", "foo": ["a", 2, "c"]},
    ),
    (  # A.10 adding a nested member object
        {"foo": "bar"},
        [{"op": "add", "path": "/child", "value": {"grandchild": {}}}],
        {"foo": "bar", "child": {"grandchild": {}}},
    ),
    (  # A.11 ignoring unrecognized elements
        {"foo": "bar"},
        [{"op": "add", "path": "/baz", "value": "qux", "xyz": 123}],
        {"foo": "bar", "baz": "qux"},
    ),
    (  # A.14 ~ escape ordering
        {"/": 9, "~1": 10},
        [{"op": "test", "path": "/~01", "value": 10}],
        {"/": 9, "~1": 10},
    ),
    (  # A.16 adding an array value
        {"foo": ["bar"]},
        [{"op": "add", "path": "/foo/-", "value": ["abc", "def"]}],
        {"foo": ["bar", ["abc", "def"]]},
    ),
    # Section 4: replacing the whole document, copy, and a move onto itself.
    ({"a": 1}, [{"op": "replace", "path": "", "value": [1]}], [1]),
    ({"a": {"b": 1}}, [{"op": "copy", "from": "/a", "path": "/c"}], {"a": {"b": 1}, "c": {"b": 1}}),
    ({"a": 1}, [{"op": "move", "from": "/a", "path": "/a"}], {"a": 1}),
    ({"a": [1, 2]}, [{"op": "replace", "path": "/a/1", "value": 3}], {"a": [1, 3]}),
    # What kubectl patch --type json is used for on a Deployment.
    (
        {"spec": {"replicas": 3, "template": {"spec": {"containers": [{"image": "nginx:1.14"}]}}}},
        [
            {"op": "replace", "path": "/spec/replicas", "value": 5},
            {
                "op": "replace",
                "path": "/spec/template/spec/containers/0/image",
                "value": "nginx:1.16",
            },
        ],
        {"spec": {"replicas": 5, "template": {"spec": {"containers": [{"image": "nginx:1.16"}]}}}},
    ),
]


@pytest.mark.parametrize(("document", "patch", "result"), RFC_6902_APPENDIX_A)
def test_rfc_6902_appendix_a(document: Any, patch: Any, result: Any) -> None:
    assert json_equal(apply_json_patch(document, patch), result)


FAILURES = [
    # A.9 testing a value: error
    ({"baz": "qux"}, [{"op": "test", "path": "/baz", "value": "bar"}], "test failed"),
    # A.12 adding to a nonexistent target
    ({"foo": "bar"}, [{"op": "add", "path": "/baz/bat", "value": "qux"}], "no member 'baz'"),
    # A.15 comparing strings and numbers
    ({"/": 9, "~1": 10}, [{"op": "test", "path": "/~01", "value": "10"}], "test failed"),
    # A boolean is not a number.
    ({"a": 1}, [{"op": "test", "path": "/a", "value": True}], "test failed"),
    ({"a": 1}, [{"op": "remove", "path": "/b"}], "no member 'b' to remove"),
    ({"a": 1}, [{"op": "replace", "path": "/b", "value": 2}], "no member 'b'"),
    ({"a": [1]}, [{"op": "add", "path": "/a/2", "value": 2}], "out of range"),
    ({"a": [1]}, [{"op": "add", "path": "/a/01", "value": 2}], "not an array index"),
    ({"a": [1]}, [{"op": "remove", "path": "/a/-"}], "not an array index"),
    ({"a": {"b": 1}}, [{"op": "move", "from": "/a", "path": "/a/b/c"}], "its own child"),
    ({"a": 1}, [{"op": "copy", "from": "/x", "path": "/b"}], "no member 'x'"),
    ({"a": 1}, [{"op": "add", "path": "/b"}], "needs a 'value' member"),
    ({"a": 1}, [{"op": "move", "path": "/b"}], "needs a 'from' member"),
    ({"a": 1}, [{"op": "frobnicate", "path": "/a"}], "unknown op 'frobnicate'"),
    ({"a": 1}, [{"path": "/a"}], "unknown op None"),
    ({"a": 1}, [{"op": "add", "path": "a", "value": 1}], "must start with '/'"),
    ({"a": 1}, [{"op": "add", "path": "/~2", "value": 1}], "'~' not followed by 0 or 1"),
    ({"a": "s"}, [{"op": "add", "path": "/a/b", "value": 1}], "cannot add 'b' to a str"),
    ({"a": 1}, {"op": "add", "path": "/a", "value": 2}, "must be a list of operations"),
    ({"a": 1}, ["add"], "is not an object"),
    ({"a": 1}, [{"op": "remove", "path": ""}], "cannot remove the whole document"),
]


@pytest.mark.parametrize(("document", "patch", "message"), FAILURES)
def test_a_patch_that_cannot_apply_says_why(document: Any, patch: Any, message: str) -> None:
    with pytest.raises(PatchError, match=message.replace("(", r"\(")):
        apply_json_patch(document, patch)


def test_a_failed_patch_leaves_the_document_untouched() -> None:
    document = {"a": [1, 2]}
    with pytest.raises(PatchError):
        apply_json_patch(
            document,
            [{"op": "remove", "path": "/a/0"}, {"op": "test", "path": "/a/0", "value": 9}],
        )
    assert document == {"a": [1, 2]}


def test_an_error_names_the_operation() -> None:
    with pytest.raises(PatchError, match=r"operation 1 \(remove\)"):
        apply_json_patch({"a": 1}, [{"op": "remove", "path": "/a"}, {"op": "remove", "path": "/a"}])


@pytest.mark.parametrize(
    ("pointer", "tokens"),
    [
        ("", []),
        ("/", [""]),
        ("/foo/0", ["foo", "0"]),
        ("/a~1b", ["a/b"]),
        ("/m~0n", ["m~n"]),
        ("/~01", ["~1"]),
        ("/ ", [" "]),
    ],
)
def test_pointer_tokens(pointer: str, tokens: list[str]) -> None:
    # RFC 6901 section 5's examples, and ~01 decoding to ~1, not /.
    assert parse_pointer(pointer) == tokens
