"""Calling a tool on behalf of an agent's step, with ``tool_call`` and ``tool_result`` events."""

from __future__ import annotations

import time
from typing import Any

from magentic_health.agents._base import EventSink, HandoffRequest
from magentic_health.tools import ToolContext, ToolOutput, ToolSpec
from magentic_health.trace import ToolCall, ToolResult
from magentic_health.trace._writer import json_data

REQUEST_DEPENDENT_TOOLS = frozenset({"search_notes", "clinical_guidelines", "report_export"})
"""Tools whose output depends on the wording of the request (a reused step must not use them)."""


async def call_tool(
    tool: ToolSpec,
    ctx: ToolContext,
    request: HandoffRequest,
    emit: EventSink,
    *,
    agent: str,
    arguments: dict[str, Any] | None = None,
) -> ToolOutput:
    """Run ``tool`` (in a worker thread unless it is not ``threaded``); a tool that raises
    returns a gap instead."""
    emit(
        ToolCall(
            tool=tool.name,
            arguments={
                "case_id": ctx.case.case_id,
                "instruction": ctx.instruction,
                "upstream": sorted(ctx.upstream),
                **(arguments or {}),
            },
        ),
        agent=agent,
        step=request.step.id,
    )
    start = time.perf_counter()
    try:
        output = await tool.call(ctx)
    except Exception as exc:  # a tool bug must not sink the run: it becomes a gap
        message = f"{type(exc).__name__}: {exc}"
        emit(
            ToolResult(
                tool=tool.name,
                output={},
                duration_ms=(time.perf_counter() - start) * 1000,
                error=message,
            ),
            agent=agent,
            step=request.step.id,
        )
        return ToolOutput(text="", gaps=(f"tool {tool.name} failed ({message})",))
    emit(
        ToolResult(
            tool=tool.name,
            output=json_data(output),
            duration_ms=(time.perf_counter() - start) * 1000,
        ),
        agent=agent,
        step=request.step.id,
    )
    return output
