"""Running one plan step: hand-off, the agent's work, checkpoints, one retry on failure."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from autogen_core import CancellationToken
from autogen_core.models import ChatCompletionClient

from magentic_health.agents import EventSink, HandoffRequest, ReplyContractError, Specialist
from magentic_health.case import Case
from magentic_health.checkpoints import CheckContext, Verdict, get_checkpoint, needs_model
from magentic_health.config import AgentConfig
from magentic_health.errors import BackendRefusedError
from magentic_health.models import in_step
from magentic_health.plan import PlanStep
from magentic_health.planners import StepOutcome
from magentic_health.reply import SpecialistReply
from magentic_health.tools import ToolOutput, ToolSettings
from magentic_health.trace import AgentReply, CheckpointEvent, ErrorEvent, Handoff


def upstream_outputs(step: PlanStep, outcomes: Mapping[str, StepOutcome]) -> dict[str, ToolOutput]:
    """Tool outputs of the step's completed dependencies; failed steps hand over nothing."""
    upstream: dict[str, ToolOutput] = {}
    for dep in step.depends_on:
        outcome = outcomes.get(dep)
        if outcome is None or outcome.status != "done" or outcome.reply is None:
            continue
        reply = outcome.reply
        for tool, data in reply.data.items():
            upstream[tool] = ToolOutput(
                text=reply.text, findings=reply.findings, gaps=reply.gaps, data=data
            )
    return upstream


def prior_replies(
    step: PlanStep, outcomes: Mapping[str, StepOutcome]
) -> dict[str, SpecialistReply]:
    """The verified replies of every other step finished so far, by step id."""
    return {
        sid: o.reply
        for sid, o in outcomes.items()
        if sid != step.id and o.status == "done" and o.reply is not None
    }


async def verify(reply: SpecialistReply, names: Sequence[str], ctx: CheckContext) -> list[Verdict]:
    """Run the named checkpoints on a reply, in order; those that need a model are skipped
    when the run has none (the offline engine)."""
    verdicts: list[Verdict] = []
    for name in names:
        checkpoint = get_checkpoint(name)
        if needs_model(checkpoint) and ctx.model_client is None:
            continue
        result = checkpoint.verify(reply, ctx)
        verdicts.append(await result if inspect.isawaitable(result) else result)
    return verdicts


@dataclass
class StepRunner:
    """Runs steps against one case, recording every hand-off, reply and verdict."""

    case: Case
    data_dir: Path
    agents: Mapping[str, AgentConfig]
    specialists: Mapping[str, Specialist]
    emit: EventSink
    max_retries: int
    take_turn: Callable[[], bool]
    """Claims one turn of the run's budget; False when the turn limit is reached."""
    settings: ToolSettings
    orchestrator: str = "Orchestrator"
    cancellation_token: CancellationToken | None = None
    model_client: ChatCompletionClient | None = None
    """For model-judged checkpoints; None on the offline engine."""

    async def run(
        self, step: PlanStep, outcomes: Mapping[str, StepOutcome], *, wave: int
    ) -> StepOutcome:
        """Run one step; every model call made inside is attributed to it."""
        with in_step(step.id):
            return await self._run(step, outcomes, wave=wave)

    async def _run(
        self, step: PlanStep, outcomes: Mapping[str, StepOutcome], *, wave: int
    ) -> StepOutcome:
        feedback: tuple[str, ...] = ()
        upstream = upstream_outputs(step, outcomes)
        ctx = CheckContext(
            case=self.case,
            agent=self.agents[step.agent],
            prior=prior_replies(step, outcomes),
            model_client=self.model_client,
        )
        inputs = tuple(d for d in step.depends_on if d in outcomes and outcomes[d].status == "done")
        for attempt in range(1, self.max_retries + 2):
            if attempt > 1 and not self.take_turn():
                return StepOutcome(
                    step=step,
                    status="failed",
                    wave=wave,
                    failures=(*feedback, "turn limit reached before the retry"),
                )
            instruction = step.instruction
            if feedback:
                instruction += "\nFix these checkpoint failures: " + "; ".join(feedback)
            self.emit(
                Handoff(
                    to=step.agent,
                    instruction=instruction,
                    inputs=inputs,
                    attempt=attempt,
                    wave=wave,
                ),
                agent=step.agent,
                step=step.id,
            )
            reply = await self._ask(step, upstream, feedback, attempt)
            if reply is None:
                return StepOutcome(
                    step=step,
                    status="failed",
                    wave=wave,
                    failures=("the agent raised an error (see the ledger)",),
                )
            if isinstance(reply, ReplyContractError):
                failures = self._contract_failed(step, reply, attempt)
            else:
                failures = await self._check(step, reply, attempt, ctx)
            if not failures:
                return StepOutcome(step=step, status="done", reply=reply, wave=wave)
            feedback = failures
        return StepOutcome(step=step, status="failed", failures=feedback, wave=wave)

    async def _ask(
        self,
        step: PlanStep,
        upstream: dict[str, ToolOutput],
        feedback: tuple[str, ...],
        attempt: int,
    ) -> SpecialistReply | ReplyContractError | None:
        """The agent's reply; a reply that breaks the contract is returned as the error, and
        an agent that crashes gives None (both recorded in the ledger)."""
        request = HandoffRequest(
            step=step,
            case=self.case,
            data_dir=self.data_dir,
            upstream=upstream,
            feedback=feedback,
            attempt=attempt,
            settings=self.settings,
            orchestrator=self.orchestrator,
            cancellation_token=self.cancellation_token,
        )
        try:
            reply = await self.specialists[step.agent].handle(request, emit=self.emit)
        except ReplyContractError as exc:
            return exc
        except BackendRefusedError:
            raise  # every later call would be refused too: the run ends (exit 3)
        except Exception as exc:  # one agent's crash ends its step, not the run
            self.emit(
                ErrorEvent(message=f"{type(exc).__name__}: {exc}", kind="agent_error"),
                agent=step.agent,
                step=step.id,
            )
            return None
        self.emit(
            AgentReply(text=reply.text, findings=reply.findings, gaps=reply.gaps, attempt=attempt),
            agent=step.agent,
            step=step.id,
        )
        return reply

    def _contract_failed(
        self, step: PlanStep, error: ReplyContractError, attempt: int
    ) -> tuple[str, ...]:
        self.emit(
            CheckpointEvent(
                name="contract", passed=False, failures=error.failures, attempt=attempt
            ),
            agent=step.agent,
            step=step.id,
        )
        return tuple(f"contract: {f}" for f in error.failures)

    async def _check(
        self, step: PlanStep, reply: SpecialistReply, attempt: int, ctx: CheckContext
    ) -> tuple[str, ...]:
        failures: list[str] = []
        for verdict in await verify(reply, self.agents[step.agent].checkpoints, ctx):
            self.emit(
                CheckpointEvent(
                    name=verdict.name,
                    passed=verdict.passed,
                    failures=verdict.failures,
                    attempt=attempt,
                ),
                agent=step.agent,
                step=step.id,
            )
            failures += [f"{verdict.name}: {f}" for f in verdict.failures]
        return tuple(failures)
