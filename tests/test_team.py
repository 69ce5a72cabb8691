"""The orchestrator loop with scripted specialists (the agent boundary is faked, the loop is
real): waves run concurrently, checkpoint failures are retried then fail the step, a failed
step is never handed on, stalls lead to a re-plan, and limits end the run as partial."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from magentic_health.agents import EventSink, HandoffRequest
from magentic_health.config import AgentConfig, Limits, TeamConfig, TeamSettings
from magentic_health.reply import Evidence, Finding, SpecialistReply
from magentic_health.team import HealthTeam
from magentic_health.trace import read_ledger, verify_ledger
from tests._factories import synthetic_case

GOOD_QUOTE = "KRAS p.G12C detected by NGS"


class Scripted:
    """A specialist whose reply is a function of the hand-off."""

    def __init__(
        self,
        name: str,
        answer: Callable[[HandoffRequest], SpecialistReply],
        delay: float = 0.0,
        log: list[tuple[str, str]] | None = None,
    ) -> None:
        self._name, self._answer, self._delay = name, answer, delay
        self.requests: list[HandoffRequest] = []
        self._log = log if log is not None else []

    @property
    def name(self) -> str:
        return self._name

    async def handle(self, request: HandoffRequest, *, emit: EventSink) -> SpecialistReply:
        self.requests.append(request)
        self._log.append(("start", self._name))
        await asyncio.sleep(self._delay)
        self._log.append(("end", self._name))
        return self._answer(request)


def grounded(name: str, *, quote: str = GOOD_QUOTE, data: dict | None = None):
    def answer(request: HandoffRequest) -> SpecialistReply:
        return SpecialistReply(
            agent=name,
            text=f"{name} says: biomarker found.",
            findings=(
                Finding(claim="KRAS G12C", evidence=(Evidence(doc_id="note-1", quote=quote),)),
            ),
            data={f"{name.lower()}_tool": data or {"from": name}},
        )

    return answer


def team_config(*, limits: Limits | None = None) -> TeamConfig:
    def agent(name: str, deps: tuple[str, ...] = ()) -> AgentConfig:
        return AgentConfig(
            name=name, description=f"{name} role", instructions="do it", tools=(), depends_on=deps
        )

    return TeamConfig(
        team=TeamSettings(name="t", limits=limits or Limits()),
        agents=(
            AgentConfig(name="Boss", facilitator=True, description="lead", instructions="lead"),
            agent("A"),
            agent("B"),
            agent("C", ("A", "B")),
        ),
    )


class FixedPlanner:
    """The rule planner with a fixed triage (every specialist), to exercise the loop."""

    def __init__(self) -> None:
        from magentic_health.planners import RulePlanner

        self._rules = RulePlanner()

    def __getattr__(self, name: str):
        return getattr(self._rules, name)

    @property
    def engine(self) -> str:
        return self._rules.engine

    async def triage(self, case, team):
        from magentic_health.plan import Triage

        names = tuple(a.name for a in team.specialists)
        return Triage(
            complexity="high",
            intents=("open_question",),
            selected=names,
            rationale="test: everyone",
        )


def make_team(tmp_path: Path, specialists: dict[str, Scripted], **kw) -> HealthTeam:
    return HealthTeam(
        team_config(**kw), data_dir=tmp_path, planner=FixedPlanner(), specialists=specialists
    )


async def test_a_clean_run_completes_and_its_ledger_verifies(tmp_path: Path) -> None:
    log: list[tuple[str, str]] = []
    specialists = {n: Scripted(n, grounded(n), delay=0.05, log=log) for n in "ABC"}
    result = await make_team(tmp_path, specialists).run_case(
        synthetic_case(), ledger_path=tmp_path / "l.jsonl"
    )
    assert result.status == "completed"
    # A and B ran concurrently in wave 1: both started before either ended
    assert log[:2] == [("start", "A"), ("start", "B")]
    # C received the outputs of A and B, by tool name
    assert set(specialists["C"].requests[0].upstream) == {"a_tool", "b_tool"}
    assert verify_ledger(tmp_path / "l.jsonl").ok
    types = [e.type for e in read_ledger(tmp_path / "l.jsonl").events]
    assert types[0] == "run_started" and types[-1] == "run_finished"
    assert types.count("handoff") == 3 and types.count("progress_ledger") == 2
    assert GOOD_QUOTE in result.final_text or result.citations[0].quote == GOOD_QUOTE


async def test_an_invented_quote_is_retried_then_fails_and_is_never_handed_on(
    tmp_path: Path,
) -> None:
    invented = "EGFR exon 19 deletion detected"
    specialists = {
        "A": Scripted("A", grounded("A", quote=invented)),
        "B": Scripted("B", grounded("B")),
        "C": Scripted("C", grounded("C")),
    }
    result = await make_team(tmp_path, specialists).run_case(
        synthetic_case(), ledger_path=tmp_path / "l.jsonl"
    )
    events = read_ledger(tmp_path / "l.jsonl").events
    a_checks = [
        e
        for e in events
        if e.type == "checkpoint" and e.agent == "A" and e.data["name"] == "grounding"
    ]
    assert [e.data["passed"] for e in a_checks] == [False, False]  # first try and one retry
    assert "does not occur" in a_checks[0].data["failures"][0]
    retry = [e for e in events if e.type == "handoff" and e.agent == "A"][1]
    assert (
        retry.data["attempt"] == 2 and "Fix these checkpoint failures" in retry.data["instruction"]
    )
    # C ran after a re-plan, without A's output
    assert any(e.type == "replan" for e in events)
    assert "a_tool" not in specialists["C"].requests[0].upstream
    assert result.status == "partial"
    assert invented not in result.final_text
    assert all(c.quote != invented for c in result.citations)
    assert any("A" in g and "failed" in g for g in result.gaps)
    assert verify_ledger(tmp_path / "l.jsonl").ok


async def test_a_citation_to_a_missing_document_fails_grounding(tmp_path: Path) -> None:
    def ghost(request: HandoffRequest) -> SpecialistReply:
        return SpecialistReply(
            agent="B",
            text="x",
            findings=(
                Finding(claim="c", evidence=(Evidence(doc_id="no-such-doc", quote="anything"),)),
            ),
        )

    specialists = {
        "A": Scripted("A", grounded("A")),
        "B": Scripted("B", ghost),
        "C": Scripted("C", grounded("C")),
    }
    await make_team(tmp_path, specialists).run_case(
        synthetic_case(), ledger_path=tmp_path / "l.jsonl"
    )
    failures = [
        f
        for e in read_ledger(tmp_path / "l.jsonl").events
        if e.type == "checkpoint" and e.agent == "B"
        for f in e.data["failures"]
    ]
    assert any("'no-such-doc'" in f and "not a document" in f for f in failures)


async def test_the_turn_limit_ends_the_run_as_partial_without_an_extra_turn(
    tmp_path: Path,
) -> None:
    specialists = {n: Scripted(n, grounded(n)) for n in "ABC"}
    team = make_team(tmp_path, specialists, limits=Limits(max_turns=2))
    result = await team.run_case(synthetic_case(), ledger_path=tmp_path / "l.jsonl")
    events = read_ledger(tmp_path / "l.jsonl").events
    assert [e.type for e in events].count("handoff") == 2
    assert result.status == "partial" and result.limit_hit
    assert "max_turns=2" in (result.reason or "")
    assert events[-1].type == "run_finished" and events[-1].data["status"] == "partial"


async def test_the_time_limit_ends_the_run_as_partial(tmp_path: Path) -> None:
    specialists = {n: Scripted(n, grounded(n), delay=5) for n in "ABC"}
    team = make_team(tmp_path, specialists, limits=Limits(timeout_s=0.2))
    result = await team.run_case(synthetic_case(), ledger_path=tmp_path / "l.jsonl")
    assert result.status == "failed" and result.limit_hit
    assert "timeout_s=0.2" in (result.reason or "")
    assert verify_ledger(tmp_path / "l.jsonl").ok


async def test_an_agent_that_raises_fails_its_step_not_the_run(tmp_path: Path) -> None:
    def boom(request: HandoffRequest) -> SpecialistReply:
        raise RuntimeError("tool crashed")

    specialists = {
        "A": Scripted("A", grounded("A")),
        "B": Scripted("B", boom),
        "C": Scripted("C", grounded("C")),
    }
    result = await make_team(tmp_path, specialists).run_case(
        synthetic_case(), ledger_path=tmp_path / "l.jsonl"
    )
    events = read_ledger(tmp_path / "l.jsonl").events
    assert any(
        e.type == "error" and e.agent == "B" and "tool crashed" in e.data["message"] for e in events
    )
    assert result.status == "partial"
