"""``${VAR}`` and ``${VAR:-default}`` in profile values, read from the environment when the
profile is used (so a profile nobody selects needs none of its variables)."""

from __future__ import annotations

import re
from collections.abc import Mapping

_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def expand(value: str | None, env: Mapping[str, str]) -> str | None:
    """``value`` with its variable references replaced; None when nothing is left."""
    if value is None:
        return None
    text = _REF.sub(lambda m: env.get(m.group(1)) or (m.group(2) or ""), value).strip()
    return text or None


def references(value: str | None) -> list[str]:
    """The variable names ``value`` refers to (to name them in error messages)."""
    return [m.group(1) for m in _REF.finditer(value or "")]
