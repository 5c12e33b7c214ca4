"""What a job request can fail with, for the API to turn into problems."""

from __future__ import annotations

from typing import Any


class JobNotFound(Exception):
    pass


class JobRejected(Exception):
    """The job cannot be placed (or the request can't be done); nothing was written.

    `placement`, for a job that does not fit, is the scheduler's count of the
    nodes it evaluated, filtered and found exhausted (`PlacementMetrics`).
    """

    def __init__(
        self,
        kind: str,
        title: str,
        detail: str,
        status: int = 422,
        *,
        placement: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.kind = kind
        self.title = title
        self.detail = detail
        self.status = status
        self.placement = placement


class VolumeNotFound(Exception):
    pass
