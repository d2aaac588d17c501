"""Failpoints for the fault tests: ``CULTIVATION_FAILPOINT=<name>`` makes the process die
at that point as abruptly as ``kill -9`` would (``os._exit``, no cleanup, no flush).

Names: ``relay.after_publish`` (a batch is on the stream, the relay has not moved on),
``projector.after_commit`` (rows and checkpoint committed, messages not yet acknowledged,
changes not yet published).  Unset in production; reading one environment variable is
all it costs.
"""

from __future__ import annotations

import os

_ACTIVE = os.environ.get("CULTIVATION_FAILPOINT", "")


def failpoint(name: str) -> None:
    if _ACTIVE and name == _ACTIVE:
        os._exit(137)
