"""The inputs of the run being rerun: its case and team configuration, checked by digest.

``run_started`` says where they came from (``case_source``, ``config_source``) and what they
were (``case_digest``, ``config_digest``). A digest that differs is reported, not fatal: the
rerun goes on so the user sees where the change leads.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from magentic_health.case import Case, load_case
from magentic_health.config import TeamConfig, default_config_path, load_team_config
from magentic_health.errors import CaseError
from magentic_health.rerun._divergence import InputChange
from magentic_health.team._digest import case_digest, digest
from magentic_health.trace import RunStarted

CaseInput = Case | str | os.PathLike[str]
ConfigInput = TeamConfig | str | os.PathLike[str]


@dataclass(frozen=True)
class RerunInputs:
    case: Case
    config: TeamConfig
    case_source: str | None
    config_source: str | None
    changes: tuple[InputChange, ...]


def load_inputs(
    started: RunStarted,
    *,
    case: CaseInput | None,
    config: ConfigInput | None,
    data_dir: Path,
) -> RerunInputs:
    """The case (with the recorded request) and configuration, from the overrides given or
    from ``run_started``; ``changes`` lists the digests that differ."""
    loaded, case_source = _case(started, case, data_dir)
    team, config_source = team_config(started, config)
    changes = []
    actual_case = case_digest(loaded)
    if actual_case != started.case_digest:
        changes.append(InputChange(name="case", expected=started.case_digest, actual=actual_case))
    actual_config = digest(team)
    if actual_config != started.config_digest:
        changes.append(
            InputChange(name="config", expected=started.config_digest, actual=actual_config)
        )
    return RerunInputs(loaded, team, case_source, config_source, tuple(changes))


def _case(started: RunStarted, given: CaseInput | None, data_dir: Path) -> tuple[Case, str | None]:
    if isinstance(given, Case):
        case, source = given, None
    else:
        source = os.fspath(given) if given is not None else started.case_source
        if source is None:
            raise CaseError(
                "the ledger does not say where its case came from (the run was given a loaded "
                "case); pass the case with --case"
            )
        case = load_case(source, data_dir=data_dir)
    if case.request != started.request:
        case = case.with_request(started.request)
    return case, source


def team_config(started: RunStarted, given: ConfigInput | None) -> tuple[TeamConfig, str | None]:
    """The team configuration (``given``, else the one ``run_started`` names) and its source;
    the recorded run's, live trial search included, when that is what its digest says."""
    if isinstance(given, TeamConfig):
        return given, None
    source = os.fspath(given) if given is not None else started.config_source
    team = load_team_config(source if source is not None else default_config_path())
    if digest(team) != started.config_digest:  # the run may have searched trials live
        settings = team.tool_settings
        trials = settings.clinical_trials.model_copy(update={"live": True})
        live = team.model_copy(
            update={"tool_settings": settings.model_copy(update={"clinical_trials": trials})}
        )
        if digest(live) == started.config_digest:
            return live, source
    return team, source
