"""The podman runtime adapter: the only code in Ozymandias that talks to podman."""

from ozymandias.runtime.models import (
    CONTAINER_LABEL,
    POD_LABEL,
    ContainerExit,
    ContainerInfo,
    ContainerNotFound,
    ContainerPlan,
    ExecExit,
    ExecOutput,
    ImageNotFound,
    Mount,
    PodInfo,
    PodmanError,
    PodPlan,
    RuntimeUnavailable,
    StreamConnected,
)
from ozymandias.runtime.podman import PodmanRuntime

__all__ = [
    "CONTAINER_LABEL",
    "POD_LABEL",
    "ContainerExit",
    "ContainerInfo",
    "ContainerNotFound",
    "ContainerPlan",
    "ExecExit",
    "ExecOutput",
    "ImageNotFound",
    "Mount",
    "PodInfo",
    "PodPlan",
    "PodmanError",
    "PodmanRuntime",
    "RuntimeUnavailable",
    "StreamConnected",
]
