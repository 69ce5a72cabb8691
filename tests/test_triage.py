"""Triage and planning by the rule planner: different requests select different teams."""

from __future__ import annotations

import pytest

from magentic_health.config import TeamConfig, default_config_path, load_team_config
from magentic_health.planners import RulePlanner, plan_waves
from tests._factories import synthetic_case


@pytest.fixture(scope="module")
def team() -> TeamConfig:
    return load_team_config(default_config_path())


async def test_tumor_board_review_selects_a_high_complexity_team(team: TeamConfig) -> None:
    triage = await RulePlanner().triage(synthetic_case("Prepare the tumor board review"), team)
    assert triage.complexity == "high"
    assert "tumor_board" in triage.intents
    assert len(triage.selected) == team.team.complexity.high == 5
    assert {"PatientStatus", "PatientHistory", "Radiology", "ReportCreation"} <= set(
        triage.selected
    )
    # six specialists have work to do; the cap of five leaves one out, and says so
    assert [e.agent for e in triage.excluded] == ["ClinicalTrials"]
    assert "cap is 5" in triage.excluded[0].reason


async def test_stage_question_selects_one_specialist(team: TeamConfig) -> None:
    triage = await RulePlanner().triage(synthetic_case("What is the current stage?"), team)
    assert (triage.complexity, triage.selected) == ("low", ("PatientStatus",))


async def test_trials_question_selects_status_and_trials(team: TeamConfig) -> None:
    case = synthetic_case("Which clinical trials could this patient join?")
    triage = await RulePlanner().triage(case, team)
    assert triage.complexity == "moderate"
    assert triage.selected == ("PatientStatus", "ClinicalTrials")


async def test_without_imaging_reports_radiology_is_left_out(team: TeamConfig) -> None:
    case = synthetic_case("Prepare the tumor board review", imaging=False)
    triage = await RulePlanner().triage(case, team)
    assert "Radiology" not in triage.selected
    assert "ClinicalTrials" in triage.selected
    assert any(e.agent == "Radiology" and "imaging" in e.reason for e in triage.excluded)


async def test_a_request_addressed_to_an_agent_goes_to_that_agent(team: TeamConfig) -> None:
    triage = await RulePlanner().triage(synthetic_case("@Radiology what changed?"), team)
    assert (triage.complexity, triage.selected) == ("low", ("Radiology",))


async def test_an_unknown_addressee_is_triaged_by_the_wording(team: TeamConfig) -> None:
    triage = await RulePlanner().triage(synthetic_case("@Nobody what is the stage?"), team)
    assert triage.selected == ("PatientStatus",)


async def test_plan_is_a_dag_in_dependency_order_with_waves(team: TeamConfig) -> None:
    planner = RulePlanner()
    case = synthetic_case("Prepare the tumor board review", imaging=False)
    triage = await planner.triage(case, team)
    ledger = await planner.task_ledger(case, team, triage)
    by_agent = {s.agent: s for s in ledger.plan}
    ids = {s.id: s.agent for s in ledger.plan}
    assert [ids[d] for d in by_agent["ClinicalTrials"].depends_on] == ["PatientStatus"]
    assert {ids[d] for d in by_agent["ReportCreation"].depends_on} == {
        "PatientHistory",
        "PatientStatus",
        "ClinicalGuidelines",
        "ClinicalTrials",
    }
    waves = plan_waves(ledger.plan, max_parallel=team.team.limits.max_parallel)
    named = [sorted(ids[s] for s in w) for w in waves]
    assert named == [
        ["PatientHistory", "PatientStatus"],
        ["ClinicalGuidelines", "ClinicalTrials"],
        ["ReportCreation"],
    ]
    assert ledger.facts.given[0] == "Request: Prepare the tumor board review"
    assert by_agent["ReportCreation"].critical


def test_waves_respect_max_parallel() -> None:
    from magentic_health.plan import PlanStep

    plan = tuple(PlanStep(id=f"s{i}", agent=f"A{i}", instruction="x") for i in range(5))
    assert plan_waves(plan, max_parallel=2) == (("s0", "s1"), ("s2", "s3"), ("s4",))
