"""`-l` label selectors, as kubectl's equality-based ones: parse them, match labels. Pure.

`tier=web,env!=prod,team,!legacy` holds for labels with tier equal to web,
env not equal to prod (or absent, as in Kubernetes), a team label of any
value, and no legacy label. `==` is `=`. Set-based selectors
(`env in (a,b)`) are not supported: they are refused with a message that
says so rather than read as something else.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum

from ozymandias.labels.syntax import key_problem, shown, value_problem

MAX_SELECTOR_LENGTH = 1_000
MAX_REQUIREMENTS = 20


class Operator(Enum):
    EQUALS = "="
    NOT_EQUALS = "!="
    EXISTS = "exists"
    DOES_NOT_EXIST = "!exists"


@dataclass(frozen=True)
class Requirement:
    key: str
    operator: Operator
    value: str = ""

    def holds_for(self, labels: Mapping[str, str]) -> bool:
        match self.operator:
            case Operator.EQUALS:
                return labels.get(self.key) == self.value
            case Operator.NOT_EQUALS:
                return labels.get(self.key) != self.value
            case Operator.EXISTS:
                return self.key in labels
            case Operator.DOES_NOT_EXIST:
                return self.key not in labels


Selector = tuple[Requirement, ...]


def matches(selector: Selector, labels: Mapping[str, str]) -> bool:
    """Whether every requirement holds (an empty selector selects everything)."""
    return all(requirement.holds_for(labels) for requirement in selector)


def parse_selector(text: str) -> Selector:
    """The requirements of `text`; ValueError, saying what is wrong, if it is not a selector."""
    if len(text) > MAX_SELECTOR_LENGTH:
        raise ValueError(f"a selector is at most {MAX_SELECTOR_LENGTH} characters")
    if "(" in text or ")" in text:
        raise ValueError(
            f"selector {shown(text)}: set-based selectors (in, notin) are not supported;"
            " use key=value, key!=value, key or !key, joined by commas"
        )
    parts = [part.strip() for part in text.split(",")]
    if len(parts) > MAX_REQUIREMENTS:
        raise ValueError(f"a selector has at most {MAX_REQUIREMENTS} requirements")
    return tuple(_requirement(part) for part in parts)


def _requirement(text: str) -> Requirement:
    if not text:
        raise ValueError("empty requirement in the selector (two commas, or one at an end?)")
    for symbol, operator in (("!=", Operator.NOT_EQUALS), ("==", Operator.EQUALS)):
        if symbol in text:
            return _compare(text, symbol, operator)
    if "=" in text:
        return _compare(text, "=", Operator.EQUALS)
    if text.startswith("!"):
        return Requirement(_checked_key(text[1:].strip(), text), Operator.DOES_NOT_EXIST)
    return Requirement(_checked_key(text, text), Operator.EXISTS)


def _compare(text: str, symbol: str, operator: Operator) -> Requirement:
    key, _, value = (part.strip() for part in text.partition(symbol))
    if "=" in value or value.startswith("!"):
        raise ValueError(f"requirement {shown(text)}: one operator (=, == or !=) per requirement")
    problem = value_problem(value)
    if problem:
        raise ValueError(f"requirement {shown(text)}: {problem}")
    return Requirement(_checked_key(key, text), operator, value)


def _checked_key(key: str, text: str) -> str:
    if not key:
        raise ValueError(f"requirement {shown(text)} has no label key")
    problem = key_problem(key)
    if problem:
        raise ValueError(f"requirement {shown(text)}: {problem}")
    return key
