"""The offline specialist: calls its configured tools in order; no model is involved."""

from __future__ import annotations

import asyncio
import time

from magentic_health.agents._base import EventSink, HandoffRequest
from magentic_health.config import AgentConfig
from magentic_health.reply import Finding, SpecialistReply
from magentic_health.tools import ToolContext, ToolOutput, ToolSpec, get_tool
from magentic_health.trace import ToolCall, ToolResult


class ToolAgent:
    """A specialist of the offline engine: its reply is the merged output of its tools."""

    def __init__(self, config: AgentConfig, *, tools: list[ToolSpec] | None = None) -> None:
        self.config = config
        self._tools = tools if tools is not None else [get_tool(t) for t in config.tools]

    @property
    def name(self) -> str:
        return self.config.name

    async def _call(
        self, tool: ToolSpec, ctx: ToolContext, request: HandoffRequest, emit: EventSink
    ) -> ToolOutput:
        emit(
            ToolCall(
                tool=tool.name,
                arguments={
                    "case_id": ctx.case.case_id,
                    "instruction": ctx.instruction,
                    "upstream": sorted(ctx.upstream),
                },
            ),
            agent=self.name,
            step=request.step.id,
        )
        start = time.perf_counter()
        try:
            output = await asyncio.to_thread(tool.run, ctx)
        except Exception as exc:  # a tool bug must not sink the run: it becomes a gap
            elapsed = (time.perf_counter() - start) * 1000
            message = f"{type(exc).__name__}: {exc}"
            emit(
                ToolResult(tool=tool.name, output={}, duration_ms=elapsed, error=message),
                agent=self.name,
                step=request.step.id,
            )
            return ToolOutput(text="", gaps=(f"tool {tool.name} failed ({message})",))
        emit(
            ToolResult(
                tool=tool.name,
                output=output.model_dump(mode="json"),
                duration_ms=(time.perf_counter() - start) * 1000,
            ),
            agent=self.name,
            step=request.step.id,
        )
        return output

    async def handle(self, request: HandoffRequest, *, emit: EventSink) -> SpecialistReply:
        ctx = ToolContext(
            case=request.case,
            instruction=request.case.request,
            data_dir=request.data_dir,
            upstream=request.upstream,
            settings=request.settings,
        )
        texts: list[str] = []
        findings: list[Finding] = []
        gaps: list[str] = []
        data: dict[str, object] = {}
        for tool in self._tools:
            output = await self._call(tool, ctx, request, emit)
            if output.text.strip():
                texts.append(output.text.strip())
            findings += output.findings
            gaps += output.gaps
            data[tool.name] = output.data
        return SpecialistReply(
            agent=self.name,
            text="\n\n".join(texts),
            findings=tuple(findings),
            gaps=tuple(dict.fromkeys(gaps)),
            data=data,
            tools_used=tuple(t.name for t in self._tools),
        )
