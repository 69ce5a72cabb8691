"""What a run returns to its caller (the CLI prints it; notebooks inspect it)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from magentic_health.config import Complexity
from magentic_health.reply import Evidence
from magentic_health.trace import RunCost, RunStatus


class RunResult(BaseModel):
    """The outcome of one run: status, team, final answer and where the ledger is."""

    model_config = ConfigDict(frozen=True)

    run_id: str
    parent_run: str | None = None
    """The run this one follows up, if any."""
    case_id: str
    request: str
    status: RunStatus
    reason: str | None = None
    """Why the run is not ``completed`` (a limit, failed steps), else None."""
    limit_hit: bool = False
    engine: str
    complexity: Complexity | None = None
    selected: tuple[str, ...] = ()
    final_text: str = ""
    citations: tuple[Evidence, ...] = ()
    gaps: tuple[str, ...] = ()
    ledger_path: str
    usage: dict[str, dict[str, int]] = {}
    """Tokens per agent and ``total``."""
    cost: RunCost | None = None
    """What the tokens cost, when the model profile has prices."""
    tool_data: dict[str, Any] = {}
    """Structured output of each tool of the verified steps, by tool name (e.g. the report)."""
    duration_ms: float = 0.0
