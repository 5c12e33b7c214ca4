"""The error every patch engine raises for a patch it cannot apply. Pure.

The kube API server turns it into a Kubernetes Status (BadRequest for a
malformed patch, Invalid or UnprocessableEntity as the request needs), with the
message as kubectl prints it.
"""

from __future__ import annotations


class PatchError(ValueError):
    """A patch that is malformed, or that does not fit the object it is applied to."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
