"""The language-model planner: the same decisions as the rule planner, made by a model.

Model calls per decision (the economy that lets a run beat Magentic-One):
- ``triage``: one call decides triage and the task ledger together (``triage_plan`` prompt);
- ``task_ledger``: no call (the ledger decided with the triage of this run);
- ``progress``: no call when every step of the wave passed its checkpoints (the rule decides);
  one call when a step failed or nothing could run;
- ``replan``: one call; ``synthesize``: one call.
Each figure is for a valid answer; an invalid one is retried with its errors quoted back, at
most ``max_attempts`` calls in all, and then the fallback planner decides, visibly: the reason
is kept in ``fallbacks`` and written into the decision's rationale or reasons.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal, TypeVar

from autogen_core.models import ChatCompletionClient
from pydantic import BaseModel

from magentic_health.case import Case
from magentic_health.checkpoints import fold, quote_at
from magentic_health.config import TeamConfig
from magentic_health.errors import InputError
from magentic_health.plan import (
    BoolAnswer,
    Exclusion,
    Facts,
    NextAnswer,
    ProgressLedger,
    TaskLedger,
    Triage,
)
from magentic_health.planners import _llm_context as ctx
from magentic_health.planners._llm_answers import (
    BoolItem,
    CitationAnswer,
    FactsAnswer,
    FinalAnswerModel,
    PlanDecision,
    ProgressAnswer,
    ReplanAnswer,
)
from magentic_health.planners._llm_chat import Asked, ask
from magentic_health.planners._llm_checks import (
    check_decision,
    check_progress,
    check_replan,
    keep_completed,
    to_steps,
)
from magentic_health.planners._llm_prompts import Prompt, load_prompt
from magentic_health.planners._protocol import FinalAnswer, Planner, StepOutcome
from magentic_health.planners._synthesis import DISCLAIMER, gaps_of, unresolved
from magentic_health.planners.rule import RulePlanner
from magentic_health.reply import Evidence

T = TypeVar("T", bound=BaseModel)
Decision = Literal["triage", "task_ledger", "progress", "replan", "synthesis"]
RULE_FAST_PATH = "decided by rule: every step of the wave passed its checkpoints"


@dataclass(frozen=True)
class DecisionRecord:
    """How one decision was taken: by the model (with which prompt, in how many calls), by
    rule (no call), from the cache (no call), or by the fallback after failed answers."""

    decision: Decision
    by: Literal["model", "rule", "cache", "fallback"]
    prompt: str | None
    model_calls: int


def client_model_name(client: ChatCompletionClient) -> str | None:
    """The model's name where the client reports one (through its component config)."""
    inner = getattr(client, "inner", None)  # a RecordingClient wraps the real client
    target = inner if isinstance(inner, ChatCompletionClient) else client
    try:
        config = target.dump_component().config
    except (AttributeError, TypeError, NotImplementedError, ValueError):
        return None  # not a serialisable component, e.g. the scripted client
    name = config.get("model") or config.get("azure_deployment")
    return name if isinstance(name, str) and name else None


def _facts(answer: FactsAnswer, *notes: str) -> Facts:
    return Facts(
        given=(*answer.given, *notes),
        to_look_up=tuple(answer.to_look_up),
        to_derive=tuple(answer.to_derive),
        educated_guesses=tuple(answer.educated_guesses),
    )


def _with_note(ledger: TaskLedger, note: str) -> TaskLedger:
    facts = ledger.facts.model_copy(update={"given": (*ledger.facts.given, note)})
    return ledger.model_copy(update={"facts": facts})


def _suffixed(progress: ProgressLedger, note: str) -> ProgressLedger:
    """Every reason of ``progress`` followed by ``note``."""

    def add(item: BoolAnswer) -> BoolAnswer:
        return item.model_copy(update={"reason": f"{item.reason} ({note})"})

    return ProgressLedger(
        is_request_satisfied=add(progress.is_request_satisfied),
        is_in_loop=add(progress.is_in_loop),
        is_progress_being_made=add(progress.is_progress_being_made),
        next=progress.next.model_copy(update={"reason": f"{progress.next.reason} ({note})"}),
    )


def grounded_citations(
    case: Case, citations: list[CitationAnswer]
) -> tuple[tuple[Evidence, ...], list[str]]:
    """The citations whose document is in the case and whose quote occurs in it (whitespace
    and case folded), deduplicated; and a note per citation dropped (no quote text in it)."""
    kept: dict[tuple[str, str], Evidence] = {}
    dropped: list[str] = []
    for c in citations:
        doc = case.document(c.doc_id)
        if doc is None:
            dropped.append(f"a citation of {c.doc_id!r} was dropped: not a document of this case")
        elif not c.quote.strip() or quote_at(fold(doc.text), fold(c.quote)) < 0:
            dropped.append(f"a citation of {c.doc_id!r} was dropped: its quote is not in it")
        else:
            kept.setdefault((c.doc_id, fold(c.quote)), Evidence(doc_id=c.doc_id, quote=c.quote))
    return tuple(kept.values()), dropped


class LLMPlanner:
    """A ``Planner`` whose decisions come from ``model_client``; see the module doc."""

    def __init__(
        self,
        model_client: ChatCompletionClient,
        *,
        max_attempts: int = 3,
        fallback: Planner | None = None,
        model_name: str | None = None,
    ) -> None:
        if max_attempts < 1:
            raise InputError(f"LLMPlanner: max_attempts must be at least 1, got {max_attempts!r}")
        self.model_client = model_client
        self.max_attempts = max_attempts
        self.fallback: Planner = fallback or RulePlanner()
        self._rules = RulePlanner()
        name = model_name or client_model_name(model_client) or "unknown model"
        self._engine = f"language-model planner ({name})"
        self.fallbacks: list[tuple[str, str]] = []
        """(decision, reason) for every decision the fallback planner took."""
        self.decisions: list[DecisionRecord] = []
        self._run: tuple[Triage, TaskLedger | None] | None = None

    @property
    def engine(self) -> str:
        return self._engine

    @property
    def model_calls(self) -> int:
        """Model calls made by this planner so far."""
        return sum(d.model_calls for d in self.decisions)

    async def _ask(
        self,
        decision: Decision,
        prompt: Prompt,
        text: str,
        team: TeamConfig,
        *,
        model: type[T],
        check: Callable[[T], list[str]],
    ) -> Asked[T]:
        asked = await ask(
            self.model_client,
            system=team.facilitator.instructions,
            prompt=text,
            model=model,
            check=check,
            max_attempts=self.max_attempts,
            speaker=team.facilitator.name,
        )
        by: Literal["model", "fallback"] = "model" if asked.answer is not None else "fallback"
        self.decisions.append(DecisionRecord(decision, by, prompt.label, asked.attempts))
        return asked

    def _fell_back(self, decision: Decision, why: str) -> str:
        reason = f"fallback to the {self.fallback.engine}: {why}"
        self.fallbacks.append((decision, reason))
        return reason

    def _failed(self, decision: Decision, prompt: Prompt, asked: Asked[T]) -> str:
        errors = "; ".join(asked.errors[:2])
        return self._fell_back(
            decision,
            f"the model's {decision} answer failed validation in {asked.attempts} attempt(s) "
            f"(prompt {prompt.label}); last error: {errors}",
        )

    def _note(self, prompt: Prompt, attempts: int) -> str:
        return f"decided by the {self.engine}, prompt {prompt.label}, {attempts} model call(s)"

    async def triage(self, case: Case, team: TeamConfig) -> Triage:
        """One model call decides the triage and the task ledger of this run."""
        self._run = None
        prompt = load_prompt("triage_plan")
        text = prompt.render(
            case_id=case.case_id,
            request=case.request,
            case_overview=ctx.case_overview(case),
            roster=ctx.roster(team),
            caps=ctx.caps(team),
        )
        asked = await self._ask(
            "triage",
            prompt,
            text,
            team,
            model=PlanDecision,
            check=lambda a: check_decision(a, case=case, team=team),
        )
        if asked.answer is None:
            reason = self._failed("triage", prompt, asked)
            triage = await self.fallback.triage(case, team)
            triage = triage.model_copy(update={"rationale": f"{triage.rationale} [{reason}]"})
            self._run = (triage, None)
            return triage
        a = asked.answer
        triage = Triage(
            complexity=a.complexity,
            intents=tuple(a.intents) or ("open_question",),
            selected=tuple(dict.fromkeys(a.selected)),
            rationale=f"{a.rationale} [{self._note(prompt, asked.attempts)}]",
            excluded=tuple(Exclusion(agent=e.agent, reason=e.reason) for e in a.excluded),
        )
        ledger = TaskLedger(version=1, facts=_facts(a.facts), plan=to_steps(a.plan))
        self._run = (triage, ledger)
        return triage

    async def task_ledger(self, case: Case, team: TeamConfig, triage: Triage) -> TaskLedger:
        """The ledger decided with ``triage`` (no model call)."""
        if self._run is not None and self._run[0] == triage and self._run[1] is not None:
            label = load_prompt("triage_plan").label
            self.decisions.append(DecisionRecord("task_ledger", "cache", label, 0))
            return self._run[1]
        if self._run is not None and self._run[0] == triage:  # the triage itself fell back
            reason = self.fallbacks[-1][1]
        else:
            reason = self._fell_back(
                "task_ledger", "asked to plan for a triage this planner did not decide"
            )
        self.decisions.append(DecisionRecord("task_ledger", "fallback", None, 0))
        ledger = await self.fallback.task_ledger(case, team, triage)
        return _with_note(ledger, f"planner note: {reason}")

    async def progress(
        self,
        case: Case,
        team: TeamConfig,
        ledger: TaskLedger,
        outcomes: Mapping[str, StepOutcome],
        *,
        wave: int,
    ) -> ProgressLedger:
        """By rule when the whole wave passed (no call); else one model call."""
        this_wave = [o for o in outcomes.values() if o.wave == wave]
        if this_wave and all(o.status == "done" for o in this_wave):
            self.decisions.append(DecisionRecord("progress", "rule", None, 0))
            decided = await self._rules.progress(case, team, ledger, outcomes, wave=wave)
            return _suffixed(decided, RULE_FAST_PATH)
        prompt = load_prompt("progress")
        text = prompt.render(
            wave=str(wave), request=case.request, plan_status=ctx.plan_status(ledger, outcomes)
        )
        asked = await self._ask(
            "progress",
            prompt,
            text,
            team,
            model=ProgressAnswer,
            check=lambda a: check_progress(a, ledger=ledger),
        )
        if asked.answer is None:
            reason = self._failed("progress", prompt, asked)
            decided = await self.fallback.progress(case, team, ledger, outcomes, wave=wave)
            return _suffixed(decided, reason)
        a = asked.answer

        def bool_answer(item: BoolItem) -> BoolAnswer:
            return BoolAnswer(answer=item.answer, reason=item.reason)

        return ProgressLedger(
            is_request_satisfied=bool_answer(a.is_request_satisfied),
            is_in_loop=bool_answer(a.is_in_loop),
            is_progress_being_made=bool_answer(a.is_progress_being_made),
            next=NextAnswer(
                answer=tuple(a.next.answer),
                reason=f"{a.next.reason} [{self._note(prompt, asked.attempts)}]",
            ),
        )

    async def replan(
        self,
        case: Case,
        team: TeamConfig,
        ledger: TaskLedger,
        outcomes: Mapping[str, StepOutcome],
        *,
        reason: str,
    ) -> TaskLedger:
        """One model call; completed steps are always kept, unchanged."""
        tier = self._run[0].complexity if self._run is not None else "high"
        cap = team.team.complexity.cap(tier)
        prompt = load_prompt("replan")
        text = prompt.render(
            reason=reason,
            request=case.request,
            case_overview=ctx.case_overview(case),
            facts=ctx.facts_text(ledger.facts),
            plan_status=ctx.plan_status(ledger, outcomes),
            roster=ctx.roster(team),
            cap=str(cap),
        )
        asked = await self._ask(
            "replan",
            prompt,
            text,
            team,
            model=ReplanAnswer,
            check=lambda a: check_replan(a, team=team, cap=cap, outcomes=outcomes),
        )
        if asked.answer is None:
            why = self._failed("replan", prompt, asked)
            new = await self.fallback.replan(case, team, ledger, outcomes, reason=reason)
            return _with_note(new, f"planner note: {why}")
        a = asked.answer
        done = {sid for sid, o in outcomes.items() if o.status == "done"}
        plan, notes = keep_completed(to_steps(a.plan, known=done), ledger, outcomes)
        facts = _facts(
            a.facts,
            f"re-plan ({self._note(prompt, asked.attempts)}): {reason}; {a.rationale}",
            *notes,
        )
        return TaskLedger(version=ledger.version + 1, facts=facts, plan=plan)

    async def synthesize(
        self,
        case: Case,
        team: TeamConfig,
        triage: Triage,
        ledger: TaskLedger,
        outcomes: Mapping[str, StepOutcome],
    ) -> FinalAnswer:
        """One model call; only citations found verbatim in the case are kept."""
        gaps = gaps_of(ledger, outcomes)
        prompt = load_prompt("synthesis")
        text = prompt.render(
            case_id=case.case_id,
            request=case.request,
            replies=ctx.replies_text(ledger, outcomes),
            gaps="\n".join(f"- {g}" for g in gaps) or "none",
        )
        asked = await self._ask(
            "synthesis",
            prompt,
            text,
            team,
            model=FinalAnswerModel,
            check=lambda a: [] if a.text.strip() else ["text: empty; write the answer"],
        )
        if asked.answer is None:
            reason = self._failed("synthesis", prompt, asked)
            final = await self.fallback.synthesize(case, team, triage, ledger, outcomes)
            return final.model_copy(
                update={"text": f"> Note: {reason}\n\n{final.text}", "gaps": (*final.gaps, reason)}
            )
        citations, dropped = grounded_citations(case, asked.answer.citations)
        missing = [g for g in unresolved(gaps) if g not in asked.answer.text]
        listing = "".join(f"- {g}\n" for g in missing)  # never left to the model to mention
        body = (
            f"{asked.answer.text.strip()}\n\n"
            + (f"## Unresolved gaps and conflicts\n\n{listing}\n" if listing else "")
            + "---\n\n"
            f"> Produced by the {self.engine} from the specialists' verified outputs "
            f"(prompt {prompt.label}). {DISCLAIMER}\n"
        )
        return FinalAnswer(text=body, citations=citations, gaps=(*gaps, *dropped))
