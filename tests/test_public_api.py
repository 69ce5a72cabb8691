"""The public API is exactly what ``__all__`` says, sorted, and importable."""

from __future__ import annotations

import magentic_health

PUBLIC = {
    "BackendError",
    "BackendRefusedError",
    "Case",
    "CaseError",
    "CaseImage",
    "ConfigError",
    "Document",
    "Evidence",
    "Finding",
    "HealthTeam",
    "InputError",
    "LLMPlanner",
    "LedgerError",
    "LedgerEvent",
    "LimitError",
    "MagenticHealthError",
    "Patient",
    "Planner",
    "RulePlanner",
    "RunResult",
    "SpecialistReply",
    "TeamConfig",
    "arun_case",
    "load_case",
    "load_team_config",
    "read_ledger",
    "run_case",
    "verify_ledger",
}


def test_all_is_sorted_and_is_the_intended_public_api() -> None:
    assert magentic_health.__all__ == sorted(magentic_health.__all__)
    assert set(magentic_health.__all__) == PUBLIC
    for name in magentic_health.__all__:
        assert getattr(magentic_health, name) is not None


def test_error_exit_codes() -> None:
    assert magentic_health.CaseError("x").exit_code == 2
    assert magentic_health.ConfigError("x").exit_code == 2
    assert magentic_health.BackendError("x").exit_code == 3
    assert magentic_health.BackendRefusedError("x").exit_code == 3
    assert magentic_health.LimitError("x").exit_code == 4
