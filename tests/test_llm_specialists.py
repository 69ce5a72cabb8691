"""Model-driven specialists (AutoGen AssistantAgents) with a scripted model client: one model
call per hand-off, tools with arguments offered as function tools, replies read strictly by
the contract, and malformed replies turned into contract checkpoint failures, never crashes."""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from autogen_core import FunctionCall
from autogen_core.models import (
    AssistantMessage,
    FunctionExecutionResultMessage,
    SystemMessage,
    UserMessage,
)

from magentic_health.agents import (
    CONTRACT_PROMPT,
    HandoffRequest,
    LLMAgent,
    ReplyContract,
    ReplyContractError,
    parse_contract,
)
from magentic_health.config import TeamConfig, default_config_path, load_team_config
from magentic_health.models import SCRIPTED_MODEL_INFO, ModelRequest, Reply, ScriptedModelClient
from magentic_health.plan import PlanStep
from magentic_health.planners import LLMPlanner, RulePlanner
from magentic_health.reply import Evidence, Finding
from magentic_health.team import HealthTeam
from magentic_health.tools import ToolContext, ToolOutput, get_tool
from magentic_health.trace import read_ledger, verify_ledger
from tests._factories import synthetic_case

QUOTE = "KRAS p.G12C detected by NGS"
JSON_ONLY = SCRIPTED_MODEL_INFO | {"structured_output": False}


def good_reply() -> ReplyContract:
    return ReplyContract.model_validate(
        {
            "text": "KRAS G12C was found by NGS.",
            "findings": [
                {"claim": "KRAS G12C", "evidence": [{"doc_id": "note-1", "quote": QUOTE}]}
            ],
            "gaps": ["PD-L1 not documented"],
        }
    )


class StrictTemplateError(Exception):
    """A request a strict chat template (e.g. Llama, Mistral) would reject."""


def check_template(request: ModelRequest) -> None:
    """First non-system message from the user; never two assistant messages in a row."""
    rest = [m for m in request.messages if not isinstance(m, SystemMessage)]
    if not rest or not isinstance(rest[0], UserMessage):
        raise StrictTemplateError("the conversation does not start with a user message")
    for a, b in itertools.pairwise(rest):
        if isinstance(a, AssistantMessage) and isinstance(b, AssistantMessage):
            raise StrictTemplateError("two assistant messages in a row")


def specialist_answer(request: ModelRequest) -> Reply:
    """A contract reply; with search_notes offered, search once first (by message structure)."""
    check_template(request)
    searched = isinstance(request.messages[-1], FunctionExecutionResultMessage)
    if "search_notes" in request.tool_names and not searched:
        return [FunctionCall(id="c1", name="search_notes", arguments='{"query": "KRAS"}')]
    return good_reply()


def strict_client(
    answer: Callable[[ModelRequest], Reply] = specialist_answer, **kw: object
) -> ScriptedModelClient:
    return ScriptedModelClient(answer, **kw)  # type: ignore[arg-type]


def config() -> TeamConfig:
    return load_team_config(default_config_path())


def llm_team(
    tmp_path: Path, data_dir: Path, client: ScriptedModelClient, **kw: object
) -> HealthTeam:
    return HealthTeam(
        config(),
        data_dir=data_dir,
        model_client=client,
        planner=RulePlanner(),
        case=synthetic_case(),
        ledger_dir=tmp_path,
        **kw,  # type: ignore[arg-type]
    )


async def test_a_specialist_answers_in_one_model_call_grounded_by_its_tools(
    tmp_path: Path, data_dir: Path
) -> None:
    client = strict_client()
    team = llm_team(tmp_path, data_dir, client)
    await team.run(task="What is the current stage?")
    result = team.last_result
    assert result is not None and result.status == "completed", result
    assert len(client.requests) == 1  # the tool ran before the hand-off
    request = client.requests[0]
    system, user = request.messages
    assert isinstance(system, SystemMessage) and CONTRACT_PROMPT in system.content
    assert "PatientStatus output" in system.content or "current-status snapshot" in system.content
    assert isinstance(user, UserMessage) and "### patient_status" in str(user.content)
    assert request.schema_name == "ReplyContract"  # structured output where supported
    events = read_ledger(Path(result.ledger_path)).events
    calls = [e for e in events if e.type == "model_call"]
    assert [(e.agent, e.step) for e in calls] == [("PatientStatus", "s1")]
    usage = events[-1].data["usage"]
    assert usage["PatientStatus"]["prompt_tokens"] == calls[0].data["usage"]["prompt_tokens"] > 0
    assert usage["total"]["prompt_tokens"] == usage["PatientStatus"]["prompt_tokens"]
    reply = next(e for e in events if e.type == "agent_reply")
    assert reply.data["findings"][0]["evidence"][0]["quote"] == QUOTE
    assert verify_ledger(Path(result.ledger_path)).ok


async def test_without_structured_output_the_json_reply_is_parsed_by_us(
    tmp_path: Path, data_dir: Path
) -> None:
    client = strict_client(model_info=JSON_ONLY)
    team = llm_team(tmp_path, data_dir, client)
    await team.run(task="What is the current stage?")
    assert team.last_result is not None and team.last_result.status == "completed"
    assert client.requests[0].json_output is None


async def test_a_tool_with_arguments_is_offered_to_the_model_and_recorded(
    tmp_path: Path, data_dir: Path
) -> None:
    client = strict_client()
    team = llm_team(tmp_path, data_dir, client)
    await team.run(task="@PatientHistory what happened so far?")
    result = team.last_result
    assert result is not None and result.status == "completed", result
    assert [r.tool_names for r in client.requests] == [("search_notes",), ("search_notes",)]
    events = read_ledger(Path(result.ledger_path)).events
    calls = [e.data for e in events if e.type == "tool_call"]
    assert [c["tool"] for c in calls] == ["patient_timeline", "search_notes"]
    assert calls[1]["arguments"]["query"] == "KRAS"
    assert "search_notes" in result.tool_data


@pytest.mark.parametrize(
    ("bad", "expected"),
    [
        ("Here is my answer: " + good_reply().model_dump_json(), "not one JSON object"),
        (good_reply().model_dump_json() * 2, "not one JSON object"),
        (json.dumps({"text": "x", "findings": []}), "gaps: Field required"),
        (json.dumps([1, 2]), "not an object"),
    ],
)
async def test_a_malformed_reply_is_a_contract_failure_retried_with_the_error(
    tmp_path: Path, data_dir: Path, bad: str, expected: str
) -> None:
    calls: list[int] = []

    def answer(request: ModelRequest) -> Reply:
        calls.append(1)
        return bad if len(calls) == 1 else good_reply()

    client = strict_client(answer, model_info=JSON_ONLY)
    team = llm_team(tmp_path, data_dir, client)
    await team.run(task="What is the current stage?")
    result = team.last_result
    assert result is not None and result.status == "completed", result
    events = read_ledger(Path(result.ledger_path)).events
    contract = [e.data for e in events if e.type == "checkpoint" and e.data["name"] == "contract"]
    assert contract[0]["passed"] is False and expected in contract[0]["failures"][0]
    assert contract[1]["passed"] is True
    retry = client.requests[1].messages[-1]
    assert isinstance(retry, UserMessage) and expected in str(retry.content)


async def test_a_reply_that_never_fits_fails_the_step_not_the_run(
    tmp_path: Path, data_dir: Path
) -> None:
    client = strict_client(lambda r: "{not json", model_info=JSON_ONLY)
    team = llm_team(tmp_path, data_dir, client)
    result = await team.run(task="What is the current stage?")
    assert result.stop_reason is not None and result.stop_reason.startswith("failed")
    events = read_ledger(Path(team.last_result.ledger_path)).events  # type: ignore[union-attr]
    verdicts = [e.data["passed"] for e in events if e.type == "checkpoint" and e.step == "s1"]
    assert verdicts == [False, False]
    assert events[-1].type == "run_finished"


async def test_an_invalid_structured_reply_and_a_raising_client_are_contract_failures(
    tmp_path: Path, data_dir: Path
) -> None:
    def answer(request: ModelRequest) -> Reply:
        if len(client.requests) == 1:
            return '{"text": "x", "findings": "none", "gaps": []}'
        raise RuntimeError("backend hiccup")

    client = strict_client(answer)
    team = llm_team(tmp_path, data_dir, client)
    await team.run(task="What is the current stage?")
    events = read_ledger(Path(team.last_result.ledger_path)).events  # type: ignore[union-attr]
    failures = [e.data["failures"][0] for e in events if e.type == "checkpoint" and e.step == "s1"]
    assert "findings" in failures[0] and "RuntimeError: backend hiccup" in failures[1]


async def test_every_hand_off_starts_from_an_empty_conversation(data_dir: Path) -> None:
    """An agent's AssistantAgent is reused after a hand-off: nothing of the last one remains,
    and hand-offs answered at the same time do not share a conversation."""
    client = strict_client(latency_s=0.01)
    agent_config = config().agent("PatientStatus")
    assert agent_config is not None
    agent = LLMAgent(agent_config, model_client=client)

    def request(instruction: str) -> HandoffRequest:
        step = PlanStep(id="s1", agent="PatientStatus", instruction=instruction)
        return HandoffRequest(step=step, case=synthetic_case(), data_dir=data_dir)

    async def ask(instruction: str) -> None:
        reply = await agent.handle(request(instruction), emit=lambda *_a, **_k: None)
        assert reply.findings[0].evidence[0].quote == QUOTE

    await ask("State the stage.")
    await asyncio.gather(ask("State the biomarkers."), ask("State the treatments."))
    await ask("State the performance status.")
    sent: list[str] = []
    for request in client.requests:
        system, user = request.messages
        assert isinstance(system, SystemMessage) and isinstance(user, UserMessage)
        (instruction,) = [line for line in str(user.content).splitlines() if "Instruction:" in line]
        sent.append(instruction.removeprefix("Instruction: State the ").removesuffix("."))
    # the two concurrent hand-offs reach the model in either order (their tools run in threads)
    assert len(sent) == 4 and sent[0] == "stage" and sent[3] == "performance status"
    assert sorted(sent[1:3]) == ["biomarkers", "treatments"]


async def test_a_hand_off_shows_each_upstream_output_and_each_finding_once(
    data_dir: Path,
) -> None:
    """A step that ran two tools hands over one reply under both names, and the agent's own
    tool repeats an upstream finding: the prompt shows each once and says what it left out."""
    client = strict_client()
    agent_config = config().agent("PatientStatus")
    assert agent_config is not None
    case = synthetic_case()
    step = PlanStep(id="s2", agent="PatientStatus", instruction="State the stage.")
    own = await get_tool("patient_status").call(
        ToolContext(case=case, instruction=case.request, data_dir=data_dir)
    )
    assert own.findings, "the synthetic note must give the status tool a finding"
    shared = own.findings[0]
    history = ToolOutput(
        text="History: adenocarcinoma, KRAS G12C.",
        findings=(
            Finding(claim="KRAS G12C", evidence=(Evidence(doc_id="note-1", quote=QUOTE),)),
            shared,
        ),
    )
    upstream = {"patient_timeline": history, "search_notes": history.model_copy()}
    request = HandoffRequest(step=step, case=case, data_dir=data_dir, upstream=upstream)
    await LLMAgent(agent_config, model_client=client).handle(request, emit=lambda *_a, **_k: None)

    (sent,) = client.requests
    text = str(sent.messages[-1].content)
    assert text.count("History: adenocarcinoma, KRAS G12C.") == 1
    assert "### patient_timeline, search_notes" in text
    finding_lines = [line for line in text.splitlines() if " <- [" in line]
    assert len(finding_lines) == len(set(finding_lines)) == len(own.findings) + 1
    assert sum(line.startswith(f"- {shared.claim} <- ") for line in finding_lines) == 1
    assert "Findings listed above that this output also reports: 1" in text


def test_the_contract_parser_accepts_one_fenced_object_only() -> None:
    body = good_reply().model_dump_json()
    assert parse_contract(f"```json\n{body}\n```") == good_reply()
    with pytest.raises(ReplyContractError):
        parse_contract(f"```json\n{body}\n```\n```json\n{body}\n```")


async def test_per_agent_clients_and_the_llm_agent_wraps_its_client(
    tmp_path: Path, data_dir: Path
) -> None:
    status_client, other = strict_client(), strict_client()
    team = HealthTeam(
        config(),
        data_dir=data_dir,
        agent_clients={"PatientStatus": status_client, "Radiology": other},
        planner=RulePlanner(),
        case=synthetic_case(),
        ledger_dir=tmp_path,
    )
    assert isinstance(team.specialists["PatientStatus"], LLMAgent)
    assert not isinstance(team.specialists["PatientHistory"], LLMAgent)
    await team.run(task="What is the current stage?")
    assert len(status_client.requests) == 1 and not other.requests


async def test_model_mode_plans_with_the_llm_planner_and_meters_the_orchestrator(
    tmp_path: Path, data_dir: Path
) -> None:
    client = strict_client()
    team = HealthTeam(
        config(), data_dir=data_dir, model_client=client, case=synthetic_case(), ledger_dir=tmp_path
    )
    assert isinstance(team.planner, LLMPlanner) and team.model_profile == "model"
    await team.run(task="What is the current stage?")
    assert team.last_result is not None
    events = read_ledger(Path(team.last_result.ledger_path)).events
    callers = {e.agent for e in events if e.type == "model_call"}
    assert "Orchestrator" in callers and callers <= {a.name for a in config().agents}
    usage = events[-1].data["usage"]
    assert usage["Orchestrator"]["prompt_tokens"] > 0
    assert usage["total"]["prompt_tokens"] == sum(
        v["prompt_tokens"] for k, v in usage.items() if k != "total"
    )
