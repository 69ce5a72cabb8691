"""What every tool takes and returns, so agents can call any tool the same way."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from magentic_health.case import Case
from magentic_health.reply import Finding
from magentic_health.tools._settings import ToolSettings


class ToolOutput(BaseModel):
    """A tool's result: markdown, cited findings, gaps and structured data."""

    model_config = ConfigDict(frozen=True)

    text: str
    findings: tuple[Finding, ...] = ()
    gaps: tuple[str, ...] = ()
    data: dict[str, Any] = Field(default_factory=dict)
    """JSON data (what ``model_dump(mode="json")`` gives): it goes to the ledger as it is."""


@dataclass(frozen=True)
class ToolContext:
    """Everything a tool may read: the case, the instruction (the question the tool serves:
    the user's request in offline mode), the data directory, and the outputs of the tools that
    ran in the steps this one depends on (keyed by tool name)."""

    case: Case
    instruction: str
    data_dir: Path
    upstream: Mapping[str, ToolOutput] = field(default_factory=dict)
    settings: ToolSettings = field(default_factory=ToolSettings)


@dataclass(frozen=True)
class ToolSpec:
    """A named tool: its description (shown to models and users) and its function."""

    name: str
    description: str
    run: Callable[[ToolContext], ToolOutput]
    threaded: bool = True
    """Run in a worker thread, so a tool that reads files, calls a service or computes for a
    while does not hold up the other steps. False only for a tool that returns data it
    already holds: the hop to a thread and back would cost more than the call."""

    async def call(self, ctx: ToolContext) -> ToolOutput:
        """Run the tool on ``ctx``: in a worker thread when ``threaded``, else on the loop."""
        return await asyncio.to_thread(self.run, ctx) if self.threaded else self.run(ctx)
