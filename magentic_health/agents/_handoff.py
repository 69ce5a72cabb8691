"""The hand-off message a model-driven specialist receives: the instruction, the outputs of
the steps it depends on, and the outputs of its own argument-free tools (run beforehand, so
the agent normally answers in one model call)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from magentic_health.agents._base import HandoffRequest
from magentic_health.tools import ToolOutput

_MAX_FINDINGS = 60


def render_output(name: str, output: ToolOutput) -> str:
    """A tool output as markdown, with each finding's doc_id and quote to cite verbatim."""
    lines = [f"### {name}", output.text.strip() or "(no text)"]
    if output.findings:
        lines.append("Findings you may cite (doc_id and quote exactly as given):")
        for finding in output.findings[:_MAX_FINDINGS]:
            cites = "; ".join(f"[{e.doc_id}] {e.quote!r}" for e in finding.evidence)
            lines.append(f"- {finding.claim} <- {cites}")
        if len(output.findings) > _MAX_FINDINGS:
            lines.append(f"- ... {len(output.findings) - _MAX_FINDINGS} more not shown")
    if output.gaps:
        lines.append("Gaps: " + "; ".join(output.gaps))
    return "\n".join(lines)


def _section(title: str, outputs: Mapping[str, ToolOutput]) -> Iterable[str]:
    if outputs:
        yield f"## {title}"
        yield from (render_output(name, out) for name, out in outputs.items())


def handoff_message(request: HandoffRequest, grounding: Mapping[str, ToolOutput]) -> str:
    """The one user message of a hand-off (retries restate it with the failures to fix)."""
    case = request.case
    docs = ", ".join(d.id for d in case.documents[:200])
    parts = [
        f"Step {request.step.id} of the tumor board plan, for case {case.case_id}.",
        f"Instruction: {request.step.instruction}",
        f"Documents of this case (doc_id): {docs}",
    ]
    if request.feedback:
        parts.append(
            "Your previous reply failed these checks; fix them in this reply:\n"
            + "\n".join(f"- {f}" for f in request.feedback)
        )
    parts += _section("Outputs of the steps you depend on", request.upstream)
    parts += _section("Your tools' outputs (already run for you)", grounding)
    return "\n\n".join(parts)
