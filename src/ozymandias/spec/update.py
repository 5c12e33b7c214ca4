"""A job's `update` block: how a new version replaces the running one (Nomad's `update` stanza)."""

from __future__ import annotations

from typing import Annotated, Self

from pydantic import BeforeValidator, Field, model_validator

from ozymandias.spec.base import SpecModel, problems_error
from ozymandias.spec.durations import parse_duration

Seconds = Annotated[float, BeforeValidator(parse_duration)]

# Bounds that keep a typo from becoming a deployment that waits for a year.
MAX_DEADLINE_SECONDS = 24 * 3600.0
MAX_PARALLEL = 1000


class UpdatePolicy(SpecModel):
    """How a new version rolls out: batches, health gates, deadlines, canaries, revert.

    The defaults are Nomad's: one instance at a time, each healthy for 10s
    before the next goes, 5 minutes for an instance to become healthy and 10
    without any progress before the deployment fails and is reverted.
    """

    max_parallel: int = Field(1, ge=1, le=MAX_PARALLEL, description="instances replaced at once")
    min_healthy_time: Seconds = Field(
        10.0,
        ge=0,
        le=MAX_DEADLINE_SECONDS,
        description="a new instance is healthy this long to count",
    )
    healthy_deadline: Seconds = Field(
        300.0,
        gt=0,
        le=MAX_DEADLINE_SECONDS,
        description="a new instance is healthy within this, or the deployment fails",
    )
    progress_deadline: Seconds = Field(
        600.0,
        gt=0,
        le=MAX_DEADLINE_SECONDS,
        description="the deployment fails when no instance became healthy for this long",
    )
    auto_revert: bool = Field(True, description="on failure, go back to the last stable version")
    canary: int = Field(
        0, ge=0, le=MAX_PARALLEL, description="new instances started beside the old ones first"
    )
    auto_promote: bool = Field(False, description="promote healthy canaries without `ozy promote`")

    @model_validator(mode="after")
    def _check_deadlines(self) -> Self:
        if self.min_healthy_time >= self.healthy_deadline:
            raise problems_error(
                type(self).__name__,
                [
                    (
                        ("min_healthy_time",),
                        f"min_healthy_time ({self.min_healthy_time:g}s) must be shorter than"
                        f" healthy_deadline ({self.healthy_deadline:g}s)",
                    )
                ],
            )
        return self
