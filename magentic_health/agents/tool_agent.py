"""The offline specialist: calls its configured tools in order; no model is involved."""

from __future__ import annotations

from magentic_health.agents._base import EventSink, HandoffRequest
from magentic_health.agents._calls import REQUEST_DEPENDENT_TOOLS, call_tool
from magentic_health.config import AgentConfig
from magentic_health.reply import Finding, SpecialistReply
from magentic_health.tools import ToolContext, ToolSpec, get_tool


class ToolAgent:
    """A specialist of the offline engine: its reply is the merged output of its tools."""

    def __init__(self, config: AgentConfig, *, tools: list[ToolSpec] | None = None) -> None:
        self.config = config
        self._tools = tools if tools is not None else [get_tool(t) for t in config.tools]

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def reads_request(self) -> bool:
        """Whether a reply depends on the request's wording (then it is not reused by a
        follow-up with another request)."""
        return any(t.name in REQUEST_DEPENDENT_TOOLS for t in self._tools)

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
            output = await call_tool(tool, ctx, request, emit, agent=self.name)
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
