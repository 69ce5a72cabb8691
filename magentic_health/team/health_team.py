"""HealthTeam: the tumor-board team as an AutoGen ``Team`` (DESIGN section 4).

``run(task=...)`` / ``run_stream(task=...)`` answer a request about the team's case (given at
construction or with ``set_case``) and yield AutoGen messages made from the ledger events as
they are written, ending with a ``TaskResult``. A second ``run`` on the same case is a
follow-up: a new ledger whose ``run_started.parent_run`` names the previous run, with the
verified outcomes so far reused where the same work is planned again. ``run_case`` is the
same loop for callers that want the ``RunResult`` (the command line).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import threading
import uuid
from collections.abc import AsyncGenerator, Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from autogen_agentchat.base import TaskResult, Team
from autogen_agentchat.messages import BaseAgentEvent, BaseChatMessage, TextMessage
from autogen_core import CancellationToken
from autogen_core.models import ChatCompletionClient

from magentic_health._data import resolve_data_dir
from magentic_health.agents import Specialist
from magentic_health.backends import Pricing, reporting
from magentic_health.case import Case
from magentic_health.config import TeamConfig
from magentic_health.errors import InputError
from magentic_health.logs import run_observers
from magentic_health.models import UsageMeter, recording
from magentic_health.planners import Planner
from magentic_health.team._build import build_planner, build_specialists
from magentic_health.team._messages import MessageConverter, TeamMessage
from magentic_health.team._result import RunResult
from magentic_health.team._run import Run, RunSetup
from magentic_health.team._state import PriorOutcome, TeamState
from magentic_health.trace import ErrorEvent, LedgerEvent, LedgerWriter, ModelCall, ModelRetry

_SAFE = re.compile(r"[^A-Za-z0-9_.-]+")
Subscriber = Callable[[LedgerEvent], None]


def default_ledger_path(case: Case, out_dir: Path, run_id: str) -> Path:
    """``<out>/<case_id>-<UTC time>-<run id prefix>.jsonl``: unique, sortable, readable."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return out_dir / f"{_SAFE.sub('_', case.case_id)}-{stamp}-{run_id[:8]}.jsonl"


def _same_case(a: Case | None, b: Case) -> bool:
    """Whether two cases hold the same patient and documents (the request may differ)."""
    return a is not None and (a.case_id, a.patient, a.documents, a.images) == (
        b.case_id,
        b.patient,
        b.documents,
        b.images,
    )


def _task_messages(
    task: str | BaseChatMessage | Sequence[BaseChatMessage] | None,
) -> list[BaseChatMessage]:
    if task is None:
        return []
    if isinstance(task, str):
        return [TextMessage(source="user", content=task)]
    if isinstance(task, BaseChatMessage):
        return [task]
    return list(task)


def _stop_reason(result: RunResult) -> str:
    return result.status + (f": {result.reason}" if result.reason else "")


class HealthTeam(Team):
    """A tumor-board team: the orchestrator loop over configured specialists.

    Offline by default (``RulePlanner`` and tool-only ``ToolAgent``s). With ``model_client``
    (or ``agent_clients`` per agent name) the specialists are ``LLMAgent``s, each client
    wrapped in a ``RecordingClient`` so every model call is recorded and metered.
    """

    def __init__(
        self,
        config: TeamConfig,
        *,
        data_dir: Path | None = None,
        case: Case | None = None,
        planner: Planner | None = None,
        specialists: Mapping[str, Specialist] | None = None,
        model_client: ChatCompletionClient | None = None,
        agent_clients: Mapping[str, ChatCompletionClient] | None = None,
        model_profile: str | None = None,
        pricing: Pricing | None = None,
        ledger_dir: Path = Path("ledgers"),
        clock: Callable[[], datetime] | None = None,
        on_event: Subscriber | None = None,
    ) -> None:
        self.config = config
        self.data_dir = data_dir if data_dir is not None else resolve_data_dir()
        self.ledger_dir = ledger_dir
        clients = dict(agent_clients or {})
        modelled = model_client is not None or bool(clients)
        self.specialists: Mapping[str, Specialist] = specialists or build_specialists(
            config, model_client, clients
        )
        self.planner: Planner = planner or build_planner(config, model_client, clients)
        self.model_profile = model_profile or ("model" if modelled else "offline")
        self.pricing = pricing
        """Prices of the model's tokens: ``run_finished`` then carries the cost."""
        self._clock = clock
        self._on_event = on_event
        self._initial_case = case
        self._state = TeamState(case=case)
        self._gate = asyncio.Event()
        self._gate.set()
        self._running = False
        self.last_result: RunResult | None = None

    # -- Team: identity -------------------------------------------------------------------

    @property
    def name(self) -> str:
        return self.config.team.name

    @property
    def description(self) -> str:
        return self.config.facilitator.description

    @property
    def case(self) -> Case | None:
        """The case the team works on."""
        return self._state.case

    def set_case(self, case: Case) -> None:
        """Work on ``case``; earlier outcomes are kept only if it holds the same documents."""
        if _same_case(self._state.case, case):
            self._state = self._state.model_copy(update={"case": case})
        else:
            self._state = TeamState(case=case)

    # -- running ----------------------------------------------------------------------------

    async def run_case(
        self,
        case: Case,
        *,
        ledger_path: Path,
        run_id: str | None = None,
        cancellation_token: CancellationToken | None = None,
        subscriber: Subscriber | None = None,
        case_source: str | None = None,
        config_source: str | None = None,
        parent_run: str | None = None,
    ) -> RunResult:
        """Run the team on ``case`` (a follow-up if it is the team's case), writing the ledger
        to ``ledger_path`` as it goes. ``case_source`` and ``config_source`` (where the case
        and configuration came from) are recorded in ``run_started`` for ``rerun``;
        ``parent_run`` names the parent run instead of the team's previous run."""
        if self._running:
            raise InputError("the team is already running; await the current run first")
        self.set_case(case)
        run_id = run_id or uuid.uuid4().hex
        meter = UsageMeter()
        setup = RunSetup(
            config=self.config,
            data_dir=self.data_dir,
            planner=self.planner,
            specialists=self.specialists,
            model_profile=self.model_profile,
            meter=meter,
            pricing=self.pricing,
            prior=self._state.outcomes,
            parent_run=parent_run or self._state.last_run_id,
            case_source=case_source,
            config_source=config_source,
            gate=self._gate,
            cancellation_token=cancellation_token,
        )
        self._running = True
        try:
            with LedgerWriter(path=ledger_path, run_id=run_id, clock=self._clock) as writer:
                for callback in (self._on_event, subscriber, *run_observers()):
                    if callback is not None:
                        writer.subscribe(callback)
                run = Run(setup, case=case, writer=writer, run_id=run_id)

                def record(
                    payload: ModelCall | ModelRetry | ErrorEvent, agent: str, step: str | None
                ) -> None:
                    writer.append(payload, agent=agent, step=step)

                with recording(record, meter), reporting(record):
                    result = await run.execute()
        finally:
            self._running = False
        self._remember(case, run, result)
        return result

    def _remember(self, case: Case, run: Run, result: RunResult) -> None:
        new = tuple(
            PriorOutcome(run_id=result.run_id, request=case.request, outcome=o)
            for o in run.outcomes.values()
            if o.status == "done" and o.wave > 0  # wave 0: reused from an earlier run
        )
        state = self._state
        self._state = state.model_copy(
            update={
                "outcomes": (*state.outcomes, *new),
                "run_ids": (*state.run_ids, result.run_id),
                "ledger_paths": (*state.ledger_paths, result.ledger_path),
                "last_counters": run.counters(),
            }
        )
        self.last_result = result

    def _case_for(self, messages: Sequence[BaseChatMessage]) -> Case:
        case = self._state.case
        if case is None:
            raise InputError(
                "the team has no case: pass case= to HealthTeam(...) or call team.set_case(case)"
            )
        request = "\n".join(m.to_text() for m in messages).strip()
        return case.with_request(request) if request else case

    async def run(
        self,
        *,
        task: str | BaseChatMessage | Sequence[BaseChatMessage] | None = None,
        cancellation_token: CancellationToken | None = None,
        output_task_messages: bool = True,
    ) -> TaskResult:
        """Answer ``task`` (a request about the team's case); see ``run_stream``."""
        result: TaskResult | None = None
        async for item in self.run_stream(
            task=task,
            cancellation_token=cancellation_token,
            output_task_messages=output_task_messages,
        ):
            if isinstance(item, TaskResult):
                result = item
        assert result is not None  # run_stream always ends with a TaskResult
        return result

    async def run_stream(
        self,
        *,
        task: str | BaseChatMessage | Sequence[BaseChatMessage] | None = None,
        cancellation_token: CancellationToken | None = None,
        output_task_messages: bool = True,
    ) -> AsyncGenerator[BaseAgentEvent | BaseChatMessage | TaskResult, None]:
        """Yield the task message(s), then the run's events and messages as they happen, then
        the ``TaskResult`` (``stop_reason`` is the status and its reason)."""
        task_messages = _task_messages(task)
        case = self._case_for(task_messages)
        messages: list[BaseAgentEvent | BaseChatMessage] = []
        if output_task_messages:
            messages += task_messages
            for message in task_messages:
                yield message
        queue: asyncio.Queue[TeamMessage | None] = asyncio.Queue()
        runner = self._start(case, queue, cancellation_token)
        try:
            while (item := await queue.get()) is not None:
                messages.append(item)
                yield item
            result = await runner
        finally:
            if not runner.done():
                runner.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await runner
        yield TaskResult(messages=messages, stop_reason=_stop_reason(result))

    def _start(
        self,
        case: Case,
        queue: asyncio.Queue[TeamMessage | None],
        cancellation_token: CancellationToken | None,
    ) -> asyncio.Task[RunResult]:
        loop = asyncio.get_running_loop()
        loop_thread = threading.get_ident()
        converter = MessageConverter(self.config.facilitator.name)

        def put(item: TeamMessage | None) -> None:
            if threading.get_ident() == loop_thread:
                queue.put_nowait(item)
            else:
                loop.call_soon_threadsafe(queue.put_nowait, item)

        def on_event(event: LedgerEvent) -> None:
            for message in converter.convert(event):
                put(message)

        async def go() -> RunResult:
            run_id = uuid.uuid4().hex
            try:
                return await self.run_case(
                    case,
                    ledger_path=default_ledger_path(case, self.ledger_dir, run_id),
                    run_id=run_id,
                    cancellation_token=cancellation_token,
                    subscriber=on_event,
                )
            finally:
                put(None)

        runner = asyncio.create_task(go())
        if cancellation_token is not None:
            cancellation_token.link_future(runner)
        return runner

    # -- Team: control and state --------------------------------------------------------------

    async def reset(self) -> None:
        """Forget every run: outcomes, run ids, counters; the construction-time case stays."""
        if self._running:
            raise InputError("the team is running; reset it after the run ends")
        self._state = TeamState(case=self._initial_case)
        self.last_result = None
        self._gate.set()

    async def pause(self) -> None:
        """Hold the run before its next wave (steps already handed off finish); time paused
        does not count toward ``timeout_s``."""
        self._gate.clear()

    async def resume(self) -> None:
        """Let a paused run go on."""
        self._gate.set()

    async def save_state(self) -> Mapping[str, Any]:
        """The case, the verified outcomes so far, the run ids, ledger paths and the last
        run's counters, as JSON-compatible data."""
        return self._state.model_dump(mode="json")

    async def load_state(self, state: Mapping[str, Any]) -> None:
        """Continue from ``save_state`` output: the next run is a follow-up of the last one."""
        if self._running:
            raise InputError("the team is running; load state after the run ends")
        self._state = TeamState.model_validate(dict(state))
