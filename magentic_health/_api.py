"""The one-call entry points for scripts and notebooks, shared by the command line."""

from __future__ import annotations

import asyncio
import os
import re
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from magentic_health._data import resolve_data_dir
from magentic_health.backends import Backend, LoadedModels, open_backend
from magentic_health.case import Case, load_case
from magentic_health.config import TeamConfig, default_config_path, load_team_config
from magentic_health.errors import InputError
from magentic_health.team import HealthTeam, RunResult
from magentic_health.tools.report import export_format, report_from_data
from magentic_health.tools.report import export_report as write_report
from magentic_health.trace import LedgerEvent

MODEL_PROFILES = ("offline", "auto", "azure", "openai", "openai-compatible", "replay")
_SAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def _with_live_trials(config: TeamConfig) -> TeamConfig:
    settings = config.tool_settings
    trials = settings.clinical_trials.model_copy(update={"live": True})
    return config.model_copy(
        update={"tool_settings": settings.model_copy(update={"clinical_trials": trials})}
    )


def export_report(result: RunResult, formats: Sequence[str]) -> list[Path]:
    """Write the run's tumor board report beside its ledger in each format (md, html, docx).

    Raises ``InputError`` when the run produced no report (ReportCreation was not selected).
    """
    data = result.tool_data.get("report_export")
    if data is None:
        raise InputError(
            "--export: this run produced no tumor board report (ReportCreation was not "
            "selected); ask for one, e.g. --request 'Prepare the tumor board review'"
        )
    report = report_from_data(data)
    ledger = Path(result.ledger_path)
    stem = ledger.name.removesuffix(".jsonl")
    return [
        write_report(
            report,
            export_format(fmt),
            ledger.with_name(f"{stem}.report.{fmt}"),
            engine=result.engine,
        )
        for fmt in formats
    ]


def ledger_path_for(case: Case, out_dir: Path, run_id: str) -> Path:
    """``<out>/<case_id>-<UTC time>-<run id prefix>.jsonl``: unique, sortable, readable."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return out_dir / f"{_SAFE.sub('_', case.case_id)}-{stamp}-{run_id[:8]}.jsonl"


async def arun_case(
    case: Case | str | os.PathLike[str],
    *,
    request: str | None = None,
    config: TeamConfig | str | os.PathLike[str] | None = None,
    model: str = "offline",
    data_dir: str | os.PathLike[str] | None = None,
    out_dir: str | os.PathLike[str] = "ledgers",
    on_event: Callable[[LedgerEvent], None] | None = None,
    live_trials: bool = False,
    models: LoadedModels | str | os.PathLike[str] | None = None,
    base_url: str | None = None,
    model_name: str | None = None,
    ledger: str | os.PathLike[str] | None = None,
    backend: Backend | None = None,
    on_backend: Callable[[Backend], None] | None = None,
) -> RunResult:
    """Load a case (a path, a sample case name, or a ``Case``) and run the team on it.

    Use this form inside notebooks, where an event loop is already running.
    ``live_trials`` also queries ClinicalTrials.gov (network) besides the local trial set.
    ``model`` is a profile of ``models`` (default ``configs/models.yaml``) or ``auto``;
    ``base_url`` and ``model_name`` override the profile's; ``ledger`` is what ``replay``
    answers from. ``backend`` (from ``open_backend``) replaces all of these; ``on_backend``
    hears which backend was chosen and why before the run starts.
    """
    if request is not None and not request.strip():
        raise InputError(
            "--request: the request is empty; ask a question, e.g. "
            "'Prepare the tumor board review' or 'What is the current stage?'"
        )
    data = resolve_data_dir(data_dir)
    team_config = (
        config
        if isinstance(config, TeamConfig)
        else load_team_config(config if config is not None else default_config_path())
    )
    if live_trials:
        team_config = _with_live_trials(team_config)
    loaded = case if isinstance(case, Case) else load_case(case, request=request, data_dir=data)
    if request is not None and loaded.request != request:
        loaded = loaded.with_request(request)
    opened = backend or open_backend(
        model,
        agents=[a.name for a in team_config.agents],
        models=models,
        base_url=base_url,
        model_name=model_name,
        ledger=ledger,
    )
    if on_backend is not None:
        on_backend(opened)
    run_id = uuid.uuid4().hex
    path = ledger_path_for(loaded, Path(out_dir), run_id)
    team = HealthTeam(
        team_config,
        data_dir=data,
        agent_clients=opened.agent_clients,
        model_profile=opened.label,
        pricing=opened.pricing,
        on_event=on_event,
    )
    try:
        return await team.run_case(
            loaded,
            ledger_path=path,
            run_id=run_id,
            case_source=None if isinstance(case, Case) else os.fspath(case),
            config_source=os.fspath(config) if isinstance(config, str | os.PathLike) else None,
        )
    finally:
        if backend is None:
            await opened.close()


def run_case(
    case: Case | str | os.PathLike[str],
    *,
    request: str | None = None,
    config: TeamConfig | str | os.PathLike[str] | None = None,
    model: str = "offline",
    data_dir: str | os.PathLike[str] | None = None,
    out_dir: str | os.PathLike[str] = "ledgers",
    on_event: Callable[[LedgerEvent], None] | None = None,
    live_trials: bool = False,
    models: LoadedModels | str | os.PathLike[str] | None = None,
    base_url: str | None = None,
    model_name: str | None = None,
    ledger: str | os.PathLike[str] | None = None,
    backend: Backend | None = None,
    on_backend: Callable[[Backend], None] | None = None,
) -> RunResult:
    """Synchronous ``arun_case`` for scripts (not inside a running event loop)."""
    return asyncio.run(
        arun_case(
            case,
            request=request,
            config=config,
            model=model,
            data_dir=data_dir,
            out_dir=out_dir,
            on_event=on_event,
            live_trials=live_trials,
            models=models,
            base_url=base_url,
            model_name=model_name,
            ledger=ledger,
            backend=backend,
            on_backend=on_backend,
        )
    )
