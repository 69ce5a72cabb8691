"""Pausing Python's cycle collector around work that builds many long-lived objects."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """Pause the cycle collector while building many objects without cycles (parsed JSON,
    validated payloads, the views of a ledger): on a large ledger its repeated full passes
    over the growing heap cost more than the work itself. It is turned back on only if it
    was on. Also a decorator."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
