"""One run of the orchestrator loop (DESIGN section 4) and its counters.

triage -> task ledger (earlier verified outcomes reused on a follow-up) -> waves of concurrent
steps (each verified at checkpoints) -> progress ledger after each wave -> re-plan on repeated
stalls -> synthesis (verified) -> run_finished. Every decision is written to the ledger before
it takes effect; every limit (turns, stalls and re-plans, tokens, time) ends the run with an
explicit status. Counters live here, so a new run always starts from zero.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from autogen_core import CancellationToken
from autogen_core.models import ChatCompletionClient

from magentic_health.agents import Specialist
from magentic_health.backends import Pricing
from magentic_health.case import Case
from magentic_health.checkpoints import CheckContext, ConsistencyCheckpoint, conflict_topics
from magentic_health.config import TeamConfig
from magentic_health.errors import BackendError
from magentic_health.models import UsageMeter
from magentic_health.plan import TaskLedger, Triage
from magentic_health.planners import FinalAnswer, Planner, StepOutcome, plan_waves, ready_steps
from magentic_health.reply import Finding, SpecialistReply
from magentic_health.team._digest import case_digest, digest, package_versions
from magentic_health.team._followup import reuse_prior
from magentic_health.team._result import RunResult
from magentic_health.team._state import PriorOutcome, RunCounters
from magentic_health.team._steps import StepRunner, verify
from magentic_health.trace import (
    CheckpointEvent,
    EventPayload,
    Final,
    LedgerWriter,
    ProgressLedgerEvent,
    Replan,
    RunCost,
    RunFinished,
    RunStarted,
    RunStatus,
    TaskLedgerEvent,
    TriageEvent,
)


class _LimitReached(Exception):
    """Internal signal: a run limit ended the loop."""


@dataclass
class RunSetup:
    """What one run needs from its team."""

    config: TeamConfig
    data_dir: Path
    planner: Planner
    specialists: Mapping[str, Specialist]
    model_profile: str
    meter: UsageMeter
    pricing: Pricing | None = None
    """Prices of the model's tokens, for the cost in ``run_finished``."""
    prior: Sequence[PriorOutcome] = ()
    parent_run: str | None = None
    case_source: str | None = None
    """Where the case came from, as given (recorded in ``run_started`` for ``rerun``)."""
    config_source: str | None = None
    gate: asyncio.Event = field(default_factory=asyncio.Event)
    """Set while the team may run; cleared by ``pause()`` (checked before each wave)."""
    cancellation_token: CancellationToken | None = None
    judge_client: ChatCompletionClient | None = None
    """The model for model-judged checkpoints; by default the model planner's own client."""

    def checkpoint_client(self) -> ChatCompletionClient | None:
        """The judge's client: ``judge_client``, else the model planner's (offline: None)."""
        if self.judge_client is not None:
            return self.judge_client
        client = getattr(self.planner, "model_client", None)
        return client if isinstance(client, ChatCompletionClient) else None


class Run:
    """The state of one run: outcomes, counters and the ledger being written."""

    def __init__(self, setup: RunSetup, *, case: Case, writer: LedgerWriter, run_id: str):
        self.setup, self.case, self.writer, self.run_id = setup, case, writer, run_id
        self.config = setup.config
        self.limits = setup.config.team.limits
        self.planner = setup.planner
        self.outcomes: dict[str, StepOutcome] = {}
        self.turns = self.stalls = self.replans = 0
        self.limit_reason: str | None = None
        self.started = time.perf_counter()
        self._deadline: asyncio.Timeout | None = None
        self.steps = StepRunner(
            case=case,
            data_dir=setup.data_dir,
            agents={a.name: a for a in self.config.agents},
            specialists=setup.specialists,
            emit=self.emit,
            max_retries=self.limits.max_agent_retries,
            take_turn=self._take_turn,
            settings=self.config.tool_settings,
            orchestrator=self.config.facilitator.name,
            cancellation_token=setup.cancellation_token,
            model_client=setup.checkpoint_client(),
        )

    @property
    def facilitator(self) -> str:
        return self.config.facilitator.name

    def counters(self) -> RunCounters:
        return RunCounters(
            turns=self.turns,
            stalls=self.stalls,
            replans=self.replans,
            usage=self.setup.meter.report([self.facilitator]),
        )

    def emit(
        self, payload: EventPayload, *, agent: str | None = None, step: str | None = None
    ) -> None:
        self.writer.append(payload, agent=agent, step=step)

    def _take_turn(self) -> bool:
        if self.turns >= self.limits.max_turns:
            self.limit_reason = f"turn limit reached (max_turns={self.limits.max_turns})"
            return False
        self.turns += 1
        return True

    def _check_budget(self) -> None:
        used = self.setup.meter.total_tokens
        if used > self.limits.max_total_tokens:
            self.limit_reason = (
                f"token budget exceeded ({used} tokens used, including the orchestrator's; "
                f"max_total_tokens={self.limits.max_total_tokens})"
            )
            raise _LimitReached

    def _run_started(self) -> RunStarted:
        return RunStarted(
            case_id=self.case.case_id,
            case_digest=case_digest(self.case),
            config_digest=digest(self.config),
            config_name=self.config.team.name,
            model_profile=self.setup.model_profile,
            engine=self.planner.engine,
            request=self.case.request,
            documents=len(self.case.documents),
            package_versions=package_versions(),
            parent_run=self.setup.parent_run,
            case_source=self.setup.case_source,
            config_source=self.setup.config_source,
        )

    async def execute(self) -> RunResult:
        """Run the loop; a model backend that fails for good ends the run ``failed`` (with
        ``run_finished``) and raises ``BackendError`` naming the ledger."""
        self.emit(self._run_started())
        triage: Triage | None = None
        try:
            triage = await self.planner.triage(self.case, self.config)
            return await self._execute(triage)
        except BackendError as exc:
            self.emit(
                RunFinished(
                    status="failed",
                    usage=self._usage(triage),
                    duration_ms=round((time.perf_counter() - self.started) * 1000, 3),
                    reason=f"model backend failed: {exc}",
                    cost=self._cost(triage),
                ),
                agent=self.facilitator,
            )
            raise BackendError(f"{exc} (the ledger is kept: {self.writer.path})") from exc

    async def _execute(self, triage: Triage) -> RunResult:
        self.emit(TriageEvent(**triage.model_dump()), agent=self.facilitator)
        ledger = await self.planner.task_ledger(self.case, self.config, triage)
        ledger, seeded = reuse_prior(
            ledger,
            self.setup.prior,
            request=self.case.request,
            specialists=self.setup.specialists,
        )
        self.outcomes.update(seeded)
        self._record_ledger(ledger)
        try:
            async with asyncio.timeout(self.limits.timeout_s) as deadline:
                self._deadline = deadline
                self._check_budget()
                ledger = await self._loop(ledger)
        except TimeoutError:
            self.limit_reason = f"time limit reached (timeout_s={self.limits.timeout_s})"
        except _LimitReached:
            pass
        except asyncio.CancelledError:
            self._cancelled(triage)
            raise
        return await self._finish(triage, ledger)

    def _record_ledger(self, ledger: TaskLedger) -> None:
        waves = plan_waves(ledger.plan, max_parallel=self.limits.max_parallel)
        self.emit(
            TaskLedgerEvent(
                version=ledger.version, facts=ledger.facts, plan=ledger.plan, waves=waves
            ),
            agent=self.facilitator,
        )

    async def _wait_if_paused(self) -> None:
        """Wait while the team is paused; paused time does not count toward ``timeout_s``."""
        if self.setup.gate.is_set():
            return
        start = time.monotonic()
        await self.setup.gate.wait()
        when = self._deadline.when() if self._deadline is not None else None
        if self._deadline is not None and when is not None:
            self._deadline.reschedule(when + (time.monotonic() - start))

    async def _loop(self, ledger: TaskLedger) -> TaskLedger:
        wave = 0
        while True:
            wave += 1
            await self._wait_if_paused()
            ready = ready_steps(ledger, self.outcomes)[: self.limits.max_parallel]
            allowed = [s for s in ready if self._take_turn()]
            if ready and not allowed:
                raise _LimitReached
            runs = [self.steps.run(s, self.outcomes, wave=wave) for s in allowed]
            results = self._cross_check(await _all_or_none(runs))
            self.outcomes.update({o.step.id: o for o in results})
            if not ready and not self._take_turn():  # an idle wave still spends a turn
                raise _LimitReached
            progress = await self.planner.progress(
                self.case, self.config, ledger, self.outcomes, wave=wave
            )
            stalled = (
                not progress.is_progress_being_made.answer
                or progress.is_in_loop.answer
                or any(o.status == "failed" for o in results)  # failed twice at checkpoints
            )
            self.stalls += int(stalled and not progress.is_request_satisfied.answer)
            self.emit(
                ProgressLedgerEvent(wave=wave, stalls=self.stalls, **progress.model_dump()),
                agent=self.facilitator,
            )
            self._check_budget()  # the orchestrator's own tokens count too
            if progress.is_request_satisfied.answer:
                return ledger
            if self.stalls >= self.limits.max_stalls:
                ledger = await self._replan(ledger)

    async def _replan(self, ledger: TaskLedger) -> TaskLedger:
        if self.replans >= self.limits.max_replans:
            self.limit_reason = f"re-plan limit reached (max_replans={self.limits.max_replans})"
            raise _LimitReached
        self.replans += 1
        failed = sorted(sid for sid, o in self.outcomes.items() if o.status == "failed")
        reason = f"{self.stalls} stalled wave(s)" + (
            f"; failed steps: {', '.join(failed)}" if failed else ""
        )
        self.emit(Replan(reason=reason, replans=self.replans), agent=self.facilitator)
        self.stalls = 0
        new = await self.planner.replan(
            self.case, self.config, ledger, self.outcomes, reason=reason
        )
        self._record_ledger(new)
        return new

    def _cross_check(self, results: list[StepOutcome]) -> list[StepOutcome]:
        """Steps of one wave ran side by side, so none saw the others at its checkpoint:
        each done reply is checked against those before it in plan order. A disagreement is
        a failed ``consistency`` verdict on the later step; both replies are kept (neither
        can be preferred) and the conflict is flagged for the summary."""
        checked: list[StepOutcome] = []
        for outcome in results:
            agent = self.config.agent(outcome.step.agent)
            earlier = {o.step.id: o.reply for o in checked if o.status == "done" and o.reply}
            if (
                outcome.status != "done"
                or outcome.reply is None
                or not earlier
                or agent is None
                or "consistency" not in agent.checkpoints
            ):
                checked.append(outcome)
                continue
            ctx = CheckContext(case=self.case, agent=agent, prior=earlier)
            verdict = ConsistencyCheckpoint().verify(outcome.reply, ctx)
            if not verdict.passed:
                self.emit(
                    CheckpointEvent(name=verdict.name, passed=False, failures=verdict.failures),
                    agent=outcome.step.agent,
                    step=outcome.step.id,
                )
                topics = tuple(conflict_topics(verdict.failures))
                outcome = outcome.model_copy(update={"conflicts": topics})
            checked.append(outcome)
        return checked

    async def _verify_final(self, final: FinalAnswer) -> tuple[str, ...]:
        """The facilitator's checkpoints on the synthesis (``agent=None``), each recorded as
        ``final_<name>``."""
        reply = SpecialistReply(
            agent=self.facilitator,
            text=final.text,
            findings=tuple(
                Finding(claim="cited in the final answer", evidence=(ev,)) for ev in final.citations
            ),
            gaps=final.gaps,
        )
        ctx = CheckContext(
            case=self.case,
            agent=None,
            prior={s: o.reply for s, o in self.outcomes.items() if o.status == "done" and o.reply},
            model_client=self.steps.model_client,
        )
        failures: list[str] = []
        for verdict in await verify(reply, self.config.facilitator.checkpoints, ctx):
            self.emit(
                CheckpointEvent(
                    name=f"final_{verdict.name}", passed=verdict.passed, failures=verdict.failures
                ),
                agent=self.facilitator,
            )
            failures += [f"{verdict.name}: {f}" for f in verdict.failures]
        return tuple(failures)

    def _status(self, ledger: TaskLedger, final_failures: tuple[str, ...]) -> RunStatus:
        done = [o for o in self.outcomes.values() if o.status == "done"]
        if not done:
            return "failed"
        unfinished = len(done) < len(self.outcomes) or any(
            s.id not in self.outcomes for s in ledger.plan
        )
        if self.limit_reason or final_failures or unfinished:
            return "partial"
        return "completed"

    def _reason(self, final_failures: tuple[str, ...]) -> str | None:
        failed = sorted(s for s, o in self.outcomes.items() if o.status == "failed")
        return (
            self.limit_reason
            or (f"failed steps: {', '.join(failed)}" if failed else None)
            or ("the final answer failed its checkpoints" if final_failures else None)
        )

    def _usage(self, triage: Triage | None) -> dict[str, dict[str, int]]:
        agents = (self.facilitator, *(triage.selected if triage else ()))
        return self.setup.meter.report(agents)

    def _cost(self, triage: Triage | None) -> RunCost | None:
        pricing = self.setup.pricing
        return pricing.cost(self._usage(triage)) if pricing is not None else None

    def _cancelled(self, triage: Triage) -> None:
        self.emit(
            RunFinished(
                status="partial" if self.outcomes else "failed",
                usage=self._usage(triage),
                duration_ms=round((time.perf_counter() - self.started) * 1000, 3),
                reason="cancelled by the caller",
                cost=self._cost(triage),
            ),
            agent=self.facilitator,
        )

    async def _finish(self, triage: Triage, ledger: TaskLedger) -> RunResult:
        final = await self.planner.synthesize(self.case, self.config, triage, ledger, self.outcomes)
        final_failures = await self._verify_final(final)
        self.emit(
            Final(text=final.text, citations=final.citations, engine=self.planner.engine),
            agent=self.facilitator,
        )
        status = self._status(ledger, final_failures)
        reason = self._reason(final_failures)
        usage = self._usage(triage)
        cost = self._cost(triage)
        duration = (time.perf_counter() - self.started) * 1000
        self.emit(
            RunFinished(
                status=status,
                gaps=final.gaps,
                usage=usage,
                duration_ms=round(duration, 3),
                reason=reason,
                cost=cost,
            ),
            agent=self.facilitator,
        )
        return RunResult(
            run_id=self.run_id,
            parent_run=self.setup.parent_run,
            case_id=self.case.case_id,
            request=self.case.request,
            status=status,
            reason=reason,
            limit_hit=self.limit_reason is not None,
            engine=self.planner.engine,
            complexity=triage.complexity,
            selected=triage.selected,
            final_text=final.text,
            citations=final.citations,
            gaps=final.gaps,
            ledger_path=str(self.writer.path),
            usage=usage,
            cost=cost,
            duration_ms=duration,
            tool_data={
                tool: data
                for outcome in self.outcomes.values()
                if outcome.status == "done" and outcome.reply is not None
                for tool, data in outcome.reply.data.items()
            },
        )


async def _all_or_none(runs: list[Coroutine[Any, Any, StepOutcome]]) -> list[StepOutcome]:
    """The wave's outcomes, in order. When one step raises (a model backend that refuses
    every call), the others are cancelled and awaited before the error goes on, so nothing
    writes to the ledger after the run's ``run_finished``."""
    tasks = [asyncio.ensure_future(run) for run in runs]
    try:
        return list(await asyncio.gather(*tasks))
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
