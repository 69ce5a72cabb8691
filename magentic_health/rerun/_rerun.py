"""``rerun``: run a recorded run again with its model calls and tool results served from the
ledger, and compare the new ledger with the original.

The team is rebuilt as the original was: the rule planner when the original's engine was the
offline rule engine, else the LLM planner; tool-only specialists for the offline profile, else
model-driven ones (a team mixing the two is not told apart by the ledger). Every model client
is a ``ReplayModelClient`` and every tool a replayed one. With ``live_from`` only the calls
recorded before that seq are served; the others go to the real tools and to each agent's
``live_clients`` entry, else to ``live_client`` (the command line opens them with
``open_backend``).
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from autogen_core.models import ChatCompletionClient, ModelInfo
from pydantic import BaseModel, ConfigDict, computed_field

from magentic_health._data import resolve_data_dir
from magentic_health.agents import LLMAgent, Specialist, ToolAgent
from magentic_health.config import TeamConfig
from magentic_health.errors import BackendError, InputError
from magentic_health.models import RecordingClient
from magentic_health.planners import ENGINE_LABEL, LLMPlanner, Planner, RulePlanner
from magentic_health.rerun._client import ReplayModelClient
from magentic_health.rerun._compare import LedgerDifference, compare_ledgers
from magentic_health.rerun._divergence import Divergence, InputChange, InStep, Watch
from magentic_health.rerun._inputs import CaseInput, ConfigInput, RerunInputs, load_inputs
from magentic_health.rerun._recorded import Recording, ReplayBook
from magentic_health.rerun._tools import replayed_tool
from magentic_health.team import HealthTeam, RunResult
from magentic_health.tools import get_tool
from magentic_health.trace import Final, LedgerEvent, RunStatus, read_ledger

_LLM_ENGINE = "language-model planner ("


class RerunResult(BaseModel):
    """What a rerun did and how it compares with the original run."""

    model_config = ConfigDict(frozen=True)

    original_run: str
    original_ledger: str
    run_id: str
    ledger_path: str
    live_from: int | None
    status: RunStatus | None
    """The new run's status; None when it stopped at a divergence."""
    limit_hit: bool = False
    final_text: str | None
    same_final_answer: bool
    """The final text and citations are those of the original."""
    divergence: Divergence | None
    input_changes: tuple[InputChange, ...]
    differences: tuple[LedgerDifference, ...]
    """The first difference of each stream of events (see ``compare_ledgers``)."""
    served_model_calls: int
    served_tool_results: int
    live_model_calls: int
    live_tool_calls: int

    @computed_field  # type: ignore[prop-decorator]
    @property
    def reproduced(self) -> bool:
        """The same inputs, every request matched, the same final answer and ledger."""
        return (
            self.divergence is None
            and not self.input_changes
            and self.same_final_answer
            and not self.differences
        )

    @property
    def exit_code(self) -> int:
        """0 reproduced (a live continuation: completed); 1 diverged or differs (live: the run
        failed); 4 a live continuation ended on a limit."""
        if self.live_from is None:
            return 0 if self.reproduced else 1
        if self.status is None or self.status == "failed":
            return 1
        return 4 if self.limit_hit else 0


@dataclass(frozen=True)
class LiveModels:
    """The model clients the live part runs on: each agent's own, else the shared one."""

    shared: ChatCompletionClient | None = None
    per_agent: Mapping[str, ChatCompletionClient] = field(default_factory=dict)

    def of(self, agent: str) -> ChatCompletionClient | None:
        return self.per_agent.get(agent, self.shared)

    def __bool__(self) -> bool:
        return self.shared is not None or bool(self.per_agent)


def no_live_model(started_profile: str, what: str, function: str) -> BackendError:
    """The error for a model run continued from Python without a model client."""
    return BackendError(
        f"{what}: the run used the model profile {started_profile!r} and no model client was "
        f"given to continue it with; pass live_client= to magentic_health.rerun.{function} "
        "(or live_clients=, one per agent, such as open_backend(...).agent_clients)"
    )


def rerun_ledger_path(original: Path, out_dir: Path | None, run_id: str) -> Path:
    """``<out or the original's folder>/<original stem>-rerun-<run id prefix>.jsonl``."""
    folder = out_dir if out_dir is not None else original.parent
    return folder / f"{original.name.removesuffix('.jsonl')}-rerun-{run_id[:8]}.jsonl"


async def arerun(
    ledger: str | os.PathLike[str] | Recording,
    *,
    case: CaseInput | None = None,
    config: ConfigInput | None = None,
    data_dir: str | os.PathLike[str] | None = None,
    out_dir: str | os.PathLike[str] | None = None,
    live_from: int | None = None,
    live_client: ChatCompletionClient | None = None,
    live_clients: Mapping[str, ChatCompletionClient] | None = None,
    model_info: ModelInfo | None = None,
) -> RerunResult:
    """Rerun the run recorded in ``ledger`` (a path, or a ``Recording`` already read); see
    the module doc. ``case`` and ``config`` override where ``run_started`` says they came
    from; ``live_clients`` (by agent name) and ``live_client`` answer the live part;
    ``model_info`` is what the original model client reported (default: the live client's,
    else every capability)."""
    recording = ledger if isinstance(ledger, Recording) else Recording.read(ledger)
    started = recording.started
    live = LiveModels(live_client, live_clients or {})
    if live_from is not None and live_from < 0:
        raise InputError(f"--live-from {live_from}: give a seq of the ledger (0 or more)")
    if live_from is not None and recording.profile != "offline" and not live:
        raise no_live_model(started.model_profile, "--live-from", "rerun")
    folder = Path(out_dir) if out_dir else None
    done = await replay_run(
        recording,
        case=case,
        config=config,
        data_dir=data_dir,
        ledger_path=lambda run_id: rerun_ledger_path(recording.path, folder, run_id),
        live_from=live_from,
        live=live,
        model_info=model_info,
        parent_run=recording.run_id if live_from is not None else started.parent_run,
    )
    result, book, path, run_id = done.result, done.book, done.path, done.run_id
    new = read_ledger(path).events
    return RerunResult(
        original_run=recording.run_id,
        original_ledger=str(recording.path),
        run_id=run_id,
        ledger_path=str(path),
        live_from=live_from,
        status=result.status if result else None,
        limit_hit=result.limit_hit if result else False,
        final_text=result.final_text if result else None,
        same_final_answer=_same_final(recording.final, new),
        divergence=done.watch.divergence,
        input_changes=done.inputs.changes,
        differences=tuple(compare_ledgers(recording.ledger.events, new)),
        served_model_calls=book.served_model_calls,
        served_tool_results=book.served_tool_calls,
        live_model_calls=book.live_model_calls,
        live_tool_calls=book.live_tool_calls,
    )


@dataclass(frozen=True)
class Replayed:
    """A run executed against a ``ReplayBook``; ``result`` is None when it stopped at a
    divergence."""

    inputs: RerunInputs
    book: ReplayBook
    watch: Watch
    run_id: str
    path: Path
    result: RunResult | None


async def replay_run(
    recording: Recording,
    *,
    case: CaseInput | None,
    config: ConfigInput | None,
    data_dir: str | os.PathLike[str] | None,
    ledger_path: Callable[[str], Path],
    live_from: int | None,
    live: LiveModels,
    model_info: ModelInfo | None,
    parent_run: str | None,
    on_event: Callable[[LedgerEvent], None] | None = None,
) -> Replayed:
    """Run ``recording``'s run again, its team rebuilt as the module doc says, serving what
    the book holds; ``ledger_path`` names the new ledger from the new run id. Shared by
    ``rerun`` and ``resume``."""
    started = recording.started
    data = resolve_data_dir(data_dir)
    inputs = load_inputs(started, case=case, config=config, data_dir=data)
    book = ReplayBook(recording, live_from=live_from)
    watch = Watch()
    team = HealthTeam(
        inputs.config,
        data_dir=data,
        planner=_planner(recording, inputs.config, book, watch, live, model_info),
        specialists=_specialists(recording, inputs.config, book, watch, live, model_info),
        model_profile=started.model_profile,
        on_event=on_event,
    )
    run_id = uuid.uuid4().hex
    path = ledger_path(run_id)
    task = asyncio.create_task(
        team.run_case(
            inputs.case,
            ledger_path=path,
            run_id=run_id,
            case_source=inputs.case_source,
            config_source=inputs.config_source,
            parent_run=parent_run,
        )
    )
    watch.attach(task)
    result: RunResult | None = None
    try:
        result = await task
    except asyncio.CancelledError:
        if watch.divergence is None:
            raise
    return Replayed(inputs, book, watch, run_id, path, result)


def rerun(
    ledger: str | os.PathLike[str],
    *,
    case: CaseInput | None = None,
    config: ConfigInput | None = None,
    data_dir: str | os.PathLike[str] | None = None,
    out_dir: str | os.PathLike[str] | None = None,
    live_from: int | None = None,
    live_client: ChatCompletionClient | None = None,
    live_clients: Mapping[str, ChatCompletionClient] | None = None,
    model_info: ModelInfo | None = None,
) -> RerunResult:
    """Synchronous ``arerun`` for scripts (not inside a running event loop)."""
    return asyncio.run(
        arerun(
            ledger,
            case=case,
            config=config,
            data_dir=data_dir,
            out_dir=out_dir,
            live_from=live_from,
            live_client=live_client,
            live_clients=live_clients,
            model_info=model_info,
        )
    )


def _same_final(original: Final | None, new: list[LedgerEvent]) -> bool:
    finals = [p for p in (e.payload() for e in new) if isinstance(p, Final)]
    if original is None or not finals:
        return False
    return (finals[-1].text, finals[-1].citations) == (original.text, original.citations)


def _client(
    agent: str,
    book: ReplayBook,
    watch: Watch,
    live: LiveModels,
    info: ModelInfo | None,
) -> RecordingClient:
    replay = ReplayModelClient(book, watch, agent=agent, live=live.of(agent), model_info=info)
    return RecordingClient(replay, agent=agent)


def _planner(
    recording: Recording,
    config: TeamConfig,
    book: ReplayBook,
    watch: Watch,
    live: LiveModels,
    info: ModelInfo | None,
) -> Planner:
    engine = recording.started.engine
    if engine == ENGINE_LABEL or not engine.startswith(_LLM_ENGINE):
        return RulePlanner()
    name = engine.removeprefix(_LLM_ENGINE).removesuffix(")")
    facilitator = config.facilitator.name
    return LLMPlanner(_client(facilitator, book, watch, live, info), model_name=name)


def _specialists(
    recording: Recording,
    config: TeamConfig,
    book: ReplayBook,
    watch: Watch,
    live: LiveModels,
    info: ModelInfo | None,
) -> dict[str, Specialist]:
    offline = recording.profile == "offline"
    live_tools = book.live_from is not None
    built: dict[str, Specialist] = {}
    for agent in config.specialists:
        tools = [
            replayed_tool(get_tool(t), agent=agent.name, book=book, watch=watch, live=live_tools)
            for t in agent.tools
        ]
        inner: Specialist = (
            ToolAgent(agent, tools=tools)
            if offline
            else LLMAgent(
                agent, model_client=_client(agent.name, book, watch, live, info), tools=tools
            )
        )
        built[agent.name] = InStep(inner)
    return built
