"""What a ledger says about its run, gathered in one pass: the plan versions and their waves,
checkpoint verdicts, re-plans, model usage per agent and the outcome.

The text views, the JSON output and the HTML page are all rendered from this summary, so they
cannot disagree. Events whose payload does not validate are skipped here (the chain check
reports them).
"""

from __future__ import annotations

from typing import assert_never

from pydantic import BaseModel, ConfigDict, ValidationError

from magentic_health.plan import PlanStep
from magentic_health.trace import (
    AgentReply,
    CheckpointEvent,
    ErrorEvent,
    Final,
    Handoff,
    LedgerEvent,
    ModelCall,
    ModelRetry,
    ProgressLedgerEvent,
    Replan,
    RunFinished,
    RunStarted,
    RunStatus,
    TaskLedgerEvent,
    ToolCall,
    ToolResult,
    TriageEvent,
)

OFFLINE_PROFILE = "offline"


class _Row(BaseModel):
    model_config = ConfigDict(frozen=True)


class RunHeader(_Row):
    """The run as ``run_started`` describes it."""

    run_id: str
    case_id: str
    request: str
    engine: str
    model_profile: str
    config_name: str
    started: str
    documents: int
    parent_run: str | None = None
    case_source: str | None = None
    """The case as the run was given it (a sample case name or a path), when recorded."""

    @property
    def offline(self) -> bool:
        """Whether the answers came from the deterministic offline engine (no language model)."""
        return self.model_profile == OFFLINE_PROFILE


class PlanVersion(_Row):
    """One version of the task ledger's plan; a re-plan adds the next version."""

    seq: int
    version: int
    steps: tuple[PlanStep, ...]
    waves: tuple[tuple[str, ...], ...]


class VerdictRow(_Row):
    """One checkpoint verdict on one attempt of one step (``step`` None: the final answer)."""

    seq: int
    step: str | None
    agent: str | None
    name: str
    attempt: int
    passed: bool
    failures: tuple[str, ...]


class ReplanRow(_Row):
    seq: int
    replans: int
    reason: str


class AgentUsage(_Row):
    """Model calls of one agent, from its ``model_call`` events."""

    agent: str
    calls: int
    prompt_tokens: int
    completion_tokens: int
    total_latency_ms: float

    @property
    def mean_latency_ms(self) -> float:
        return self.total_latency_ms / self.calls if self.calls else 0.0


class RunOutcome(_Row):
    """What ``run_finished`` reports."""

    seq: int
    status: RunStatus
    reason: str | None
    gaps: tuple[str, ...]
    duration_ms: float
    usage: dict[str, dict[str, int]]


class RunSummary(_Row):
    header: RunHeader | None
    plans: tuple[PlanVersion, ...]
    verdicts: tuple[VerdictRow, ...]
    replans: tuple[ReplanRow, ...]
    usage: tuple[AgentUsage, ...]
    outcome: RunOutcome | None
    final_seq: int | None
    errors: tuple[int, ...]
    """The seqs of ``error`` events."""
    invalid: tuple[int, ...]
    """The seqs of events whose payload does not validate (skipped above)."""


class _Usage:
    def __init__(self) -> None:
        self.calls = 0
        self.prompt = 0
        self.completion = 0
        self.latency = 0.0

    def add(self, call: ModelCall) -> None:
        self.calls += 1
        self.prompt += call.usage.get("prompt_tokens", 0)
        self.completion += call.usage.get("completion_tokens", 0)
        self.latency += call.latency_ms


class _Gatherer:
    """Collects the rows of a summary, event by event."""

    def __init__(self) -> None:
        self.header: RunHeader | None = None
        self.plans: list[PlanVersion] = []
        self.verdicts: list[VerdictRow] = []
        self.replans: list[ReplanRow] = []
        self.usage: dict[str, _Usage] = {}
        self.outcome: RunOutcome | None = None
        self.final_seq: int | None = None
        self.errors: list[int] = []
        self.invalid: list[int] = []

    def add(self, event: LedgerEvent) -> None:
        try:
            payload = event.payload()
        except ValidationError:
            self.invalid.append(event.seq)
            return
        seq = event.seq
        match payload:
            case RunStarted():
                self.header = _header(event, payload)
            case TaskLedgerEvent():
                self.plans.append(
                    PlanVersion(
                        seq=seq, version=payload.version, steps=payload.plan, waves=payload.waves
                    )
                )
            case CheckpointEvent():
                self.verdicts.append(
                    VerdictRow(
                        seq=seq,
                        step=event.step,
                        agent=event.agent,
                        name=payload.name,
                        attempt=payload.attempt,
                        passed=payload.passed,
                        failures=payload.failures,
                    )
                )
            case Replan():
                self.replans.append(
                    ReplanRow(seq=seq, replans=payload.replans, reason=payload.reason)
                )
            case ModelCall():
                self.usage.setdefault(event.agent or "-", _Usage()).add(payload)
            case Final():
                self.final_seq = seq
            case RunFinished():
                self.outcome = RunOutcome(
                    seq=seq,
                    status=payload.status,
                    reason=payload.reason,
                    gaps=payload.gaps,
                    duration_ms=payload.duration_ms,
                    usage=payload.usage,
                )
            case ErrorEvent():
                self.errors.append(seq)
            case (
                TriageEvent()
                | Handoff()
                | ToolCall()
                | ToolResult()
                | AgentReply()
                | ProgressLedgerEvent()
                | ModelRetry()
            ):
                pass
            case _:
                assert_never(payload)

    def summary(self) -> RunSummary:
        return RunSummary(
            header=self.header,
            plans=tuple(self.plans),
            verdicts=tuple(self.verdicts),
            replans=tuple(self.replans),
            usage=tuple(
                AgentUsage(
                    agent=agent,
                    calls=u.calls,
                    prompt_tokens=u.prompt,
                    completion_tokens=u.completion,
                    total_latency_ms=u.latency,
                )
                for agent, u in self.usage.items()
            ),
            outcome=self.outcome,
            final_seq=self.final_seq,
            errors=tuple(self.errors),
            invalid=tuple(self.invalid),
        )


def _header(event: LedgerEvent, payload: RunStarted) -> RunHeader:
    return RunHeader(
        run_id=event.run_id,
        case_id=payload.case_id,
        request=payload.request,
        engine=payload.engine,
        model_profile=payload.model_profile,
        config_name=payload.config_name,
        started=event.ts,
        documents=payload.documents,
        parent_run=payload.parent_run,
        case_source=payload.case_source,
    )


def summarize(events: list[LedgerEvent]) -> RunSummary:
    """The summary of a ledger's events (in file order)."""
    gatherer = _Gatherer()
    for event in events:
        gatherer.add(event)
    return gatherer.summary()
