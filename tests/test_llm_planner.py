"""The language-model planner with scripted answers: one call for triage and plan, none for a
cached ledger or a clean wave, one for the synthesis, whose citations must be real quotes."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from autogen_core.models import AssistantMessage, ModelFamily, ModelInfo, SystemMessage, UserMessage

from magentic_health.config import TeamConfig, default_config_path, load_team_config
from magentic_health.models import ModelRequest, ScriptedModelClient
from magentic_health.plan import PlanStep, TaskLedger
from magentic_health.planners import (
    ChatSequenceError,
    LLMPlanner,
    PromptError,
    RulePlanner,
    StepOutcome,
    check_chat_sequence,
    load_prompt,
)
from magentic_health.reply import Evidence, Finding, SpecialistReply
from tests._factories import synthetic_case

Answer = Callable[[ModelRequest], str]


@pytest.fixture(scope="module")
def team() -> TeamConfig:
    return load_team_config(default_config_path())


def strict_client(
    answer: Answer, *, structured: bool = True, json_mode: bool = True
) -> ScriptedModelClient:
    """A scripted client that refuses what a strict chat template would refuse."""

    def checked(request: ModelRequest) -> str:
        check_chat_sequence(request.messages)
        return answer(request)

    info = ModelInfo(
        vision=False,
        function_calling=True,
        json_output=json_mode,
        structured_output=structured,
        family=ModelFamily.UNKNOWN,
        multiple_system_messages=False,
    )
    return ScriptedModelClient(checked, model_info=info)


def attempt(request: ModelRequest) -> int:
    """1 for a first request, 2 after one rejected answer, ... (from the message structure)."""
    return 1 + sum(isinstance(m, AssistantMessage) for m in request.messages)


def by_schema(**answers: Callable[[ModelRequest], Any]) -> Answer:
    """Answer each structured request with the function named after its schema."""

    def answer(request: ModelRequest) -> str:
        assert request.schema_name is not None
        value = answers[request.schema_name](request)
        return value if isinstance(value, str) else json.dumps(value)

    return answer


def steps(*specs: tuple[str, str, list[str]]) -> list[dict[str, Any]]:
    return [
        {"id": i, "agent": a, "instruction": f"{a}: do the work", "depends_on": d, "critical": True}
        for i, a, d in specs
    ]


FACTS = {"given": ["a request"], "to_look_up": ["stage"], "to_derive": [], "educated_guesses": []}


def decision(**changes: Any) -> dict[str, Any]:
    """A valid PlanDecision for the synthetic case, with ``changes`` applied."""
    answer: dict[str, Any] = {
        "complexity": "moderate",
        "intents": ["tumor_board"],
        "selected": ["PatientStatus", "Radiology", "ReportCreation"],
        "rationale": "status, imaging and the report answer a review",
        "excluded": [{"agent": "ClinicalTrials", "reason": "not asked"}],
        "facts": FACTS,
        "plan": steps(
            ("s1", "PatientStatus", []),
            ("s3", "ReportCreation", ["s1", "s2"]),
            ("s2", "Radiology", []),
        ),
    }
    return answer | changes


def progress(satisfied: Any = False, next_ids: list[str] | None = None) -> dict[str, Any]:
    item = {"answer": False, "reason": "r"}
    return {
        "is_request_satisfied": {"answer": satisfied, "reason": "r"},
        "is_in_loop": item,
        "is_progress_being_made": {"answer": True, "reason": "r"},
        "next": {"answer": next_ids or [], "reason": "what is ready"},
    }


def reply(agent: str, quote: str = "KRAS p.G12C detected by NGS") -> SpecialistReply:
    return SpecialistReply(
        agent=agent,
        text=f"## {agent}\nKRAS G12C.",
        findings=(Finding(claim="KRAS G12C", evidence=(Evidence(doc_id="note-1", quote=quote),)),),
    )


def outcome(step: PlanStep, *, wave: int, failed: bool = False) -> StepOutcome:
    if failed:
        return StepOutcome(step=step, status="failed", failures=("grounding: bad",), wave=wave)
    return StepOutcome(step=step, status="done", reply=reply(step.agent), wave=wave)


def ledger_of(planner: LLMPlanner) -> TaskLedger:
    assert planner._run is not None and planner._run[1] is not None
    return planner._run[1]


async def test_one_call_decides_triage_and_plan_and_the_ledger_costs_none(
    team: TeamConfig,
) -> None:
    client = strict_client(by_schema(PlanDecision=lambda r: decision()))
    planner = LLMPlanner(client)
    case = synthetic_case()
    triage = await planner.triage(case, team)
    ledger = await planner.task_ledger(case, team, triage)
    assert len(client.requests) == 1
    assert triage.selected == ("PatientStatus", "Radiology", "ReportCreation")
    assert "prompt triage_plan.v1" in triage.rationale
    assert [e.agent for e in triage.excluded] == ["ClinicalTrials"]
    # the plan is put in dependency order: s3 waits for s1 and s2
    assert [s.id for s in ledger.plan] == ["s1", "s2", "s3"]
    assert ledger.plan[2].depends_on == ("s1", "s2")
    assert planner.engine == "language-model planner (unknown model)"
    assert planner.fallbacks == []
    request = client.requests[0]
    assert isinstance(request.messages[0], SystemMessage)
    assert request.messages[0].content == team.facilitator.instructions
    assert request.schema_name == "PlanDecision"


async def test_a_new_triage_resets_the_cached_ledger(team: TeamConfig) -> None:
    answers = [
        decision(),
        decision(
            selected=["PatientStatus"],
            complexity="low",
            plan=steps(("a", "PatientStatus", [])),
            excluded=[],
        ),
    ]
    client = strict_client(by_schema(PlanDecision=lambda r: answers[len(client.requests) - 1]))
    planner = LLMPlanner(client)
    case = synthetic_case()
    first = await planner.triage(case, team)
    second = await planner.triage(synthetic_case("What is the stage?"), team)
    assert second.selected == ("PatientStatus",)
    assert [s.id for s in (await planner.task_ledger(case, team, second)).plan] == ["a"]
    # a triage that is not the current run's is planned by the fallback, visibly
    ledger = await planner.task_ledger(case, team, first)
    assert planner.fallbacks[-1][0] == "task_ledger"
    assert any("planner note: fallback" in g for g in ledger.facts.given)
    assert len(client.requests) == 2


async def test_a_clean_wave_is_judged_by_rule_without_a_call(team: TeamConfig) -> None:
    client = strict_client(by_schema(PlanDecision=lambda r: decision()))
    planner = LLMPlanner(client)
    case = synthetic_case()
    triage = await planner.triage(case, team)
    ledger = await planner.task_ledger(case, team, triage)
    outcomes = {s.id: outcome(s, wave=1) for s in ledger.plan[:2]}
    result = await planner.progress(case, team, ledger, outcomes, wave=1)
    assert len(client.requests) == 1
    assert result.next.answer == ("s3",)
    assert result.is_request_satisfied.answer is False
    assert "decided by rule: every step of the wave passed its checkpoints" in result.next.reason
    assert [d.by for d in planner.decisions] == ["model", "cache", "rule"]
    assert planner.model_calls == 1


async def test_a_failed_step_asks_the_model_about_progress(team: TeamConfig) -> None:
    client = strict_client(
        by_schema(PlanDecision=lambda r: decision(), ProgressAnswer=lambda r: progress(False, []))
    )
    planner = LLMPlanner(client)
    case = synthetic_case()
    ledger = await planner.task_ledger(case, team, await planner.triage(case, team))
    outcomes = {"s1": outcome(ledger.plan[0], wave=1, failed=True)}
    outcomes["s2"] = outcome(ledger.plan[1], wave=1)
    result = await planner.progress(case, team, ledger, outcomes, wave=1)
    assert len(client.requests) == 2
    assert client.requests[1].schema_name == "ProgressAnswer"
    assert result.is_progress_being_made.answer is True
    assert "prompt progress.v1" in result.next.reason


async def test_synthesis_keeps_only_real_quotes_and_labels_the_engine(team: TeamConfig) -> None:
    cited = [
        {"doc_id": "note-1", "quote": "kras P.G12C   detected by ngs"},  # folded: real
        {"doc_id": "note-1", "quote": "EGFR exon 19 deletion detected"},  # invented
        {"doc_id": "note-9", "quote": "ECOG 1"},  # no such document
        {"doc_id": "ct-1", "quote": "Impression: partial response."},
    ]
    final_answer = {"text": "## Answer\nKRAS G12C; partial response.", "citations": cited}
    client = strict_client(
        by_schema(PlanDecision=lambda r: decision(), FinalAnswerModel=lambda r: final_answer)
    )
    planner = LLMPlanner(client, model_name="gpt-test")
    case = synthetic_case()
    triage = await planner.triage(case, team)
    ledger = await planner.task_ledger(case, team, triage)
    outcomes = {s.id: outcome(s, wave=i + 1) for i, s in enumerate(ledger.plan)}
    final = await planner.synthesize(case, team, triage, ledger, outcomes)
    assert len(client.requests) == 2
    assert [(c.doc_id, c.quote) for c in final.citations] == [
        ("note-1", "kras P.G12C   detected by ngs"),
        ("ct-1", "Impression: partial response."),
    ]
    assert any("'note-9'" in g and "not a document" in g for g in final.gaps)
    assert any("'note-1'" in g and "quote is not in it" in g for g in final.gaps)
    assert final.text.startswith("## Answer\nKRAS G12C")
    assert "language-model planner (gpt-test)" in final.text
    assert "For research use only" in final.text
    # the model saw the replies' markdown and findings
    prompt = client.requests[1].messages[1].content
    assert isinstance(prompt, str)
    assert "## ReportCreation" in prompt and "KRAS p.G12C detected by NGS" in prompt


async def test_the_planner_is_a_drop_in_for_the_rule_planner(team: TeamConfig) -> None:
    planner: LLMPlanner = LLMPlanner(strict_client(lambda r: "{}"), max_attempts=1)
    rules = RulePlanner()
    case = synthetic_case()
    triage = await planner.triage(case, team)
    assert triage.selected == (await rules.triage(case, team)).selected


def test_prompts_are_versioned_files_rendered_strictly() -> None:
    prompt = load_prompt("retry")
    assert (prompt.label, prompt.variables) == ("retry.v1", {"errors", "schema_name"})
    assert "- x" in prompt.render(errors="- x", schema_name="S")
    with pytest.raises(PromptError, match="no value for 'schema_name'"):
        prompt.render(errors="- x")
    with pytest.raises(PromptError, match="unknown variable"):
        prompt.render(errors="- x", schema_name="S", extra="?")
    with pytest.raises(PromptError, match="no such template"):
        load_prompt("missing_prompt")
    for name in ("triage_plan", "progress", "replan", "synthesis", "answer_format"):
        assert load_prompt(name).version == 1


def test_values_are_inserted_once_and_never_rescanned() -> None:
    text = load_prompt("retry").render(errors="{{schema_name}}", schema_name="S")
    assert "{{schema_name}}" in text


def test_the_sequence_checker_refuses_what_strict_templates_refuse() -> None:
    system = SystemMessage(content="s")
    user = UserMessage(content="u", source="user")
    said = AssistantMessage(content="a", source="Orchestrator")
    check_chat_sequence([system, user, said, user])
    with pytest.raises(ChatSequenceError, match="starts with AssistantMessage"):
        check_chat_sequence([system, said, user])
    with pytest.raises(ChatSequenceError, match="two assistant messages in a row"):
        check_chat_sequence([system, user, said, said])
    with pytest.raises(ChatSequenceError, match="system message after"):
        check_chat_sequence([system, user, system])
