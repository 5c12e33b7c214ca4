"""Reading a job spec from YAML, with errors that point at the offending field."""

import re
from dataclasses import dataclass
from typing import Any, Protocol

import yaml
from pydantic import ValidationError
from pydantic_core import ErrorDetails
from yaml.nodes import Node

from ozymandias.spec.base import shown
from ozymandias.spec.limits import LimitExceeded, SpecLimits
from ozymandias.spec.models import JobSpec

DEFAULT_LIMITS = SpecLimits()


@dataclass(frozen=True)
class FieldProblem:
    """One thing wrong with a spec: where (dotted, like "containers.app.memory") and what.

    `limit` names the node's limit it goes past (as its `ozy node run` flag, without
    the dashes), if that is what is wrong.
    """

    path: str
    message: str
    limit: str | None = None

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class SpecError(Exception):
    """A job spec that cannot be accepted, with every problem found in it."""

    def __init__(self, problems: list[FieldProblem]) -> None:
        super().__init__("\n".join(str(problem) for problem in problems))
        self.problems = problems

    @property
    def limits(self) -> list[str]:
        """The node limits the spec goes past (none: it is invalid, whatever the limits)."""
        return sorted({problem.limit for problem in self.problems if problem.limit})


class _Mark(Protocol):
    """A place in the text, as PyYAML's pure and libyaml classes both mark it."""

    line: int
    column: int


class _SpecYamlLoader(yaml.SafeLoader):
    """SafeLoader that reads only plain decimal integers as numbers, and bounds the document.

    YAML 1.1 reads `- 22:22` as the base-60 number 1342 and `0755` as octal,
    the classic docker-compose port trap; here both stay strings, so the port
    mapping "22:22" means what it says.

    Nesting, anchors and aliases, and values (each alias counted as the value
    it repeats) are counted while the document is composed, so a deep or
    alias-laden body is refused before it is expanded or validated, and
    before PyYAML's recursive composer can exhaust the stack.
    """

    def __init__(self, text: str | bytes, limits: SpecLimits) -> None:
        super().__init__(text)
        self._limits = limits
        self._anchors_and_aliases = 0
        self._values = 0
        self._level = 0  # mappings and lists open around the value being composed
        self._deepest = 0  # the deepest level reached, through aliases too
        # Of each anchored value composed so far: how many values it holds and
        # how many levels deep it goes, for every alias that repeats it.
        self._anchored: dict[str, tuple[int, int]] = {}

    # The stubs leave the parser's event methods untyped.
    def _next_event(self) -> yaml.Event:
        event: yaml.Event = self.get_event()  # type: ignore[no-untyped-call]
        return event

    def _peek_node_event(self) -> yaml.NodeEvent:
        # Only called from compose_node, which PyYAML calls with a value next.
        event: yaml.NodeEvent = self.peek_event()  # type: ignore[no-untyped-call]
        return event

    # PyYAML's scanner reads ahead over a run of "[" and "{" (any could begin
    # a key), with work growing as the square of their nesting, before the
    # composer sees them; so flow nesting, which never exceeds the document's,
    # is also bounded here.
    def fetch_flow_sequence_start(self) -> None:
        self._check_flow_depth()
        super().fetch_flow_sequence_start()

    def fetch_flow_mapping_start(self) -> None:
        self._check_flow_depth()
        super().fetch_flow_mapping_start()

    def _check_flow_depth(self) -> None:
        self._reach(self.flow_level + 1, self.get_mark())

    def get_single_node(self) -> Node | None:
        # PyYAML's, saying in the spec's terms why a second document is refused.
        self._next_event()  # the stream start
        document = None if self.check_event(yaml.StreamEndEvent) else self.compose_document()
        if not self.check_event(yaml.StreamEndEvent):
            raise _refusal(
                "a job spec is one YAML document, but another one starts",
                self._next_event().start_mark,
            )
        self._next_event()  # the stream end
        return document

    def compose_node(self, parent: Node | None, index: int) -> Node | None:
        event = self._peek_node_event()
        if isinstance(event, yaml.AliasEvent) or event.anchor is not None:
            self._anchors_and_aliases += 1
            if self._anchors_and_aliases > self._limits.max_yaml_aliases:
                raise _refusal(
                    f"more than {self._limits.max_yaml_aliases} YAML anchors and aliases",
                    event.start_mark,
                    "max-yaml-aliases",
                )
        if isinstance(event, yaml.AliasEvent):
            return self._compose_alias(parent, index, event)
        opens = isinstance(event, yaml.CollectionStartEvent)
        self._reach(self._level + opens, event.start_mark)
        self._count(1, event.start_mark)
        values_before, deepest_before, level_before = self._values, self._deepest, self._level
        self._deepest = self._level = self._level + opens
        node = super().compose_node(parent, index)
        self._level = level_before
        if event.anchor is not None:
            self._anchored[event.anchor] = (
                self._values - values_before + 1,
                self._deepest - level_before,
            )
        self._deepest = max(self._deepest, deepest_before)
        return node

    def _compose_alias(
        self, parent: Node | None, index: int, event: yaml.AliasEvent
    ) -> Node | None:
        node = super().compose_node(parent, index)  # refuses an undefined alias
        if event.anchor not in self._anchored:
            # YAML allows a value to contain itself; a job spec cannot.
            raise _refusal(
                f"alias '{event.anchor}' is inside the value it repeats", event.start_mark
            )
        values, depth = self._anchored[event.anchor]
        self._reach(self._level + depth, event.start_mark)
        self._deepest = max(self._deepest, self._level + depth)
        self._count(values, event.start_mark)
        return node

    def _reach(self, level: int, mark: _Mark | None) -> None:
        if level > self._limits.max_depth:
            raise _refusal(
                f"nested more than {self._limits.max_depth} mappings and lists deep",
                mark,
                "max-depth",
            )

    def _count(self, values: int, mark: _Mark | None) -> None:
        self._values += values
        if self._values > self._limits.max_yaml_nodes:
            raise _refusal(
                f"more than {self._limits.max_yaml_nodes} values, each alias counted as"
                " the value it repeats",
                mark,
                "max-yaml-nodes",
            )

    def construct_scalar(self, node: yaml.ScalarNode) -> Any:  # type: ignore[override]
        # JSON writes a character past U+FFFF as a pair of escaped UTF-16
        # surrogates ("\\ud83d\\ude00"), which PyYAML leaves as two lone
        # ones: joined, it is the character; alone, no text can hold it.
        value = super().construct_scalar(node)
        if isinstance(value, str) and _SURROGATE.search(value):
            try:
                return value.encode("utf-16", "surrogatepass").decode("utf-16")
            except UnicodeDecodeError:
                raise _refusal(
                    "a string holds half of a UTF-16 surrogate pair, which is not text",
                    node.start_mark,
                ) from None
        return value


_SURROGATE = re.compile("[\ud800-\udfff]")


def _refusal(problem: str, mark: _Mark | None, limit: str | None = None) -> SpecError:
    return SpecError([FieldProblem("", f"{problem}{_at(mark)}", limit)])


def _at(mark: _Mark | None) -> str:
    return f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""


_INT_TAG = "tag:yaml.org,2002:int"
_SpecYamlLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != _INT_TAG]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
# At most 100 characters: Python refuses to convert more than 4300 digits,
# and no field needs such a number; a longer one stays text for its field to
# explain.
_SpecYamlLoader.add_implicit_resolver(
    _INT_TAG, re.compile(r"^[-+]?(?:0|[1-9][0-9_]{0,98})$"), list("-+0123456789")
)


def load_job(text: str | bytes, limits: SpecLimits = DEFAULT_LIMITS) -> JobSpec:
    """Parse and validate a job spec written in YAML (or JSON, which is YAML), within `limits`."""
    return job_from_data(load_yaml(text, limits), limits)


def load_yaml(text: str | bytes, limits: SpecLimits = DEFAULT_LIMITS) -> Any:
    """One YAML document, bounded and read as job specs are (`8080:80` stays a string);
    also what compose files are read with (compose/loader.py)."""
    loader: _SpecYamlLoader | None = None
    try:
        # Reading starts in the constructor: a body that is not text fails there.
        loader = _SpecYamlLoader(text, limits)
        data = loader.get_single_data()
    except yaml.MarkedYAMLError as error:
        where = _at(error.problem_mark)
        raise SpecError([FieldProblem("", f"invalid YAML{where}: {error.problem}")]) from None
    except yaml.YAMLError as error:
        raise SpecError([FieldProblem("", f"invalid YAML: {error}")]) from None
    finally:
        if loader is not None:
            loader.dispose()
    return data


def job_from_data(data: object, limits: SpecLimits = DEFAULT_LIMITS) -> JobSpec:
    """Validate an already-parsed job spec within `limits`.

    The limits on nesting and aliases are `load_job`'s, which sees the text;
    validation itself goes no deeper than the schema does.
    """
    if data is None:
        raise SpecError([FieldProblem("", "the job spec is empty")])
    if not isinstance(data, dict):
        raise SpecError(
            [FieldProblem("", f"the job spec must be a mapping of fields, not {_kind(data)}")]
        )
    try:
        # The limits go in as context: a stored spec, read back without them,
        # is never refused by limits lowered since it was accepted.
        spec = JobSpec.model_validate(data, context=limits)
    except ValidationError as error:
        details = [
            detail
            for detail in error.errors(include_url=False)
            # Reported when a volume's name can't be derived from an invalid
            # path, which has its own error already.
            if detail["type"] != "default_factory_not_called"
        ]
        # Only the problems reported are worded: there may be very many.
        problems = [_field_problem(detail) for detail in details[: limits.max_errors]]
        if hidden := len(details) - len(problems):
            problems.append(FieldProblem("", f"and {hidden} more problem{'s' * (hidden > 1)}"))
        raise SpecError(problems) from None
    size = len(spec.model_dump_json(by_alias=True))
    if size > limits.max_spec_bytes:
        message = (
            f"the spec takes {size} bytes once its aliases are expanded,"
            f" more than the limit of {limits.max_spec_bytes}"
        )
        raise SpecError([FieldProblem("", message, "max-spec-size")])
    return spec


def check_instances(count: int, limits: SpecLimits = DEFAULT_LIMITS) -> FieldProblem | None:
    """The problem with a job of `count` instances under `limits`, if any; for scaling too."""
    message = limits.instances_problem(count)
    return FieldProblem("numInstances", message, "max-instances") if message else None


def dump_job(spec: JobSpec) -> dict[str, Any]:
    """The spec as JSON-ready data, spelled as users write it (numInstances, ...)."""
    return spec.model_dump(mode="json", by_alias=True)


# Location parts pydantic adds that are not fields: "[key]" for a bad mapping
# key, and union branch names like "list[str]" or "function-after[f(), str]".
_NOT_A_FIELD = re.compile(r"\[key\]|[\w-]+\[.*\]")

_TYPE_MESSAGES = {
    "missing": "field required",
    "model_type": "must be a mapping of fields",
    "dict_type": "must be a mapping",
    "list_type": "must be a list",
    "string_type": "must be a string",
    "int_type": "must be a whole number",
    "int_parsing": "must be a whole number",
    "int_from_float": "must be a whole number",
    "int_parsing_size": "must be a whole number",
}


def _field_problem(detail: ErrorDetails) -> FieldProblem:
    path = ".".join(
        shown(str(part)) for part in detail["loc"] if not _NOT_A_FIELD.fullmatch(str(part))
    )
    kind, value, context = detail["type"], detail["input"], detail.get("ctx", {})
    if kind == "value_error":
        # Our own validators' messages, without pydantic's "Value error, ".
        error = context.get("error", detail["msg"])
        limit = error.limit if isinstance(error, LimitExceeded) else None
        return FieldProblem(path, str(error), limit)
    if kind == "too_long":
        # Of a mapping, pydantic leaves out the actual length.
        return FieldProblem(path, f"at most {context['max_length']} items, got {len(value)}")
    if kind == "string_too_long":
        return FieldProblem(path, f"at most {context['max_length']} characters, got {len(value)}")
    message = _TYPE_MESSAGES.get(kind) or re.sub(r"^\w+ should ", "must ", detail["msg"])
    # Showing a wrong scalar helps spot YAML surprises like `on` read as true.
    if isinstance(value, str):
        message += f", got {shown(value)!r}"
    elif isinstance(value, int | float | bool):
        message += f", got {value!r}"
    return FieldProblem(path, message)


def _kind(data: object) -> str:
    return "a list" if isinstance(data, list) else f"{type(data).__name__} {shown(repr(data))}"
