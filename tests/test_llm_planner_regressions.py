"""Regressions for the reference orchestrator's weaknesses that concern the planner (issue #4):
invalid names, missing keys, prose or two JSON blocks, retries without the error, "false" read
as true, unrecoverable answers, JSON mode and plain text, strict chat templates, and a re-plan
that drops earlier evidence. Answers are functions of the request's structure, never of its
wording."""

from __future__ import annotations

import json
from typing import Any

import pytest
from autogen_core import FunctionCall
from autogen_core.models import AssistantMessage, UserMessage

from magentic_health.config import TeamConfig, default_config_path, load_team_config
from magentic_health.models import ModelRequest, Reply, ScriptedModelClient
from magentic_health.plan import TaskLedger
from magentic_health.planners import LLMPlanner, RulePlanner, check_chat_sequence
from magentic_health.planners._llm_answers import BoolItem, PlanDecision
from magentic_health.planners._llm_json import AnswerError, parse_answer
from tests._factories import synthetic_case
from tests.test_llm_planner import (
    attempt,
    by_schema,
    decision,
    outcome,
    progress,
    steps,
    strict_client,
)

ROSTER = (
    "choose one of PatientHistory, PatientStatus, Radiology, ClinicalGuidelines, "
    "ClinicalTrials, ReportCreation"
)


@pytest.fixture(scope="module")
def team() -> TeamConfig:
    return load_team_config(default_config_path())


def last_user_text(request: ModelRequest) -> str:
    message = request.messages[-1]
    assert isinstance(message, UserMessage) and isinstance(message.content, str)
    return message.content


def first_bad_then(bad: Any, good: Any) -> Any:
    """An answer function: ``bad`` on the first attempt, ``good`` after a rejection."""
    return lambda r: bad if attempt(r) == 1 else good


def bad_agent() -> dict[str, Any]:
    return decision(
        plan=steps(
            ("s1", "PatientStatus", []), ("s2", "Radiologist", []), ("s3", "ReportCreation", [])
        )
    )


async def test_an_invalid_speaker_name_is_retried_with_the_error_quoted(team: TeamConfig) -> None:
    client = strict_client(by_schema(PlanDecision=first_bad_then(bad_agent(), decision())))
    planner = LLMPlanner(client)
    triage = await planner.triage(synthetic_case(), team)
    assert len(client.requests) == 2
    assert f"plan[1].agent: 'Radiologist' is not a team member; {ROSTER}" in last_user_text(
        client.requests[1]
    )
    assert "Radiology" in triage.selected
    assert "2 model call(s)" in triage.rationale
    assert planner.fallbacks == []


async def test_the_facilitator_is_not_a_specialist(team: TeamConfig) -> None:
    bad = decision(selected=["Orchestrator", "PatientStatus"])
    client = strict_client(by_schema(PlanDecision=first_bad_then(bad, decision())))
    await LLMPlanner(client).triage(synthetic_case(), team)
    assert "selected[0]: 'Orchestrator' is the facilitator, not a specialist" in last_user_text(
        client.requests[1]
    )


async def test_a_missing_key_is_an_error_quoted_back(team: TeamConfig) -> None:
    bad = decision()
    del bad["facts"]
    del bad["plan"][0]["critical"]
    client = strict_client(by_schema(PlanDecision=first_bad_then(bad, decision())))
    triage = await LLMPlanner(client).triage(synthetic_case(), team)
    error = last_user_text(client.requests[1])
    assert "facts: missing key" in error
    assert "plan[0].critical: missing key" in error
    assert triage.complexity == "moderate"


async def test_prose_and_a_fence_around_one_json_object_are_accepted(team: TeamConfig) -> None:
    text = f"Here is my plan.\n```json\n{json.dumps(decision(), indent=2)}\n```\nGood luck!"
    client = strict_client(lambda r: text, structured=False, json_mode=False)
    triage = await LLMPlanner(client).triage(synthetic_case(), team)
    assert len(client.requests) == 1
    assert triage.selected == ("PatientStatus", "Radiology", "ReportCreation")


async def test_two_json_blocks_are_retried(team: TeamConfig) -> None:
    two = f"```json\n{json.dumps(decision())}\n```\nor\n```json\n{json.dumps(decision())}\n```"
    client = strict_client(
        first_bad_then(two, json.dumps(decision())), structured=False, json_mode=False
    )
    await LLMPlanner(client).triage(synthetic_case(), team)
    assert len(client.requests) == 2
    assert "found 2 JSON objects; answer with exactly one" in last_user_text(client.requests[1])


async def test_a_retry_sends_the_previous_answer_and_the_error(team: TeamConfig) -> None:
    client = strict_client(by_schema(PlanDecision=first_bad_then(bad_agent(), decision())))
    await LLMPlanner(client).triage(synthetic_case(), team)
    first, second = client.requests
    assert second.messages != first.messages
    assert second.messages[:2] == first.messages
    previous = second.messages[2]
    assert isinstance(previous, AssistantMessage)
    assert previous.content == json.dumps(bad_agent())
    assert previous.source == team.facilitator.name
    assert "'Radiologist' is not a team member" in last_user_text(second)
    assert len(second.messages) == 4


def test_the_string_false_is_not_read_as_true() -> None:
    with pytest.raises(AnswerError) as caught:
        parse_answer('{"answer": "false", "reason": "r"}', BoolItem)
    assert caught.value.errors == [
        "answer: got 'false'; a boolean must be JSON true or false, not a string"
    ]
    assert parse_answer('{"answer": false, "reason": "r"}', BoolItem).answer is False


async def _ledger(planner: LLMPlanner, team: TeamConfig) -> TaskLedger:
    case = synthetic_case()
    return await planner.task_ledger(case, team, await planner.triage(case, team))


async def test_a_string_boolean_in_progress_is_retried_then_falls_back(team: TeamConfig) -> None:
    client = strict_client(
        by_schema(PlanDecision=lambda r: decision(), ProgressAnswer=lambda r: progress("true"))
    )
    planner = LLMPlanner(client, max_attempts=2)
    ledger = await _ledger(planner, team)
    outcomes = {"s1": outcome(ledger.plan[0], wave=1, failed=True)}
    result = await planner.progress(synthetic_case(), team, ledger, outcomes, wave=1)
    assert len(client.requests) == 3
    assert "is_request_satisfied.answer: got 'true'" in last_user_text(client.requests[2])
    # never read as true: the rule planner decides, and says why
    assert result.is_request_satisfied.answer is False
    assert "fallback to the offline rule engine" in result.next.reason
    assert planner.fallbacks[0][0] == "progress"


async def test_unknown_next_step_ids_are_retried(team: TeamConfig) -> None:
    answers = first_bad_then(progress(False, ["s9"]), progress(False, ["s2"]))
    client = strict_client(by_schema(PlanDecision=lambda r: decision(), ProgressAnswer=answers))
    planner = LLMPlanner(client)
    ledger = await _ledger(planner, team)
    outcomes = {"s1": outcome(ledger.plan[0], wave=1, failed=True)}
    result = await planner.progress(synthetic_case(), team, ledger, outcomes, wave=1)
    assert "next.answer[0]: 's9' is not a plan step id" in last_user_text(client.requests[2])
    assert result.next.answer == ("s2",)


async def test_unrecoverable_answers_fall_back_to_the_rule_planner(team: TeamConfig) -> None:
    client = strict_client(
        by_schema(PlanDecision=lambda r: bad_agent(), FinalAnswerModel=lambda r: "I cannot answer.")
    )
    planner = LLMPlanner(client)
    case = synthetic_case()
    triage = await planner.triage(case, team)
    assert len(client.requests) == 3
    assert triage.selected == (await RulePlanner().triage(case, team)).selected
    assert "fallback to the offline rule engine" in triage.rationale
    assert "'Radiologist' is not a team member" in triage.rationale
    assert [d for d, _ in planner.fallbacks] == ["triage"]
    ledger = await planner.task_ledger(case, team, triage)
    assert len(client.requests) == 3  # the fallback plans without a call
    assert ledger.plan == (await RulePlanner().task_ledger(case, team, triage)).plan
    assert any(g.startswith("planner note: fallback") for g in ledger.facts.given)
    outcomes = {s.id: outcome(s, wave=1) for s in ledger.plan}
    final = await planner.synthesize(case, team, triage, ledger, outcomes)
    assert final.text.startswith("> Note: fallback to the offline rule engine")
    assert [d for d, _ in planner.fallbacks] == ["triage", "synthesis"]


async def test_json_mode_sends_the_schema_in_the_prompt(team: TeamConfig) -> None:
    client = strict_client(
        first_bad_then('{"complexity": "moderate"}', json.dumps(decision())), structured=False
    )
    await LLMPlanner(client).triage(synthetic_case(), team)
    first = client.requests[0]
    assert first.json_output is True and first.schema_name is None
    prompt = first.messages[1].content
    assert isinstance(prompt, str)
    assert json.dumps(PlanDecision.model_json_schema(), separators=(",", ":")) in prompt
    assert "intents: missing key" in last_user_text(client.requests[1])


async def test_plain_text_mode_sends_the_schema_and_no_json_flag(team: TeamConfig) -> None:
    client = strict_client(lambda r: json.dumps(decision()), structured=False, json_mode=False)
    await LLMPlanner(client).triage(synthetic_case(), team)
    (request,) = client.requests
    assert request.json_output is None
    assert '"title":"PlanDecision"' in str(request.messages[1].content)


async def test_a_tool_call_instead_of_an_answer_is_retried(team: TeamConfig) -> None:
    call = [FunctionCall(id="1", name="patient_status", arguments="{}")]

    def answer(request: ModelRequest) -> Reply:
        check_chat_sequence(request.messages)
        return call if attempt(request) == 1 else json.dumps(decision())

    client = ScriptedModelClient(answer)
    await LLMPlanner(client).triage(synthetic_case(), team)
    assert "the answer was a tool call" in last_user_text(client.requests[1])


async def test_caps_and_cycles_are_checked(team: TeamConfig) -> None:
    bad = decision(
        complexity="low",
        plan=steps(
            ("s1", "PatientStatus", ["s3"]),
            ("s2", "Radiology", []),
            ("s3", "ReportCreation", ["s1"]),
        ),
    )
    client = strict_client(by_schema(PlanDecision=first_bad_then(bad, decision())))
    await LLMPlanner(client).triage(synthetic_case(), team)
    error = last_user_text(client.requests[1])
    assert "selected: 3 specialists exceed the low tier's cap of 1" in error
    assert "plan: steps s1, s3 depend on each other in a cycle" in error


async def test_every_request_fits_a_strict_chat_template(team: TeamConfig) -> None:
    client = strict_client(lambda r: "not json at all")  # the strict client raises otherwise
    planner = LLMPlanner(client, max_attempts=4)
    await planner.triage(synthetic_case(), team)
    assert len(client.requests) == 4
    kinds = [type(m).__name__ for m in client.requests[-1].messages]
    assert kinds == ["SystemMessage", "UserMessage", *["AssistantMessage", "UserMessage"] * 3]


async def test_a_replan_keeps_the_evidence_of_completed_steps(team: TeamConfig) -> None:
    reuse_failed = {
        "rationale": "r",
        "facts": progress_facts(),
        "plan": steps(("s2", "Radiology", [])),
    }
    drops_done = {
        "rationale": "retry imaging under a new id",
        "facts": progress_facts(),
        "plan": steps(("s4", "Radiology", []), ("s3", "ReportCreation", ["s1", "s4"])),
    }
    client = strict_client(
        by_schema(
            PlanDecision=lambda r: decision(),
            ReplanAnswer=first_bad_then(reuse_failed, drops_done),
        )
    )
    planner = LLMPlanner(client)
    case = synthetic_case()
    ledger = await _ledger(planner, team)
    outcomes = {
        "s1": outcome(ledger.plan[0], wave=1),
        "s2": outcome(ledger.plan[1], wave=1, failed=True),
    }
    new = await planner.replan(case, team, ledger, outcomes, reason="2 stalled wave(s)")
    assert "plan[0].id: 's2' is a failed step and cannot run again" in last_user_text(
        client.requests[2]
    )
    assert new.version == 2
    assert [s.id for s in new.plan] == ["s1", "s4", "s3"]
    assert new.plan[0] == ledger.plan[0]
    assert any("completed step s1 (PatientStatus) kept" in g for g in new.facts.given)
    assert any(
        g.startswith("re-plan (decided by the language-model planner") for g in new.facts.given
    )


def progress_facts() -> dict[str, list[str]]:
    return {
        "given": ["s1 established the stage"],
        "to_look_up": ["imaging"],
        "to_derive": [],
        "educated_guesses": [],
    }
