"""What every spec model shares: strict field names, and problems that name their field."""

from collections.abc import Callable, Iterable
from difflib import get_close_matches
from functools import lru_cache
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, ValidationInfo, model_validator
from pydantic_core import ErrorDetails, InitErrorDetails

from ozymandias.spec.limits import SpecLimits

# A problem found by a cross-field check: where (relative to the model being
# validated) and what.
Problem = tuple[tuple[str | int, ...], str]


def problems_error(title: str, problems: Iterable[Problem]) -> ValidationError:
    """Build a ValidationError pointing at specific fields.

    A plain ValueError from a validator is reported at the validated object
    itself; pydantic nests a raised ValidationError under the current
    location instead, so cross-field checks can name the exact field.
    """
    return ValidationError.from_exception_data(title, problem_details(problems))


def problem_details(problems: Iterable[Problem]) -> list[InitErrorDetails]:
    """`problems` as pydantic's error details, each a value error at its field."""
    return [
        InitErrorDetails(type="value_error", loc=loc, input=None, ctx={"error": message})
        for loc, message in problems
    ]


_SHOWN_LENGTH = 64


def shown(text: str) -> str:
    """`text` for quoting in a message, cut short so a huge value makes no huge message."""
    return text if len(text) <= _SHOWN_LENGTH else f"{text[:_SHOWN_LENGTH]}..."


def limits_of(info: ValidationInfo) -> SpecLimits | None:
    """The limits a submitted spec is validated against; None when a stored spec is read.

    A stored spec was accepted under the limits of its day, so a node started
    with lower limits must still read it.
    """
    return info.context if isinstance(info.context, SpecLimits) else None


class SpecModel(BaseModel):
    """Base for spec models: immutable, and strict about field names."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    @model_validator(mode="before")
    @classmethod
    def _reject_unknown_fields(cls, data: Any, info: ValidationInfo) -> Any:
        # extra="forbid" would reject these too, but only this model knows its
        # own fields, so it is the place to suggest what a typo meant.
        if not isinstance(data, dict):
            return data
        spelled = tuple(field.alias or name for name, field in cls.model_fields.items())
        accepted = {*spelled, *cls.model_fields}
        unknown = [key for key in data if key not in accepted]
        if not unknown:
            return data
        # Suggesting costs far more than finding, and aliases can repeat one
        # mapping of many unknown keys: past what is reported, only count them.
        limits = limits_of(info)
        most = limits.max_errors if limits is not None else len(unknown)
        guesses = {key: _guess(shown(str(key)), spelled) for key in unknown[:most]}
        problems: list[Problem] = [
            ((key,), _unknown_field_message(shown(str(key)), guess))
            for key, guess in guesses.items()
        ]
        if len(unknown) > most:
            problems.append(((), f"and {len(unknown) - most} more unknown fields"))
        details = problem_details(problems)
        # Raising here would stop validation at this level, leaving the known
        # fields' own problems (and those of the mappings inside them) for the
        # next attempt: the rest is validated too, so all are reported at once.
        known = {key: value for key, value in data.items() if key in accepted}
        try:
            cls.model_validate(known, context=info.context)
        except ValidationError as error:
            # A required field the user misspelled is missing, but the typo's
            # "did you mean" already says so.
            misspelled = {(guess,) for guess in guesses.values() if guess is not None}
            details.extend(
                _as_init_details(
                    error,
                    lambda detail: detail["type"] == "missing" and detail["loc"] in misspelled,
                )
            )
        raise ValidationError.from_exception_data(cls.__name__, details)


def _as_init_details(
    error: ValidationError, said_already: Callable[[ErrorDetails], bool]
) -> list[InitErrorDetails]:
    """`error`'s problems but those `said_already`, to be raised again among others."""
    details: list[InitErrorDetails] = []
    for detail in error.errors(include_url=False):
        if said_already(detail):
            continue
        again = InitErrorDetails(type=detail["type"], loc=detail["loc"], input=detail["input"])
        if "ctx" in detail:
            again["ctx"] = detail["ctx"]
        details.append(again)
    return details


@lru_cache(maxsize=1024)
def _guess(key: str, known: tuple[str, ...]) -> str | None:
    # Cached, as aliases can repeat one mistake many times and guessing is
    # slow; by the key cut short, which no field name is close to anyway.
    guesses = get_close_matches(key, known, n=1)
    return guesses[0] if guesses else None


def _unknown_field_message(key: str, guess: str | None) -> str:
    hint = f" (did you mean '{guess}'?)" if guess is not None else ""
    return f"unknown field '{key}'{hint}"
