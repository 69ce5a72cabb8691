"""The model side of a live continuation on the command line (``rerun --live-from``,
``run --resume``): the clients are opened with ``open_backend``, on the recorded profile
unless ``--model`` names another, and closed when the run ends.

An offline run continues on the offline engine and a model run on a model: a run recorded
offline continued with a model profile, or a model run continued with ``--model offline``, is
refused (``InputError``), as the plan and replies of the one cannot be continued by the other.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from autogen_core.models import ChatCompletionClient

from magentic_health._cli_options import ModelOptions
from magentic_health.backends import Backend, LoadedModels, load_models, open_backend
from magentic_health.errors import InputError
from magentic_health.rerun._inputs import CaseInput, ConfigInput, team_config
from magentic_health.rerun._recorded import Recording
from magentic_health.rerun._rerun import RerunResult, arerun
from magentic_health.rerun._resume import ResumeResult, aresume, read_crashed
from magentic_health.trace import LedgerEvent

RECORDED_REASON = "the profile the run recorded"


@dataclass(frozen=True)
class LiveModel:
    """What the live part runs on: ``--model`` (None: the recorded profile) and the options
    that say where profiles come from and what overrides them."""

    model: str | None = None
    options: ModelOptions = field(default_factory=ModelOptions)

    @property
    def given(self) -> list[str]:
        """The model options given on the command line, as flags."""
        o = self.options
        flags = {
            "--model": self.model,
            "--models": o.models,
            "--base-url": o.base_url,
            "--model-name": o.model_name,
        }
        return [flag for flag, value in flags.items() if value is not None]


@contextlib.asynccontextmanager
async def live_clients(
    recording: Recording,
    live: LiveModel,
    *,
    config: ConfigInput | None,
    on_backend: Callable[[Backend], None] | None = None,
) -> AsyncIterator[Mapping[str, ChatCompletionClient]]:
    """The live part's model clients by agent name (none for an offline run), closed on exit;
    ``on_backend`` hears which backend was opened and why."""
    backend = open_live_backend(recording, live, config=config)
    if backend is None:
        yield {}
        return
    try:
        check_engine(recording, live.model or recording.profile, offline=False)  # what auto chose
        if on_backend is not None:
            on_backend(backend)
        yield backend.agent_clients
    finally:
        await backend.close()


def open_live_backend(
    recording: Recording, live: LiveModel, *, config: ConfigInput | None
) -> Backend | None:
    """The backend of the live part; None when an offline run continues offline. A change of
    engine (see the module doc) is refused before any client is made, but for what ``auto``
    chooses: the caller checks that (``live_clients`` does, and closes the backend)."""
    recorded = recording.profile
    if recorded == "offline" and live.model in (None, "offline"):
        return None
    loaded = load_models(live.options.models)
    choice = live.model or recorded
    if live.model is None and choice not in loaded.file.profiles:
        raise InputError(
            f"{recording.path}: the run used the model profile "
            f"{recording.started.model_profile!r}, which is not in {loaded.source}: pass "
            f"--models FILE with a profile {choice!r}, or --model PROFILE"
        )
    known = loaded.file.profiles.get(choice)
    if known is not None:  # auto, or an unknown name open_backend reports, is checked after
        check_engine(recording, choice, offline=known.kind == "offline")
    backend = _open(recording, live, loaded, choice, config)
    if backend.offline:  # auto chose no model: it owns no client to close
        check_engine(recording, choice, offline=True)
        return None
    if live.model is None:
        backend.reason = RECORDED_REASON
    return backend


def _open(
    recording: Recording,
    live: LiveModel,
    loaded: LoadedModels,
    choice: str,
    config: ConfigInput | None,
) -> Backend:
    team, _ = team_config(recording.started, config)
    o = live.options
    return open_backend(
        choice,
        agents=[a.name for a in team.agents],
        models=loaded,
        base_url=o.base_url,
        model_name=o.model_name,
        ledger=o.ledger,
    )


def check_engine(recording: Recording, choice: str, *, offline: bool) -> None:
    """``InputError`` when ``choice`` (offline or not) cannot continue the recorded run."""
    label = recording.started.model_profile
    if offline and recording.profile != "offline":
        raise InputError(
            f"--model {choice!r}: the run used the model profile {label!r}; the offline "
            "engine cannot continue it (its plan and replies come from a model): leave --model "
            "out to continue on that profile, or name another model profile"
        )
    if not offline and recording.profile == "offline":
        raise InputError(
            f"--model {choice!r}: the run used the offline engine; a model cannot continue it "
            "(its plan and replies come from rules): leave --model out, or give --model offline"
        )


async def rerun_with_backend(
    ledger: Path,
    live: LiveModel,
    *,
    live_from: int | None,
    case: CaseInput | None,
    config: ConfigInput | None,
    data_dir: Path | None,
    out_dir: Path | None,
    on_backend: Callable[[Backend], None] | None = None,
) -> RerunResult:
    """``arerun`` as ``rerun`` runs it: with ``live_from``, the live part on ``live``."""
    if live_from is None:
        given = live.given
        if given:
            raise InputError(f"{given[0]} applies to the live part: give --live-from SEQ too")
        return await arerun(ledger, case=case, config=config, data_dir=data_dir, out_dir=out_dir)
    recording = Recording.read(ledger)
    async with live_clients(recording, live, config=config, on_backend=on_backend) as clients:
        return await arerun(
            recording,  # read once
            case=case,
            config=config,
            data_dir=data_dir,
            out_dir=out_dir,
            live_from=live_from,
            live_clients=clients,
        )


async def resume_with_backend(
    ledger: Path,
    live: LiveModel,
    *,
    config: ConfigInput | None,
    data_dir: Path | None,
    out_dir: Path | None,
    on_event: Callable[[LedgerEvent], None] | None = None,
    on_backend: Callable[[Backend], None] | None = None,
) -> ResumeResult:
    """``aresume`` as ``run --resume`` runs it: the rest of the run on ``live``."""
    recording = read_crashed(ledger)  # a finished run is refused before a backend is opened
    async with live_clients(recording, live, config=config, on_backend=on_backend) as clients:
        return await aresume(
            recording,  # read once
            config=config,
            data_dir=data_dir,
            out_dir=out_dir,
            live_clients=clients,
            on_event=on_event,
        )
