"""How the node changes what HAProxy serves: reloads and their duration, runtime commands.

Counted in Python, unlike the rest of the ingress metrics (`metrics/ingress.py`):
HAProxy knows neither how long a reload took from the node's side (config
written and checked, the new process answering, the old one no longer
listening) nor how many runtime commands a health change cost. A reload is
rare and a runtime update one socket exchange, so a prometheus_client
counter's lock costs nothing that shows.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

RELOAD_DURATION = Histogram(
    "ozy_ingress_reload_duration_seconds",
    "How long starting a HAProxy generation took, from writing its config to it serving.",
    # From a config of a few pools (tens of ms) to tens of thousands (seconds).
    buckets=(0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
RUNTIME_UPDATES = Counter(
    "ozy_ingress_runtime_updates_total",
    "Changes of HAProxy's backends made by runtime commands, without a reload.",
)
RUNTIME_COMMANDS = Counter(
    "ozy_ingress_runtime_commands_total",
    "Runtime API commands sent to HAProxy (several make one runtime update).",
)


def observe_runtime_update(commands: int) -> None:
    RUNTIME_UPDATES.inc()
    RUNTIME_COMMANDS.inc(commands)
