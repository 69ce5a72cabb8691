"""The hand-off message a model-driven specialist receives: the instruction, the outputs of
the steps it depends on, and the outputs of its own argument-free tools (run beforehand, so
the agent normally answers in one model call).

Each output and each finding is shown once. A step that ran several tools hands over its one
reply under each tool's name, and an aggregating tool (the report) repeats the findings of
the steps it gathers; showing them again would only add prompt tokens (on the sample cases
the report writer's hand-off was half repeats)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from magentic_health._once import first_mentions
from magentic_health.agents._base import HandoffRequest
from magentic_health.reply import Finding
from magentic_health.tools import ToolOutput

_MAX_FINDINGS = 60


def render_output(name: str, output: ToolOutput, *, shown: set[str] | None = None) -> str:
    """A tool output as markdown, with each finding's doc_id and quote to cite verbatim.

    ``shown``, when given, holds the finding lines already rendered earlier in the same
    message: those findings are counted instead of repeated, and the lines rendered here are
    added to it."""
    lines = [f"### {name}", output.text.strip() or "(no text)"]
    fresh, repeated, more = first_mentions(
        (_finding_line(f) for f in output.findings),
        shown if shown is not None else set(),
        _MAX_FINDINGS,
    )
    if fresh:
        lines.append("Findings you may cite (doc_id and quote exactly as given):")
        lines += fresh
        if more:
            lines.append(f"- ... {more} more not shown")
    if repeated:
        lines.append(f"Findings listed above that this output also reports: {repeated}")
    if output.gaps:
        lines.append("Gaps: " + "; ".join(output.gaps))
    return "\n".join(lines)


def _finding_line(finding: Finding) -> str:
    cites = "; ".join(f"[{e.doc_id}] {e.quote!r}" for e in finding.evidence)
    return f"- {finding.claim} <- {cites}"


def _same(a: ToolOutput, b: ToolOutput) -> bool:
    """Whether two outputs show the same thing (data aside): one step's reply under two tools."""
    return a.text == b.text and a.findings == b.findings and a.gaps == b.gaps


def _grouped(outputs: Mapping[str, ToolOutput]) -> list[tuple[list[str], ToolOutput]]:
    """The outputs with each distinct one once, under the names of every tool that gave it."""
    groups: list[tuple[list[str], ToolOutput]] = []
    for name, output in outputs.items():
        group = next((g for g in groups if _same(g[1], output)), None)
        if group is None:
            groups.append(([name], output))
        else:
            group[0].append(name)
    return groups


def _section(title: str, outputs: Mapping[str, ToolOutput], shown: set[str]) -> Iterable[str]:
    if outputs:
        yield f"## {title}"
        for names, output in _grouped(outputs):
            yield render_output(", ".join(names), output, shown=shown)


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
    shown: set[str] = set()
    parts += _section("Outputs of the steps you depend on", request.upstream, shown)
    parts += _section("Your tools' outputs (already run for you)", grounding, shown)
    return "\n\n".join(parts)
