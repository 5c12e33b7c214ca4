"""What a conversion reports besides its jobs: pure."""

from __future__ import annotations

from dataclasses import dataclass, field


class ComposeError(ValueError):
    """A compose file that cannot become jobs; the message names the service and key."""


@dataclass
class Findings:
    """Warnings (or, under --strict, errors) gathered while converting.

    `unsupported` lines are the ones --strict turns into errors; `notes` (a
    default size, an ignored `version:`) never fail a conversion.
    """

    strict: bool = False
    unsupported: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def unsupported_key(self, where: str, key: str, why: str = "not supported, ignored") -> None:
        line = f"{where}: key '{key}' is {why}"
        (self.errors if self.strict else self.unsupported).append(line)

    def note(self, line: str) -> None:
        self.notes.append(line)

    def error(self, line: str) -> None:
        self.errors.append(line)

    @property
    def warnings(self) -> list[str]:
        return [*self.unsupported, *self.notes]
