"""Label and field selectors as the Kubernetes API takes them: parse, then match. Pure.

Label selectors (`labelSelector=`, kubectl's `-l`) follow apimachinery's grammar:
requirements joined by commas, each `key=value` (or `==`), `key!=value`,
`key in (a,b)`, `key notin (a,b)`, `key` (exists), `!key` (does not exist),
`key>N`, `key<N`. As in Kubernetes, `!=` and `notin` also hold for a missing key.

Field selectors (`fieldSelector=`, what `kubectl delete` and `--field-selector`
send) are `field=value`, `field==value` or `field!=value`, joined by commas;
`\\`, `,` and `=` in a value are escaped with a backslash. The fields each kind
supports are those the apiserver supports for it that we can answer; any other
is refused with the apiserver's "field label not supported".

Bad syntax raises `KubeError` (BadRequest), which the server sends as it is.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from ozymandias.kube.status import KubeError, bad_request
from ozymandias.labels.syntax import key_problem, value_problem

MAX_SELECTOR_LENGTH = 4096
MAX_REQUIREMENTS = 100

LabelOperator = Literal["=", "!=", "in", "notin", "exists", "!", "gt", "lt"]


@dataclass(frozen=True)
class LabelRequirement:
    key: str
    operator: LabelOperator
    values: tuple[str, ...] = ()

    def holds_for(self, labels: Mapping[str, str]) -> bool:
        value = labels.get(self.key)
        match self.operator:
            case "=" | "in":
                return value is not None and value in self.values
            case "!=" | "notin":
                return value is None or value not in self.values
            case "exists":
                return value is not None
            case "!":
                return value is None
            case "gt" | "lt":
                number = _integer(value)
                if number is None:
                    return False
                bound = int(self.values[0])
                return number > bound if self.operator == "gt" else number < bound


LabelSelector = tuple[LabelRequirement, ...]


def matches(selector: LabelSelector, labels: Mapping[str, str]) -> bool:
    """Whether every requirement holds for `labels` (the empty selector selects all)."""
    return all(requirement.holds_for(labels) for requirement in selector)


def _integer(text: str | None) -> int | None:
    return int(text) if text is not None and re.fullmatch(r"-?\d+", text) else None


# Tokens of the label selector grammar: words run until a space, comma,
# parenthesis, '=', '!' , '<' or '>'.
_TOKEN = re.compile(r"\s*(==|=|!=|!|\(|\)|,|<|>|[^\s,()=!<>]+)")


def _tokens(text: str) -> list[str]:
    tokens: list[str] = []
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:  # only trailing spaces are left
            break
        tokens.append(match.group(1))
        position = match.end()
    return tokens


def _too_long(text: str, what: str) -> None:
    if len(text) > MAX_SELECTOR_LENGTH:
        raise bad_request(f"a {what} selector is at most {MAX_SELECTOR_LENGTH} characters")


def parse_label_selector(text: str) -> LabelSelector:
    """The requirements of a `labelSelector`; KubeError (BadRequest) saying what is wrong."""
    _too_long(text, "label")
    parser = _LabelParser(_tokens(text), text)
    return parser.selector()


class _LabelParser:
    def __init__(self, tokens: list[str], text: str) -> None:
        self._tokens = tokens
        self._at = 0
        self._text = text

    def _peek(self) -> str | None:
        return self._tokens[self._at] if self._at < len(self._tokens) else None

    def _next(self) -> str | None:
        token = self._peek()
        self._at += 1
        return token

    def _error(self, what: str) -> KubeError:
        return bad_request(f"unable to parse requirement: {what} (in selector {self._text!r})")

    def selector(self) -> LabelSelector:
        requirements: list[LabelRequirement] = []
        if self._peek() is None:
            return ()
        while True:
            requirements.append(self._requirement())
            if len(requirements) > MAX_REQUIREMENTS:
                raise bad_request(f"a selector has at most {MAX_REQUIREMENTS} requirements")
            token = self._next()
            if token is None:
                return tuple(requirements)
            if token != ",":
                raise self._error(f"found '{token}', expected: ',' or the end")

    def _requirement(self) -> LabelRequirement:
        token = self._next()
        if token == "!":
            return LabelRequirement(self._key(self._next()), "!")
        key = self._key(token)
        operator = self._peek()
        if operator in (None, ","):
            return LabelRequirement(key, "exists")
        self._next()
        if operator in ("=", "=="):
            return LabelRequirement(key, "=", (self._value(allow_end=True),))
        if operator == "!=":
            return LabelRequirement(key, "!=", (self._value(allow_end=True),))
        if operator in ("in", "notin"):
            return LabelRequirement(key, "in" if operator == "in" else "notin", self._set())
        if operator in ("<", ">"):
            bound = self._value(allow_end=False)
            if _integer(bound) is None:
                raise self._error(
                    f"for 'Gt', 'Lt' operators, the value must be an integer: {bound!r}"
                )
            return LabelRequirement(key, "gt" if operator == ">" else "lt", (bound,))
        raise self._error(f"found '{operator}', expected: in, notin, =, ==, !=, gt, lt")

    def _key(self, token: str | None) -> str:
        if token is None or not _is_word(token):
            found = "the end" if token is None else f"'{token}'"
            raise self._error(f"found {found}, expected: identifier")
        if problem := key_problem(token):
            raise self._error(problem)
        return token

    def _value(self, *, allow_end: bool) -> str:
        token = self._peek()
        if token is None or token == ",":
            if allow_end:  # `key=` selects the empty value
                return ""
            raise self._error("expected a value")
        self._next()
        if not _is_word(token):
            raise self._error(f"found '{token}', expected: a value")
        if problem := value_problem(token):
            raise self._error(problem)
        return token

    def _set(self) -> tuple[str, ...]:
        if self._next() != "(":
            raise self._error("expected '(' after in or notin")
        values: list[str] = []
        while True:
            token = self._next()
            if token == ")" and not values:
                raise self._error("for 'in', 'notin' operators, values set can't be empty")
            if token in (",", ")"):
                values.append("")  # `(a,)` holds the empty value too, as in Kubernetes
            else:
                if token is None or not _is_word(token):
                    raise self._error("expected a value or ')'")
                if problem := value_problem(token):
                    raise self._error(problem)
                values.append(token)
                token = self._next()
            if token == ")":
                return tuple(values)
            if token != ",":
                raise self._error("expected ',' or ')' in a values set")


def _is_word(token: str) -> bool:
    return token not in ("=", "==", "!=", "!", "(", ")", ",", "<", ">")


# Field selectors -------------------------------------------------------------

FieldOperator = Literal["=", "!="]

# What each kind can be selected by, and where in the object the value is.
FIELDS: dict[str, dict[str, str]] = {
    "Pod": {
        "metadata.name": "metadata.name",
        "metadata.namespace": "metadata.namespace",
        "spec.nodeName": "spec.nodeName",
        "spec.restartPolicy": "spec.restartPolicy",
        "spec.schedulerName": "spec.schedulerName",
        "status.phase": "status.phase",
        "status.podIP": "status.podIP",
    },
    "Node": {"metadata.name": "metadata.name", "spec.unschedulable": "spec.unschedulable"},
    "Deployment": {"metadata.name": "metadata.name", "metadata.namespace": "metadata.namespace"},
    "Event": {
        "metadata.name": "metadata.name",
        "metadata.namespace": "metadata.namespace",
        "involvedObject.kind": "involvedObject.kind",
        "involvedObject.name": "involvedObject.name",
        "involvedObject.namespace": "involvedObject.namespace",
        "involvedObject.uid": "involvedObject.uid",
        "involvedObject.apiVersion": "involvedObject.apiVersion",
        "involvedObject.fieldPath": "involvedObject.fieldPath",
        "reason": "reason",
        "reportingComponent": "reportingComponent",
        "source": "source.component",
        "type": "type",
    },
}


@dataclass(frozen=True)
class FieldRequirement:
    field: str
    operator: FieldOperator
    value: str
    path: str  # where the value is in the object, dotted


FieldSelector = tuple[FieldRequirement, ...]


def parse_field_selector(text: str, kind: str | None = None) -> FieldSelector:
    """The requirements of a `fieldSelector`; with `kind`, only the fields it supports."""
    _too_long(text, "field")
    if not text.strip():
        return ()
    supported = FIELDS.get(kind) if kind is not None else None
    requirements = []
    for part in _split_unescaped(text, ","):
        requirements.append(_field_requirement(part, supported))
        if len(requirements) > MAX_REQUIREMENTS:
            raise bad_request(f"a selector has at most {MAX_REQUIREMENTS} requirements")
    return tuple(requirements)


# Tried in this order, so `a!=b` is not read as `a!` = `b`.
_FIELD_OPERATORS: tuple[tuple[str, FieldOperator], ...] = (("!=", "!="), ("==", "="), ("=", "="))


def _field_requirement(text: str, supported: Mapping[str, str] | None) -> FieldRequirement:
    for symbol, operator in _FIELD_OPERATORS:
        field, found, value = _partition_unescaped(text, symbol)
        if found:
            field = field.strip()
            if not field:
                raise bad_request(f"invalid field selector: {text!r}: no field before {symbol}")
            if supported is not None and field not in supported:
                raise bad_request(f"field label not supported: {field}")
            path = supported[field] if supported is not None else field
            return FieldRequirement(field, operator, _unescape(value), path)
    raise bad_request(f"invalid selector: '{text}'; can't understand '{text}'")


def _split_unescaped(text: str, separator: str) -> list[str]:
    parts = [""]
    escaped = False
    for char in text:
        if escaped:
            parts[-1] += "\\" + char
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == separator:
            parts.append("")
        else:
            parts[-1] += char
    if escaped:
        raise bad_request(f"invalid field selector: {text!r} ends with a lone '\\'")
    return parts


def _partition_unescaped(text: str, symbol: str) -> tuple[str, bool, str]:
    at = 0
    while at < len(text):
        if text[at] == "\\":
            at += 2
            continue
        if text.startswith(symbol, at):
            return text[:at], True, text[at + len(symbol) :]
        at += 1
    return text, False, ""


def _unescape(value: str) -> str:
    return re.sub(r"\\(.)", r"\1", value)


def field_value(obj: Mapping[str, Any], path: str) -> str:
    """The value at dotted `path` in `obj` as a field selector compares it ("" if absent)."""
    value: Any = obj
    for part in path.split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def field_matches(selector: FieldSelector, obj: Mapping[str, Any]) -> bool:
    """Whether every requirement holds for the Kubernetes object `obj`."""
    return all(
        (field_value(obj, requirement.path) == requirement.value) is (requirement.operator == "=")
        for requirement in selector
    )


def single_name(selector: FieldSelector) -> str | None:
    """The one name `metadata.name=X` asks for (kubectl's delete and wait do), if it does."""
    names = {r.value for r in selector if r.field == "metadata.name" and r.operator == "="}
    return names.pop() if len(names) == 1 else None
