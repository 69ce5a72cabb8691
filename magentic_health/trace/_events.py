"""Ledger events (DESIGN section 6): one typed payload per event type, and the envelope.

A payload's ``type`` tag becomes the envelope's ``type``; the rest of the payload is the
envelope's ``data``. ``EVENT_ADAPTER`` validates ``{"type": ..., **data}`` back into a payload.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, TypeAdapter

from magentic_health._construct import construct_trusted
from magentic_health.config import Complexity
from magentic_health.plan import BoolAnswer, Exclusion, Facts, NextAnswer, PlanStep
from magentic_health.reply import Evidence, Finding

RunStatus = Literal["completed", "partial", "failed"]


class _Payload(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class RunStarted(_Payload):
    type: Literal["run_started"] = "run_started"
    case_id: str
    case_digest: str
    config_digest: str
    config_name: str
    model_profile: str
    engine: str
    """What produces the answers, e.g. "offline rule engine (deterministic, no language model)"."""
    request: str
    documents: int
    package_versions: dict[str, str]
    parent_run: str | None = None
    case_source: str | None = None
    """The case as it was given (a sample case name or a path), for ``rerun``; None when the
    caller passed a loaded ``Case`` (older ledgers lack it too)."""
    config_source: str | None = None
    """The team configuration file as it was given; None for the default configuration or a
    ``TeamConfig`` passed as an object."""


class TriageEvent(_Payload):
    type: Literal["triage"] = "triage"
    complexity: Complexity
    intents: tuple[str, ...]
    selected: tuple[str, ...]
    rationale: str
    excluded: tuple[Exclusion, ...] = ()


class TaskLedgerEvent(_Payload):
    type: Literal["task_ledger"] = "task_ledger"
    version: int
    facts: Facts
    plan: tuple[PlanStep, ...]
    waves: tuple[tuple[str, ...], ...]
    """Step ids grouped into the waves they will run in."""


class Handoff(_Payload):
    type: Literal["handoff"] = "handoff"
    to: str
    instruction: str
    inputs: tuple[str, ...] = ()
    """Ids of the completed steps whose outputs are handed over."""
    attempt: int = 1
    wave: int = 0


class ModelCall(_Payload):
    type: Literal["model_call"] = "model_call"
    request_digest: str
    response: dict[str, Any]
    usage: dict[str, int]
    latency_ms: float
    model: str | None = None
    """The model (or Azure deployment) that answered, as the client names it; None when the
    client names none (a scripted model) and in ledgers written before this field."""


class ModelRetry(_Payload):
    """A model call that failed transiently and is tried again after ``wait_s``."""

    type: Literal["model_retry"] = "model_retry"
    attempt: int
    """The attempt that failed (1 for the first call)."""
    reason: Literal["rate_limited", "server_error", "timeout", "connection", "invalid_response"]
    status: int | None = None
    """The HTTP status, when the server answered."""
    wait_s: float
    retry_after_s: float | None = None
    """What the server asked for (Retry-After / retry-after-ms), before our cap."""


class ToolCall(_Payload):
    type: Literal["tool_call"] = "tool_call"
    tool: str
    arguments: dict[str, Any]


class ToolResult(_Payload):
    type: Literal["tool_result"] = "tool_result"
    tool: str
    output: dict[str, Any]
    duration_ms: float
    error: str | None = None


class AgentReply(_Payload):
    type: Literal["agent_reply"] = "agent_reply"
    text: str
    findings: tuple[Finding, ...]
    gaps: tuple[str, ...]
    attempt: int = 1


class CheckpointEvent(_Payload):
    type: Literal["checkpoint"] = "checkpoint"
    name: str
    passed: bool
    failures: tuple[str, ...] = ()
    attempt: int = 1


class ProgressLedgerEvent(_Payload):
    type: Literal["progress_ledger"] = "progress_ledger"
    wave: int
    is_request_satisfied: BoolAnswer
    is_in_loop: BoolAnswer
    is_progress_being_made: BoolAnswer
    next: NextAnswer
    stalls: int = 0


class Replan(_Payload):
    type: Literal["replan"] = "replan"
    reason: str
    replans: int


class Final(_Payload):
    type: Literal["final"] = "final"
    text: str
    citations: tuple[Evidence, ...]
    engine: str


class RunCost(BaseModel):
    """What a run's tokens cost at the configured prices, per agent and in total."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    currency: str
    per_agent: dict[str, float]
    total: float


class RunFinished(_Payload):
    type: Literal["run_finished"] = "run_finished"
    status: RunStatus
    gaps: tuple[str, ...] = ()
    usage: dict[str, dict[str, int]]
    """Tokens per agent and ``total``, each ``{"prompt_tokens": n, "completion_tokens": n}``."""
    duration_ms: float
    reason: str | None = None
    cost: RunCost | None = None
    """Set when the model profile has prices (older ledgers lack it)."""


class ErrorEvent(_Payload):
    type: Literal["error"] = "error"
    message: str
    kind: str


EventPayload = Annotated[
    RunStarted
    | TriageEvent
    | TaskLedgerEvent
    | Handoff
    | ModelCall
    | ModelRetry
    | ToolCall
    | ToolResult
    | AgentReply
    | CheckpointEvent
    | ProgressLedgerEvent
    | Replan
    | Final
    | RunFinished
    | ErrorEvent,
    Field(discriminator="type"),
]
EVENT_ADAPTER: TypeAdapter[EventPayload] = TypeAdapter(EventPayload)
EVENT_TYPES: tuple[str, ...] = (
    "run_started",
    "triage",
    "task_ledger",
    "handoff",
    "model_call",
    "model_retry",
    "tool_call",
    "tool_result",
    "agent_reply",
    "checkpoint",
    "progress_ledger",
    "replan",
    "final",
    "run_finished",
    "error",
)

GENESIS_HASH = "0" * 64


class LedgerEvent(BaseModel):
    """One line of a ledger file: the envelope around a payload."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    v: Literal[1] = 1
    seq: int = Field(ge=0)
    ts: str
    run_id: str
    type: str
    agent: str | None = None
    step: str | None = None
    data: dict[str, Any]
    prev_hash: str
    hash: str
    _payload: Any = PrivateAttr(default=None)
    """The typed payload this event was written from, when known (saves re-validating)."""
    _as_written: bool = PrivateAttr(default=False)
    """Read from a line exactly as the writer wrote it, whose hash checked out on the bytes
    read; ``_problem`` is then its payload's validation problem (None: valid)."""
    _problem: str | None = PrivateAttr(default=None)

    def payload(self) -> EventPayload:
        """The typed payload of this event."""
        # read from pydantic's store of private values: ``self._payload`` takes pydantic's
        # slow attribute path, which costs more than a small event's whole rendering
        private = self.__pydantic_private__
        known: EventPayload | None = private.get("_payload") if private else None
        if known is not None:
            return known
        return EVENT_ADAPTER.validate_python({"type": self.type, **self.data})

    def __eq__(self, other: object) -> bool:
        """Events are equal when their envelopes are (the payload cache does not count)."""
        if not isinstance(other, LedgerEvent):
            return NotImplemented
        return self.__dict__ == other.__dict__

    def __hash__(self) -> int:
        return hash(self.hash)

    @classmethod
    def written(cls, envelope: dict[str, Any], payload: EventPayload) -> LedgerEvent:
        """An event the writer built itself from ``payload`` (trusted: not re-validated)."""
        return construct_trusted(cls, envelope, _payload=payload)
