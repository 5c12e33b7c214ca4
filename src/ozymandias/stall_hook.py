"""A hook only tests turn on: stall the node's event loop on a signal.

With OZY_TEST_STALL_SECONDS set in its environment, a node daemon blocks
its event loop for that many seconds on each SIGUSR2, as a long plan, a slow
parse or a stuck call would. Tests use it to show that the lease, kept on
its own thread, survives (see store/lease_thread.py). Without the variable,
SIGUSR2 keeps its default meaning.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import time

log = logging.getLogger(__name__)

STALL_SECONDS_ENV = "OZY_TEST_STALL_SECONDS"


def install_stall_hook(loop: asyncio.AbstractEventLoop) -> None:
    seconds = os.environ.get(STALL_SECONDS_ENV)
    if not seconds:
        return
    stall = float(seconds)

    def block() -> None:
        log.warning("test hook: blocking the event loop for %.0fs", stall)
        time.sleep(stall)
        log.warning("test hook: the event loop runs again")

    loop.add_signal_handler(signal.SIGUSR2, block)
