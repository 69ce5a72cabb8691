"""``resume``: continue a run that was killed before it finished, from its ledger.

The resumed run is a new run with a new ledger (the crashed file is never appended to): the
run is executed again with every model call and tool result the crashed ledger recorded
served from it (a rerun live from its last complete event), then goes on live, tools for real
and model calls on each agent's ``live_clients`` entry, else ``live_client`` (an offline run
needs none). Its ``run_started`` names the crashed run as ``parent_run``. A ledger that
finished is refused: ``rerun`` reproduces it.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from autogen_core.models import ChatCompletionClient, ModelInfo
from pydantic import BaseModel, ConfigDict

from magentic_health.errors import LedgerError
from magentic_health.rerun._divergence import InputChange
from magentic_health.rerun._inputs import CaseInput, ConfigInput
from magentic_health.rerun._recorded import Recording
from magentic_health.rerun._rerun import LiveModels, no_live_model, replay_run
from magentic_health.team import RunResult
from magentic_health.trace import LedgerEvent, RunFinished


class ResumeResult(BaseModel):
    """The resumed run, and how much of the crashed run it reused."""

    model_config = ConfigDict(frozen=True)

    run: RunResult
    """The resumed run's result, as ``run_case`` returns it (``run.parent_run`` is the
    crashed run)."""
    parent_run: str
    parent_ledger: str
    recorded_events: int
    """The crashed ledger's complete events."""
    truncated_tail: bool
    """The crashed ledger's last line was incomplete (cut by the kill) and was ignored."""
    input_changes: tuple[InputChange, ...]
    """The case or configuration differ from what the crashed run recorded (its recorded
    results then match less, and more runs live)."""
    served_model_calls: int
    served_tool_results: int
    live_model_calls: int
    live_tool_calls: int

    @property
    def reused(self) -> int:
        """Recorded results served instead of being produced again."""
        return self.served_model_calls + self.served_tool_results

    def describe(self) -> str:
        """One line: what was reused from which run, and what ran live."""
        return (
            f"Resumed run {self.parent_run}: reused {self.reused} recorded results "
            f"({self.served_tool_results} tool results, {self.served_model_calls} model calls) "
            f"of its {self.recorded_events} complete events; live: {self.live_tool_calls} tool "
            f"calls, {self.live_model_calls} model calls"
        )

    def summary(self) -> dict[str, Any]:
        """The resume fields for JSON output (without ``run``)."""
        return self.model_dump(mode="json", exclude={"run"}) | {"reused": self.reused}


def resume_ledger_path(crashed: Path, out_dir: Path | None, run_id: str) -> Path:
    """``<out or the crashed ledger's folder>/<crashed stem>-resumed-<run id prefix>.jsonl``."""
    folder = out_dir if out_dir is not None else crashed.parent
    return folder / f"{crashed.name.removesuffix('.jsonl')}-resumed-{run_id[:8]}.jsonl"


def read_crashed(ledger: str | os.PathLike[str] | Recording) -> Recording:
    """The crashed run's verified recording (read unless given); a finished run is a
    one-line ``LedgerError``."""
    recording = (
        ledger
        if isinstance(ledger, Recording)
        else Recording.read(ledger, purpose="resuming a run")
    )
    for event in reversed(recording.ledger.events):
        payload = event.payload()
        if isinstance(payload, RunFinished):
            raise LedgerError(
                f"{recording.path}: run {recording.run_id} already finished ({payload.status}); "
                f"nothing to resume: use 'magentic-health rerun {recording.path}' to reproduce it"
            )
    return recording


async def aresume(
    ledger: str | os.PathLike[str] | Recording,
    *,
    case: CaseInput | None = None,
    config: ConfigInput | None = None,
    data_dir: str | os.PathLike[str] | None = None,
    out_dir: str | os.PathLike[str] | None = None,
    live_client: ChatCompletionClient | None = None,
    live_clients: Mapping[str, ChatCompletionClient] | None = None,
    model_info: ModelInfo | None = None,
    on_event: Callable[[LedgerEvent], None] | None = None,
) -> ResumeResult:
    """Continue the crashed run recorded in ``ledger`` (a path, or a ``Recording`` already
    read); see the module doc. ``case`` and ``config`` override where ``run_started`` says
    they came from; the new ledger goes to ``out_dir`` (default: beside ``ledger``);
    ``on_event`` sees each new event."""
    recording = read_crashed(ledger)
    live = LiveModels(live_client, live_clients or {})
    if recording.profile != "offline" and not live:
        raise no_live_model(recording.started.model_profile, "--resume", "resume")
    folder = Path(out_dir) if out_dir is not None else None
    complete = len(recording.ledger.events)
    done = await replay_run(
        recording,
        case=case,
        config=config,
        data_dir=data_dir,
        ledger_path=lambda run_id: resume_ledger_path(recording.path, folder, run_id),
        live_from=complete,
        live=live,
        model_info=model_info,
        parent_run=recording.run_id,
        on_event=on_event,
    )
    assert done.result is not None  # live from the end: every unmatched request runs live
    return ResumeResult(
        run=done.result,
        parent_run=recording.run_id,
        parent_ledger=str(recording.path),
        recorded_events=complete,
        truncated_tail=recording.ledger.truncated_tail is not None,
        input_changes=done.inputs.changes,
        served_model_calls=done.book.served_model_calls,
        served_tool_results=done.book.served_tool_calls,
        live_model_calls=done.book.live_model_calls,
        live_tool_calls=done.book.live_tool_calls,
    )


def resume(
    ledger: str | os.PathLike[str],
    *,
    case: CaseInput | None = None,
    config: ConfigInput | None = None,
    data_dir: str | os.PathLike[str] | None = None,
    out_dir: str | os.PathLike[str] | None = None,
    live_client: ChatCompletionClient | None = None,
    live_clients: Mapping[str, ChatCompletionClient] | None = None,
    model_info: ModelInfo | None = None,
    on_event: Callable[[LedgerEvent], None] | None = None,
) -> ResumeResult:
    """Synchronous ``aresume`` for scripts (not inside a running event loop)."""
    return asyncio.run(
        aresume(
            ledger,
            case=case,
            config=config,
            data_dir=data_dir,
            out_dir=out_dir,
            live_client=live_client,
            live_clients=live_clients,
            model_info=model_info,
            on_event=on_event,
        )
    )
