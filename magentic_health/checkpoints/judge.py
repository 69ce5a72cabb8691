"""An optional model-judged checkpoint: a language model reads each claim beside its quotes.

Model mode only (the offline engine has no model; the step runner skips it there). The judge
answers with a ``JudgeVerdict`` (validated with pydantic); an answer that does not validate
fails the checkpoint, since an unread verdict verifies nothing. Its call goes through the
run's recording client, so it is a ``model_call`` in the ledger and counts against the budget.
"""

from __future__ import annotations

from autogen_core.models import SystemMessage, UserMessage
from pydantic import BaseModel, ConfigDict, StrictBool

from magentic_health.checkpoints._base import CheckContext, Verdict, verdict
from magentic_health.reply import SpecialistReply


def judge_system() -> str:
    """The judge's instructions: the versioned template ``prompts/judge.v1.md``."""
    from magentic_health.planners import load_prompt  # here: planners import checkpoints

    return load_prompt("judge").render()


class JudgeVerdict(BaseModel):
    """The judge's answer."""

    model_config = ConfigDict(extra="forbid")

    supported: StrictBool
    """JSON true or false; the string "false" is an error, never read as true."""
    problems: list[str] = []


def judge_prompt(reply: SpecialistReply) -> str:
    """The reply's claims, each with its quotes, and its text."""
    lines = [f"Reply of {reply.agent}:", reply.text.strip()[:4000], "", "Claims:"]
    for i, finding in enumerate(reply.findings):
        quotes = "; ".join(f"[{e.doc_id}] {e.quote!r}" for e in finding.evidence)
        lines.append(f"{i}. {finding.claim} <- {quotes}")
    return "\n".join(lines)


def _parse(content: object) -> JudgeVerdict:
    """Exactly one JSON object, as the planner reads its answers (two objects: which one?)."""
    from magentic_health.planners._llm_json import AnswerError, parse_answer  # import cycle

    if not isinstance(content, str):
        raise ValueError("the judge answered with a tool call")
    try:
        return parse_answer(content, JudgeVerdict)
    except AnswerError as exc:
        raise ValueError("; ".join(exc.errors)) from exc


class ModelJudgeCheckpoint:
    """Asks the run's model whether each claim is supported by its quotes."""

    name = "judge"
    needs_model = True
    """Skipped by the step runner when the run has no model client."""

    async def verify(self, reply: SpecialistReply, ctx: CheckContext) -> Verdict:
        if ctx.model_client is None:
            return verdict(self.name, ["no model client: the judge runs in model mode only"])
        structured = bool(ctx.model_client.model_info.get("structured_output"))
        result = await ctx.model_client.create(
            [
                SystemMessage(content=judge_system()),
                UserMessage(content=judge_prompt(reply), source="user"),
            ],
            json_output=JudgeVerdict if structured else True,
        )
        try:
            answer = _parse(result.content)
        except ValueError as exc:
            message = str(exc).splitlines()[0]
            return verdict(self.name, [f"the judge's answer could not be read: {message}"])
        if answer.supported:
            return verdict(self.name, [])
        return verdict(
            self.name, [f"judge: {p}" for p in answer.problems] or ["judge: unsupported"]
        )
