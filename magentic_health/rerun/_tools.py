"""Tools that return their recorded results: matched by tool and canonical arguments.

A wrapped tool keeps its name and description (they are part of the model's request), so a
model-driven agent sees the same function tools. A recorded result is validated back into a
``ToolOutput``; a recorded failure is raised again under the exception name it was recorded
with, so the new ``tool_result`` carries the same error text.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from magentic_health.errors import LedgerError
from magentic_health.rerun._divergence import Divergence, Watch, current_step
from magentic_health.rerun._recorded import (
    RecordedToolCall,
    ReplayBook,
    tool_arguments_digest,
)
from magentic_health.tools import ToolContext, ToolOutput, ToolSpec


class RecordedToolError(Exception):
    """A tool failure replayed from the ledger (subclassed under the recorded name)."""


def replayed_tool(
    spec: ToolSpec, *, agent: str, book: ReplayBook, watch: Watch, live: bool = False
) -> ToolSpec:
    """``spec`` answering from ``book``; an unmatched call runs the tool for real when
    ``live``, else stops the run as a divergence."""

    def run(ctx: ToolContext) -> ToolOutput:
        arguments = context_arguments(ctx)
        found = book.take_tool_call(spec.name, tool_arguments_digest(arguments))
        if found is not None:
            return served(found)
        if live:
            book.count_live(model=False)
            return spec.run(ctx)
        step = current_step()
        expected = book.expected_tool_call(agent, step, spec.name)
        watch.stop(
            Divergence(
                kind="tool_call",
                agent=agent,
                step=step,
                tool=spec.name,
                actual_digest=tool_arguments_digest(arguments),
                expected_digest=expected.digest if expected else None,
                expected_seq=expected.call_seq if expected else None,
                request=f"tool {spec.name}",
                actual_arguments=arguments,
                expected_arguments=expected.call.arguments if expected else None,
            )
        )

    return ToolSpec(name=spec.name, description=spec.description, run=run)


def context_arguments(ctx: ToolContext) -> dict[str, Any]:
    """The canonical arguments of a call, as ``tool_call`` records them."""
    return {
        "case_id": ctx.case.case_id,
        "instruction": ctx.instruction,
        "upstream": sorted(ctx.upstream),
    }


def served(found: RecordedToolCall) -> ToolOutput:
    """The recorded output, or the recorded failure raised again."""
    error = found.result.error
    if error is not None:
        name, _, message = error.partition(": ")
        raise type(name, (RecordedToolError,), {"__module__": __name__})(message)
    try:
        return ToolOutput.model_validate(found.result.output)
    except ValidationError as exc:
        raise LedgerError(
            f"seq {found.seq}: the recorded {found.result.tool} output is not a tool output "
            f"({exc.errors()[0]['msg']})"
        ) from None
