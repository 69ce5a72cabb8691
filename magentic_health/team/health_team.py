"""HealthTeam: the orchestrator loop of DESIGN section 4.

triage -> task ledger -> waves of concurrent steps (each verified at checkpoints) ->
progress ledger after each wave -> re-plan on repeated stalls -> synthesis (verified) ->
run_finished. Every decision is written to the ledger before it takes effect, and every limit
ends the run with an explicit status.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path

from magentic_health.agents import Specialist, ToolAgent
from magentic_health.case import Case
from magentic_health.checkpoints import CheckContext, GroundingCheckpoint
from magentic_health.config import TeamConfig
from magentic_health.plan import TaskLedger, Triage
from magentic_health.planners import (
    FinalAnswer,
    Planner,
    RulePlanner,
    StepOutcome,
    plan_waves,
    ready_steps,
)
from magentic_health.reply import Finding, SpecialistReply
from magentic_health.team._digest import digest, package_versions
from magentic_health.team._result import RunResult
from magentic_health.team._steps import StepRunner
from magentic_health.trace import (
    CheckpointEvent,
    EventPayload,
    Final,
    LedgerEvent,
    LedgerWriter,
    ProgressLedgerEvent,
    Replan,
    RunFinished,
    RunStarted,
    RunStatus,
    TaskLedgerEvent,
    TriageEvent,
)


class _LimitReached(Exception):
    """Internal signal: a run limit ended the loop."""


class HealthTeam:
    """A tumor-board team: one facilitator (the loop below) and configured specialists."""

    def __init__(
        self,
        config: TeamConfig,
        *,
        data_dir: Path,
        planner: Planner | None = None,
        specialists: Mapping[str, Specialist] | None = None,
        model_profile: str = "offline",
        clock: Callable[[], datetime] | None = None,
        on_event: Callable[[LedgerEvent], None] | None = None,
    ) -> None:
        self.config = config
        self.data_dir = data_dir
        self.planner: Planner = planner or RulePlanner()
        self.specialists: Mapping[str, Specialist] = specialists or {
            a.name: ToolAgent(a) for a in config.specialists
        }
        self.model_profile = model_profile
        self._clock = clock
        self._on_event = on_event

    async def run(self, case: Case, *, ledger_path: Path, run_id: str | None = None) -> RunResult:
        """Run the team on ``case``, writing the ledger to ``ledger_path`` as it goes."""
        run_id = run_id or uuid.uuid4().hex
        with LedgerWriter(path=ledger_path, run_id=run_id, clock=self._clock) as writer:
            if self._on_event is not None:
                writer.subscribe(self._on_event)
            run = _Run(team=self, case=case, writer=writer, run_id=run_id)
            return await run.execute()


class _Run:
    """The state of one run: outcomes, counters and the ledger being written."""

    def __init__(self, *, team: HealthTeam, case: Case, writer: LedgerWriter, run_id: str):
        self.team, self.case, self.writer, self.run_id = team, case, writer, run_id
        self.config = team.config
        self.limits = team.config.team.limits
        self.outcomes: dict[str, StepOutcome] = {}
        self.turns = 0
        self.stalls = 0
        self.replans = 0
        self.limit_reason: str | None = None
        self.started = time.perf_counter()
        self.steps = StepRunner(
            case=case,
            data_dir=team.data_dir,
            agents={a.name: a for a in self.config.agents},
            specialists=team.specialists,
            emit=self.emit,
            max_retries=self.limits.max_agent_retries,
            take_turn=self._take_turn,
            settings=self.config.tool_settings,
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

    async def execute(self) -> RunResult:
        self.emit(
            RunStarted(
                case_id=self.case.case_id,
                case_digest=digest(self.case),
                config_digest=digest(self.config),
                config_name=self.config.team.name,
                model_profile=self.team.model_profile,
                engine=self.team.planner.engine,
                request=self.case.request,
                documents=len(self.case.documents),
                package_versions=package_versions(),
            )
        )
        facilitator = self.config.facilitator.name
        triage = await self.team.planner.triage(self.case, self.config)
        self.emit(TriageEvent(**triage.model_dump()), agent=facilitator)
        ledger = await self.team.planner.task_ledger(self.case, self.config, triage)
        self._record_ledger(ledger)
        try:
            async with asyncio.timeout(self.limits.timeout_s):
                ledger = await self._loop(ledger)
        except TimeoutError:
            self.limit_reason = f"time limit reached (timeout_s={self.limits.timeout_s})"
        except _LimitReached:
            pass
        return await self._finish(triage, ledger)

    def _record_ledger(self, ledger: TaskLedger) -> None:
        waves = plan_waves(ledger.plan, max_parallel=self.limits.max_parallel)
        self.emit(
            TaskLedgerEvent(
                version=ledger.version, facts=ledger.facts, plan=ledger.plan, waves=waves
            ),
            agent=self.config.facilitator.name,
        )

    async def _loop(self, ledger: TaskLedger) -> TaskLedger:
        wave = 0
        while True:
            wave += 1
            ready = ready_steps(ledger, self.outcomes)[: self.limits.max_parallel]
            allowed = [s for s in ready if self._take_turn()]
            if ready and not allowed:
                raise _LimitReached
            results = await asyncio.gather(
                *(self.steps.run(s, self.outcomes, wave=wave) for s in allowed)
            )
            self.outcomes.update({o.step.id: o for o in results})
            if not ready and not self._take_turn():  # an idle wave still spends a turn
                raise _LimitReached
            progress = await self.team.planner.progress(
                self.case, self.config, ledger, self.outcomes, wave=wave
            )
            stalled = (
                not progress.is_progress_being_made.answer
                or progress.is_in_loop.answer
                or any(o.status == "failed" and o.step.critical for o in results)
            )
            self.stalls += int(stalled and not progress.is_request_satisfied.answer)
            self.emit(
                ProgressLedgerEvent(wave=wave, stalls=self.stalls, **progress.model_dump()),
                agent=self.config.facilitator.name,
            )
            if progress.is_request_satisfied.answer:
                return ledger
            if self.stalls >= self.limits.max_stalls:
                ledger = await self._replan(ledger)

    async def _replan(self, ledger: TaskLedger) -> TaskLedger:
        if self.replans >= self.limits.max_replans:
            self.limit_reason = f"re-plan limit reached (max_replans={self.limits.max_replans})"
            raise _LimitReached
        self.replans += 1
        reason = f"{self.stalls} stalled wave(s)"
        self.emit(Replan(reason=reason, replans=self.replans), agent=self.config.facilitator.name)
        self.stalls = 0
        new = await self.team.planner.replan(
            self.case, self.config, ledger, self.outcomes, reason=reason
        )
        self._record_ledger(new)
        return new

    def _verify_final(self, final: FinalAnswer) -> tuple[str, ...]:
        reply = SpecialistReply(
            agent=self.config.facilitator.name,
            text=final.text,
            findings=tuple(
                Finding(claim="cited in the final answer", evidence=(ev,)) for ev in final.citations
            ),
        )
        verdict = GroundingCheckpoint().verify(reply, CheckContext(case=self.case, agent=None))
        self.emit(
            CheckpointEvent(
                name="final_grounding", passed=verdict.passed, failures=verdict.failures
            ),
            agent=self.config.facilitator.name,
        )
        return verdict.failures

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

    async def _finish(self, triage: Triage, ledger: TaskLedger) -> RunResult:
        final = await self.team.planner.synthesize(
            self.case, self.config, triage, ledger, self.outcomes
        )
        final_failures = self._verify_final(final)
        engine = self.team.planner.engine
        self.emit(
            Final(text=final.text, citations=final.citations, engine=engine),
            agent=self.config.facilitator.name,
        )
        status = self._status(ledger, final_failures)
        failed = sorted(s for s, o in self.outcomes.items() if o.status == "failed")
        reason = (
            self.limit_reason
            or (f"failed steps: {', '.join(failed)}" if failed else None)
            or ("the final answer failed grounding" if final_failures else None)
        )
        usage = {
            name: {"prompt_tokens": 0, "completion_tokens": 0}
            for name in (self.config.facilitator.name, *triage.selected)
        }
        usage["total"] = {"prompt_tokens": 0, "completion_tokens": 0}
        duration = (time.perf_counter() - self.started) * 1000
        self.emit(
            RunFinished(
                status=status,
                gaps=final.gaps,
                usage=usage,
                duration_ms=round(duration, 3),
                reason=reason,
            ),
            agent=self.config.facilitator.name,
        )
        return RunResult(
            run_id=self.run_id,
            case_id=self.case.case_id,
            request=self.case.request,
            status=status,
            reason=reason,
            limit_hit=self.limit_reason is not None,
            engine=engine,
            complexity=triage.complexity,
            selected=triage.selected,
            final_text=final.text,
            citations=final.citations,
            gaps=final.gaps,
            ledger_path=str(self.writer.path),
            usage=usage,
            duration_ms=duration,
            tool_data={
                tool: data
                for outcome in self.outcomes.values()
                if outcome.status == "done" and outcome.reply is not None
                for tool, data in outcome.reply.data.items()
            },
        )
