"""HealthTeam against AutoGen's MagenticOneGroupChat: same cases, same specialists, same model.

Usage: python scripts/bench_orchestration.py [--latency-ms 200] [--cases a,b] [--request TEXT]
                                            [--repeat 20] [--json]

For each case it runs (a) ``MagenticOneGroupChat`` and (b) ``HealthTeam`` in model mode and
prints model calls, prompt and completion tokens, wall time, the ratios (b)/(a) and the
orchestration overhead per hand-off (the fastest of --repeat zero-model-latency wall times over
the hand-offs; the median beside it). The zero-latency runs come last, in rounds that take one
run of every case on every system, so both systems are timed across the same stretch of the
machine's varying speed. Targets, reported and never asserted:
calls_ratio <= 0.6, wall_ratio <= 0.5, overhead < 5 ms.

Fairness rules:
- The specialists are the ones the offline triage selects for the request, in its plan order.
  Both systems get the same specialists: AutoGen ``AssistantAgent``s (reflecting on their tool
  use) with the names, descriptions and system messages (``instructions``) of
  configs/tumor_board.yaml, and the same tools: ``FunctionTool``s over the
  ``magentic_health.tools`` specs with the case bound.
- The tools replay the outputs the offline engine's tools produced for the case (computed up
  front, dependencies included), so tool time is ~0 and equal on both sides: the benchmark
  measures orchestration and model time, not index loads. A replayed tool holds its output,
  so both systems call it on the event loop (``ToolSpec.threaded=False``): the hop to a
  worker thread and back that a real tool takes (0.5-1 ms a call on a busy loop) is the cost
  of running a tool, not of orchestrating one.
- One model client class (``ScriptedModelClient``) with the same fixed latency per call, and
  one answer function (``magentic_health.models.simulated.SimulatedModel``): every specialist
  calls each of its tools once, then replies with the offline engine's reply for that agent
  (its text, findings and gaps as JSON); Magentic-One's ledger names the specialists in plan
  order and declares the request satisfied once each has spoken; both final answers are the
  offline engine's synthesis. The model never reads prompt text.
- The same limits: the configuration's ``max_turns`` and ``max_stalls``; no other termination.
- Calls and tokens come from the client's recorded requests and usage; wall time is
  ``time.perf_counter`` around ``team.run(...)``, after one warm-up run of each system. Every
  run starts after ``gc.collect()``, for both systems alike.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import gc
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Annotated, Any

from autogen_agentchat.agents import AssistantAgent
from autogen_agentchat.base import ChatAgent
from autogen_agentchat.messages import BaseChatMessage
from autogen_agentchat.teams import MagenticOneGroupChat
from autogen_core.models import ChatCompletionClient
from autogen_core.tools import FunctionTool
from pydantic import BaseModel

from magentic_health._data import resolve_data_dir
from magentic_health.agents import (
    ARGUMENT_TOOLS,
    HandoffRequest,
    LLMAgent,
    ReplyContract,
    Specialist,
    ToolAgent,
    render_output,
)
from magentic_health.case import Case, list_sample_cases, load_case
from magentic_health.config import AgentConfig, TeamConfig, load_team_config
from magentic_health.models import ModelRequest, RecordingClient, ScriptedModelClient
from magentic_health.models.simulated import SimulatedModel, SimulatedSpecialist, StructuredAnswer
from magentic_health.plan import TaskLedger, Triage
from magentic_health.planners import FinalAnswer, RulePlanner, StepOutcome
from magentic_health.planners.answers import (
    BoolItem,
    CitationAnswer,
    ExclusionAnswer,
    FactsAnswer,
    FinalAnswerModel,
    NextItem,
    PlanDecision,
    ProgressAnswer,
    ReplanAnswer,
    StepAnswer,
)
from magentic_health.team import HandoffUpdate, HealthTeam
from magentic_health.tools import ToolContext, ToolOutput, ToolSpec, get_tool
from magentic_health.trace import EventPayload, ToolResult

DEFAULT_CASES = ("hao_patient_4", "synthea_lung_nsclc", "mcode_breast")
DEFAULT_REQUEST = "Prepare the tumor board review"
DEFAULT_REPEAT = 20
TARGETS = {"calls_ratio": 0.6, "wall_ratio": 0.5, "overhead_ms_per_handoff": 5.0}


@dataclass(frozen=True)
class Reference:
    """What the offline engine produced for a case: the fixed answers both systems replay."""

    case: Case
    triage: Triage
    ledger: TaskLedger
    replies: Mapping[str, str]
    """Each specialist's reply in the reply contract's JSON."""
    tool_outputs: Mapping[str, ToolOutput]
    final: FinalAnswer

    @property
    def agents(self) -> tuple[str, ...]:
        """The selected specialists in plan order."""
        return tuple(dict.fromkeys(s.agent for s in self.ledger.plan))


@dataclass(frozen=True)
class Measure:
    """One run of one system."""

    calls: int
    prompt_tokens: int
    completion_tokens: int
    wall_ms: float
    handoffs: int
    completed: bool


async def offline_reference(case: Case, config: TeamConfig, data_dir: Path) -> Reference:
    """Run the offline planner and tool agents once, step by step, keeping every output."""
    planner = RulePlanner()
    triage = await planner.triage(case, config)
    ledger = await planner.task_ledger(case, config, triage)
    outcomes: dict[str, StepOutcome] = {}
    outputs_by_step: dict[str, dict[str, ToolOutput]] = {}
    for step in ledger.plan:
        captured: dict[str, ToolOutput] = {}

        def emit(
            payload: EventPayload,
            *,
            agent: str | None,
            step: str | None,
            sink: dict[str, ToolOutput] = captured,
        ) -> None:
            if isinstance(payload, ToolResult) and payload.error is None:
                sink[payload.tool] = ToolOutput.model_validate(payload.output)

        upstream = {t: o for d in step.depends_on for t, o in outputs_by_step.get(d, {}).items()}
        request = HandoffRequest(step=step, case=case, data_dir=data_dir, upstream=upstream)
        reply = await ToolAgent(_agent(config, step.agent)).handle(request, emit=emit)
        outputs_by_step[step.id] = captured
        outcomes[step.id] = StepOutcome(step=step, status="done", reply=reply, wave=1)
    final = await planner.synthesize(case, config, triage, ledger, outcomes)
    return Reference(
        case=case,
        triage=triage,
        ledger=ledger,
        replies={
            o.step.agent: ReplyContract.model_validate(
                o.reply.model_dump(mode="json", include={"text", "findings", "gaps"})
            ).model_dump_json()
            for o in outcomes.values()
            if o.reply is not None
        },
        tool_outputs={t: o for outs in outputs_by_step.values() for t, o in outs.items()},
        final=final,
    )


def simulated_model(ref: Reference, config: TeamConfig) -> SimulatedModel:
    """The answer function both systems' clients use."""
    steps = {s.agent: s for s in ref.ledger.plan}
    specialists = []
    for name in ref.agents:
        agent = _agent(config, name)
        specialists.append(
            SimulatedSpecialist(
                name=name,
                tools=tuple(agent.tools),
                reply=ref.replies[name],
                instruction=steps[name].instruction,
                system_message=system_message(agent),
            )
        )
    return SimulatedModel(
        specialists=tuple(specialists),
        final_text=ref.final.text,
        structured=planner_answers(ref),
    )


def _constant(answer: BaseModel) -> StructuredAnswer:
    def reply(_request: ModelRequest) -> BaseModel:
        return answer

    return reply


def planner_answers(ref: Reference) -> dict[str, StructuredAnswer]:
    """HealthTeam's planner decisions, by answer type: the offline triage and plan, "follow
    the plan" when asked for progress or a re-plan, and the offline synthesis."""
    triage, ledger = ref.triage, ref.ledger
    facts = FactsAnswer(**{k: list(v) for k, v in ledger.facts.model_dump().items()})
    plan = [
        StepAnswer(
            id=s.id,
            agent=s.agent,
            instruction=s.instruction,
            depends_on=list(s.depends_on),
            critical=s.critical,
        )
        for s in ledger.plan
    ]
    answers: list[BaseModel] = [
        PlanDecision(
            complexity=triage.complexity,
            intents=list(triage.intents),
            selected=list(ref.agents),
            rationale=triage.rationale,
            excluded=[ExclusionAnswer(agent=e.agent, reason=e.reason) for e in triage.excluded],
            facts=facts,
            plan=plan,
        ),
        ProgressAnswer(
            is_request_satisfied=BoolItem(answer=False, reason="steps remain in the plan"),
            is_in_loop=BoolItem(answer=False, reason="no step repeated"),
            is_progress_being_made=BoolItem(answer=True, reason="new replies came in"),
            next=NextItem(answer=[], reason="follow the plan"),
        ),
        ReplanAnswer(rationale="keep the plan", facts=facts, plan=plan),
        FinalAnswerModel(
            text=ref.final.text,
            citations=[CitationAnswer(doc_id=c.doc_id, quote=c.quote) for c in ref.final.citations],
        ),
    ]
    return {type(a).__name__: _constant(a) for a in answers}


def replayed_tools(ref: Reference) -> dict[str, ToolSpec]:
    """The tool specs, each returning the output it gave the offline engine on this case."""
    specs: dict[str, ToolSpec] = {}
    for name, output in ref.tool_outputs.items():
        real = get_tool(name)
        specs[name] = ToolSpec(
            name=name, description=real.description, run=_replay(output), threaded=False
        )
    return specs


def _replay(output: ToolOutput) -> Callable[[ToolContext], ToolOutput]:
    def run(_ctx: ToolContext) -> ToolOutput:
        return output

    return run


def function_tool(spec: ToolSpec, *, case: Case, data_dir: Path) -> FunctionTool:
    """A ``FunctionTool`` over a tool spec with the case bound, its output rendered as the LLM
    specialists see it; a tool that needs an argument (``ARGUMENT_TOOLS``) takes ``query``,
    the others run on the case's request, as ``LLMAgent`` runs them."""

    async def run_tool(instruction: str) -> str:
        ctx = ToolContext(case=case, instruction=instruction, data_dir=data_dir)
        return render_output(spec.name, await spec.call(ctx))

    if spec.name in ARGUMENT_TOOLS:

        async def with_query(query: str) -> str:
            return await run_tool(query)

        # set at run time: postponed annotations cannot see the closure's ``spec``
        with_query.__annotations__ = {
            "query": Annotated[str, ARGUMENT_TOOLS[spec.name]],
            "return": str,
        }
        return FunctionTool(with_query, description=spec.description, name=spec.name)

    async def on_request() -> str:
        return await run_tool(case.request)

    return FunctionTool(on_request, description=spec.description, name=spec.name)


def system_message(agent: AgentConfig) -> str:
    """The LLM specialist's system message: its instructions and the reply contract."""
    return LLMAgent(agent, model_client=ScriptedModelClient(lambda _r: "")).system_message


def specialists(
    ref: Reference, config: TeamConfig, client: ChatCompletionClient, data_dir: Path
) -> list[ChatAgent]:
    """Magentic-One's participants: AssistantAgents with the LLM specialists' system messages
    and every tool as a function tool (a participant has no other way to use them)."""
    specs = replayed_tools(ref)
    agents: list[ChatAgent] = []
    for name in ref.agents:
        agent = _agent(config, name)
        tools = [function_tool(specs[t], case=ref.case, data_dir=data_dir) for t in agent.tools]
        agents.append(
            AssistantAgent(
                name,
                client,
                tools=list(tools),
                description=agent.description,
                system_message=system_message(agent),
                reflect_on_tool_use=True,
            )
        )
    return agents


def _agent(config: TeamConfig, name: str) -> AgentConfig:
    agent = config.agent(name)
    if agent is None:
        raise KeyError(f"no agent {name!r} in the team configuration")
    return agent


def _measure(client: ScriptedModelClient, wall_s: float, handoffs: int, done: bool) -> Measure:
    usage = client.total_usage()
    return Measure(
        calls=len(client.requests),
        prompt_tokens=usage.prompt_tokens,
        completion_tokens=usage.completion_tokens,
        wall_ms=round(wall_s * 1000, 3),
        handoffs=handoffs,
        completed=done,
    )


async def run_magentic_one(
    ref: Reference, config: TeamConfig, *, latency_s: float, data_dir: Path
) -> Measure:
    """(a) AutoGen's MagenticOneGroupChat over the specialists."""
    model = simulated_model(ref, config)
    client = model.client(latency_s=latency_s)
    limits = config.team.limits
    team = MagenticOneGroupChat(
        specialists(ref, config, client, data_dir),
        client,
        max_turns=limits.max_turns,
        max_stalls=limits.max_stalls,
    )
    start = time.perf_counter()
    result = await team.run(task=ref.case.request)
    wall = time.perf_counter() - start
    spoken = [
        m.source
        for m in result.messages
        if isinstance(m, BaseChatMessage) and m.source in ref.agents
    ]
    last = result.messages[-1] if result.messages else None
    done = (
        set(spoken) == set(ref.agents)
        and isinstance(last, BaseChatMessage)
        and last.to_model_text() == ref.final.text
    )
    return _measure(client, wall, len(spoken), done)


def health_team(
    ref: Reference,
    config: TeamConfig,
    client: ChatCompletionClient,
    *,
    data_dir: Path,
    ledger_dir: Path,
) -> HealthTeam:
    """HealthTeam in model mode: its LLM planner and LLM specialists on ``client``, with the
    replayed tools."""
    specs = replayed_tools(ref)
    agents: dict[str, Specialist] = {
        a.name: LLMAgent(
            a,
            model_client=RecordingClient(client, agent=a.name),
            tools=[specs[t] if t in specs else get_tool(t) for t in a.tools],
        )
        for a in config.specialists
    }
    return HealthTeam(
        config,
        data_dir=data_dir,
        case=ref.case,
        model_client=client,
        specialists=agents,
        ledger_dir=ledger_dir,
    )


async def run_health_team(
    ref: Reference, config: TeamConfig, *, latency_s: float, data_dir: Path
) -> Measure:
    """(b) HealthTeam in model mode: its LLM planner and LLM specialists on the same client."""
    client = simulated_model(ref, config).client(latency_s=latency_s)
    with tempfile.TemporaryDirectory() as out:
        team = health_team(ref, config, client, data_dir=data_dir, ledger_dir=Path(out))
        start = time.perf_counter()
        result = await team.run(task=ref.case.request)
        wall = time.perf_counter() - start
    handoffs = sum(isinstance(m, HandoffUpdate) for m in result.messages)
    status = team.last_result.status if team.last_result is not None else None
    return _measure(client, wall, handoffs, status == "completed")


SYSTEMS = {"magentic_one": run_magentic_one, "health_team": run_health_team}


async def _fresh(
    run: Callable[..., Awaitable[Measure]],
    ref: Reference,
    config: TeamConfig,
    *,
    latency_s: float,
    data_dir: Path,
) -> Measure:
    """One run started from a collected heap, so garbage left by earlier runs (of either
    system) is not collected, and charged, inside this one."""
    gc.collect()
    return await run(ref, config, latency_s=latency_s, data_dir=data_dir)


@dataclass
class _Case:
    """One case being measured: its reference, each system's run at the model latency, and
    its zero-latency runs so far; a system that raised keeps its error instead."""

    name: str
    ref: Reference
    timed: dict[str, Measure] = dataclasses.field(default_factory=dict)
    zero: dict[str, list[Measure]] = dataclasses.field(
        default_factory=lambda: {system: [] for system in SYSTEMS}
    )
    errors: dict[str, str] = dataclasses.field(default_factory=dict)

    def fail(self, system: str, exc: Exception) -> None:
        """Report one system's failure and measure it no more; the other keeps its figures."""
        self.errors[system] = f"{type(exc).__name__}: {exc}"


async def _timed_runs(
    name: str, *, request: str, latency_s: float, config: TeamConfig, data_dir: Path
) -> _Case:
    """A case's reference, then each system's warm-up run and its run at ``latency_s``."""
    case = load_case(name, request=request, data_dir=data_dir)
    ref = await offline_reference(case, config, data_dir)
    measured = _Case(name, ref)
    for system, run in SYSTEMS.items():
        try:
            await _fresh(run, ref, config, latency_s=0.0, data_dir=data_dir)
            measured.timed[system] = await _fresh(
                run, ref, config, latency_s=latency_s, data_dir=data_dir
            )
        except Exception as exc:
            measured.fail(system, exc)
    return measured


async def _zero_latency_rounds(
    cases: Sequence[_Case], *, repeat: int, config: TeamConfig, data_dir: Path
) -> None:
    """``repeat`` rounds, each one zero-latency run of every case on every system.

    Interleaved rather than one system's runs back to back: a shared machine's speed changes
    from one second to the next (a fixed loop's best time swings up to 1.8x), so runs taken
    together would measure the machine at one moment; spread over the rounds, both systems
    meet the same moments, and each one's fastest run is its cost with the least
    interference. The order of the systems alternates from round to round."""
    for round_ in range(repeat):
        systems = list(SYSTEMS.items())
        if round_ % 2:
            systems.reverse()
        for case in cases:
            for system, run in systems:
                if system in case.errors:
                    continue
                try:
                    measure = await _fresh(run, case.ref, config, latency_s=0.0, data_dir=data_dir)
                except Exception as exc:
                    case.fail(system, exc)
                    continue
                case.zero[system].append(measure)


def _row(case: _Case) -> dict[str, Any]:
    """A case's figures per system: the run at the model latency, and the overhead per
    hand-off from the fastest zero-latency run (``timeit``'s convention: slower runs measure
    other processes, not the code), the median beside it."""
    row: dict[str, Any] = {"case": case.name, "specialists": list(case.ref.agents)}
    for system in SYSTEMS:
        if system in case.errors:
            row[system] = {"error": case.errors[system]}
            continue
        timed, zero = case.timed[system], case.zero[system]
        wall0 = min(z.wall_ms for z in zero)
        median0 = statistics.median(z.wall_ms for z in zero)
        row[system] = {
            **asdict(timed),
            "completed": timed.completed and all(z.completed for z in zero),
            "zero_latency_runs": len(zero),
            "zero_latency_wall_ms": wall0,
            "zero_latency_median_ms": median0,
            "overhead_ms_per_handoff": _per(wall0, timed.handoffs),
            "overhead_ms_per_handoff_median": _per(median0, timed.handoffs),
        }
    row.update(_ratios([row]))
    return row


def _per(total: float, count: int) -> float | None:
    return round(total / count, 3) if count else None


def _sum(rows: Sequence[Mapping[str, Any]], system: str, key: str) -> float | None:
    values = [r[system].get(key) for r in rows]
    if any(v is None for v in values):
        return None
    return float(sum(values))


def _ratios(rows: Sequence[Mapping[str, Any]]) -> dict[str, float | None]:
    """(b)/(a) over the rows, and each system's overhead per hand-off at zero latency."""
    out: dict[str, float | None] = {}
    for key, field in (("calls_ratio", "calls"), ("wall_ratio", "wall_ms")):
        a, b = _sum(rows, "magentic_one", field), _sum(rows, "health_team", field)
        out[key] = round(b / a, 3) if a and b is not None else None
    for system, prefix in (("health_team", ""), ("magentic_one", "magentic_one_")):
        handoffs = _sum(rows, system, "handoffs")
        for field, suffix in (("zero_latency_wall_ms", ""), ("zero_latency_median_ms", "_median")):
            wall = _sum(rows, system, field)
            out[f"{prefix}overhead_ms_per_handoff{suffix}"] = (
                _per(wall, int(handoffs)) if wall is not None and handoffs else None
            )
    return out


def _totals(rows: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, float | None]]:
    """Each system's figures summed over the rows."""
    fields = ("calls", "prompt_tokens", "completion_tokens", "wall_ms", "handoffs")
    return {system: {f: _sum(rows, system, f) for f in fields} for system in SYSTEMS}


def _line(label: str, system: str, m: Mapping[str, Any]) -> str:
    if "error" in m:
        return f"{label:<22} {system:<13} error: {m['error']}"
    per = m.get("overhead_ms_per_handoff")
    done = m.get("completed")
    return (
        f"{label:<22} {system:<13} {m['calls']:>6.0f} {m['prompt_tokens']:>9.0f} "
        f"{m['completion_tokens']:>8.0f} {m['wall_ms']:>10.1f} {m['handoffs']:>9.0f} "
        f"{'-' if per is None else f'{per:.2f}':>13} {'' if done is None else done}"
    )


def _print_table(report: Mapping[str, Any]) -> None:
    head = f"{'case':<22} {'system':<13} {'calls':>6} {'prompt':>9} {'compl.':>8} {'wall ms':>10}"
    print(head + f" {'hand-offs':>9} {'ms/hand-off@0':>13} completed")
    for row in report["cases"]:
        for system in SYSTEMS:
            print(_line(row["case"], system, row[system]))
        print(f"{'':<22} (b)/(a): calls {row['calls_ratio']}  wall {row['wall_ratio']}")
    for system, figures in report["total"].items():
        if None not in figures.values():
            print(_line("total", system, figures))
    keys = ("calls_ratio", "wall_ratio", "overhead_ms_per_handoff")
    print(
        "total:",
        ", ".join(
            f"{k}={report[k]}"
            for k in (
                *keys,
                "overhead_ms_per_handoff_median",
                "magentic_one_overhead_ms_per_handoff",
                "magentic_one_overhead_ms_per_handoff_median",
            )
        ),
    )
    print("targets:", ", ".join(f"{k} <= {v}" for k, v in TARGETS.items()))
    print(f"model latency {report['latency_ms']} ms a call; figures, not pass/fail")


async def bench(
    cases: Sequence[str], *, request: str, latency_ms: float, repeat: int = DEFAULT_REPEAT
) -> dict[str, Any]:
    """Every case on both systems, with the totals: first each case's runs at the model
    latency, then ``repeat`` interleaved rounds of zero-latency runs."""
    config = load_team_config()
    data_dir = resolve_data_dir()
    measured = [
        await _timed_runs(
            name,
            request=request,
            latency_s=latency_ms / 1000,
            config=config,
            data_dir=data_dir,
        )
        for name in cases
    ]
    await _zero_latency_rounds(measured, repeat=repeat, config=config, data_dir=data_dir)
    rows = [_row(case) for case in measured]
    ok = [r for r in rows if all("error" not in r[s] for s in SYSTEMS)]
    return {
        "request": request,
        "latency_ms": latency_ms,
        "repeat": repeat,
        "targets": TARGETS,
        "cases": rows,
        "total": _totals(ok),
        **_ratios(ok),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--latency-ms", type=float, default=200.0, help="Model latency a call.")
    parser.add_argument(
        "--cases",
        default=",".join(DEFAULT_CASES),
        help="Comma-separated sample case names (see 'magentic-health cases').",
    )
    parser.add_argument("--request", default=DEFAULT_REQUEST, help="The request for every case.")
    parser.add_argument(
        "--repeat",
        type=int,
        default=DEFAULT_REPEAT,
        help=(
            "Rounds of zero-latency runs, each one run per case and system, interleaved (the "
            "fastest gives the overhead; the median is shown)."
        ),
    )
    parser.add_argument("--json", action="store_true", help="Print one JSON object.")
    args = parser.parse_args(argv)
    known = {s.name for s in list_sample_cases()}
    cases = [c.strip() for c in args.cases.split(",") if c.strip()]
    unknown = [c for c in cases if c not in known]
    if unknown or not cases:
        parser.error(f"--cases: unknown {unknown!r}; known: {', '.join(sorted(known))}")
    if args.repeat < 1 or args.latency_ms < 0:
        parser.error("--repeat must be at least 1 and --latency-ms at least 0")
    report = asyncio.run(
        bench(cases, request=args.request, latency_ms=args.latency_ms, repeat=args.repeat)
    )
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        _print_table(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
