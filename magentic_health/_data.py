"""Where the data directory (sample cases, trial records, guideline texts) is found.

Order: an explicit path (``--data-dir``), then ``MAGENTIC_HEALTH_DATA``, then ``shared/data``
beside the checkout (as on our machines and in CI), then ``./data``.
"""

from __future__ import annotations

import os
from pathlib import Path

from magentic_health.errors import InputError

ENV_VAR = "MAGENTIC_HEALTH_DATA"
_CHECKOUT = Path(__file__).resolve().parent.parent


def _candidates() -> list[Path]:
    return [
        _CHECKOUT.parent / "shared" / "data",
        Path.cwd().parent / "shared" / "data",
        Path.cwd() / "data",
    ]


def resolve_data_dir(explicit: str | os.PathLike[str] | None = None) -> Path:
    """The data directory to use, or an ``InputError`` saying how to provide one."""
    if explicit is not None:
        path = Path(explicit)
        if not path.is_dir():
            raise InputError(f"--data-dir {str(path)!r}: no such directory")
        return path.resolve()
    env = os.environ.get(ENV_VAR)
    if env:
        path = Path(env)
        if not path.is_dir():
            raise InputError(f"{ENV_VAR}={env!r}: no such directory; unset it or point it at one")
        return path.resolve()
    for path in _candidates():
        if path.is_dir():
            return path.resolve()
    raise InputError(
        "no data directory found: pass --data-dir DIR, set "
        f"{ENV_VAR}, or run 'magentic-health data fetch' to fill ./data"
    )
