"""How an agent's step calls a tool: events around it, a worker thread unless the tool holds
its output, and a failing tool turned into a gap."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from magentic_health.agents import HandoffRequest
from magentic_health.agents._calls import call_tool
from magentic_health.plan import PlanStep
from magentic_health.tools import ToolContext, ToolOutput, ToolSpec
from magentic_health.trace import ToolCall, ToolResult
from tests._factories import synthetic_case


def _request(tmp_path: Path) -> HandoffRequest:
    step = PlanStep(id="s1", agent="PatientStatus", instruction="State the stage.")
    return HandoffRequest(step=step, case=synthetic_case(), data_dir=tmp_path)


async def _call(tool: ToolSpec, tmp_path: Path) -> tuple[ToolOutput, list[Any]]:
    request = _request(tmp_path)
    ctx = ToolContext(case=request.case, instruction="stage?", data_dir=tmp_path)
    emitted: list[Any] = []
    output = await call_tool(
        tool, ctx, request, lambda p, **where: emitted.append((p, where)), agent="PatientStatus"
    )
    return output, emitted


async def test_a_tool_runs_in_a_worker_thread_unless_it_holds_its_output(tmp_path: Path) -> None:
    seen: dict[str, int] = {}

    def recorder(name: str) -> ToolSpec:
        def run(_ctx: ToolContext) -> ToolOutput:
            seen[name] = threading.get_ident()
            return ToolOutput(text=f"{name} ran", data={"rows": [1, 2]})

        return ToolSpec(name=name, description=name, run=run, threaded=name == "threaded")

    loop_thread = threading.get_ident()
    for name in ("threaded", "inline"):
        output, emitted = await _call(recorder(name), tmp_path)
        assert output.text == f"{name} ran"
        (call, where), (result, _) = emitted
        assert isinstance(call, ToolCall) and call.tool == name
        assert where == {"agent": "PatientStatus", "step": "s1"}
        assert isinstance(result, ToolResult) and result.error is None
        assert result.output == {
            "text": f"{name} ran",
            "findings": [],
            "gaps": [],
            "data": {"rows": [1, 2]},
        }
    assert seen["threaded"] != loop_thread and seen["inline"] == loop_thread


async def test_a_tool_that_raises_becomes_a_gap_either_way(tmp_path: Path) -> None:
    def broken(_ctx: ToolContext) -> ToolOutput:
        raise ValueError("index missing")

    for threaded in (True, False):
        tool = ToolSpec(name="broken", description="fails", run=broken, threaded=threaded)
        output, emitted = await _call(tool, tmp_path)
        assert output.gaps == ("tool broken failed (ValueError: index missing)",)
        result = emitted[-1][0]
        assert isinstance(result, ToolResult) and result.error == "ValueError: index missing"
