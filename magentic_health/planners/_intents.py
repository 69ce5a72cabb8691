"""Rule-based triage: which intents a request carries and which specialists serve them.

Intents map to tools, not agent names, so a team configuration with other agent names but the
same tools triages the same way.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from magentic_health.case import Case
from magentic_health.config import AgentConfig, Complexity, TeamConfig
from magentic_health.plan import Exclusion, Triage

# intent -> (patterns, tool that serves it); order is the order intents are reported in
_INTENTS: tuple[tuple[str, tuple[str, ...], str | None], ...] = (
    (
        "tumor_board",
        (
            r"tumou?r[ -]?board",
            r"\breview\b",
            r"\bprepare\b",
            r"\breport\b",
            r"\bsummar",
            r"case presentation",
            r"\bmdt\b",
        ),
        "report_export",
    ),
    (
        "status",
        (
            r"\bstag(e|ing)\b",
            r"\bstatus\b",
            r"\bdiagnos",
            r"histolog",
            r"biomarker",
            r"mutation",
            r"\bkras\b",
            r"\begfr\b",
            r"pd-?l1",
            r"\bher2\b",
            r"\becog\b",
            r"performance",
        ),
        "patient_status",
    ),
    ("trials", (r"\btrials?\b", r"\bstud(y|ies)\b", r"\benrol", r"\bjoin\b"), "clinical_trials"),
    (
        "guidelines",
        (
            r"guideline",
            r"treatment options?",
            r"\brecommend",
            r"standard of care",
            r"next (line|step)",
            r"\bpdq\b",
            r"\bnccn\b",
            r"\bshould\b",
        ),
        "clinical_guidelines",
    ),
    (
        "imaging",
        (
            r"\bimaging\b",
            r"\bscans?\b",
            r"\bct\b",
            r"\bpet\b",
            r"\bmri\b",
            r"x-?ray",
            r"radiolog",
            r"\blesions?\b",
            r"\bresponse\b",
        ),
        "radiology",
    ),
    (
        "history",
        (
            r"\bhistory\b",
            r"timeline",
            r"chronolog",
            r"\bcourse\b",
            r"what happened",
            r"prior (treatment|therap)",
        ),
        "patient_timeline",
    ),
)
_ADDRESSED = re.compile(r"^\s*@([A-Za-z][A-Za-z0-9_]*)\b")
_IMAGING_TYPES = re.compile(r"\b(ct|pet|mri|x-?ray|imaging|radiolog|ultrasound)", re.IGNORECASE)


def detect_intents(request: str) -> tuple[str, ...]:
    """The intents a request carries, in a fixed order."""
    text = request.lower()
    return tuple(
        name for name, patterns, _ in _INTENTS if any(re.search(p, text) for p in patterns)
    )


def _tool_of(intent: str) -> str | None:
    return next(tool for name, _, tool in _INTENTS if name == intent)


def _agents_with(team: TeamConfig, tool: str) -> list[AgentConfig]:
    return [a for a in team.specialists if tool in a.tools]


def _has_imaging(case: Case) -> bool:
    return any(
        (d.kind == "report" and _IMAGING_TYPES.search(d.type)) or d.type == "ImagingStudy"
        for d in case.documents
    ) or bool(case.images)


def _with_dependencies(team: TeamConfig, names: list[str]) -> list[str]:
    """``names`` plus everything they depend on, transitively, in config order."""
    wanted = set(names)
    stack = list(names)
    while stack:
        agent = team.agent(stack.pop())
        for dep in agent.depends_on if agent else ():
            if dep not in wanted:
                wanted.add(dep)
                stack.append(dep)
    return [a.name for a in team.specialists if a.name in wanted]


@dataclass(frozen=True)
class _Selection:
    chosen: list[str]
    excluded: list[Exclusion]
    complexity: Complexity


def _tumor_board(case: Case, team: TeamConfig) -> _Selection:
    """Every specialist with data to work on; the report writer is kept; the cap trims the rest
    in configuration order."""
    excluded: list[Exclusion] = []
    candidates: list[AgentConfig] = []
    for agent in team.specialists:
        if "radiology" in agent.tools and len(agent.tools) == 1 and not _has_imaging(case):
            excluded.append(Exclusion(agent=agent.name, reason="the case has no imaging reports"))
        else:
            candidates.append(agent)
    cap = team.team.complexity.cap("high")
    writers = [a for a in candidates if "report_export" in a.tools]
    others = [a for a in candidates if a not in writers]
    room = max(cap - len(writers), 0)
    keep = others[:room] + writers[:cap]
    for agent in others[room:]:
        excluded.append(
            Exclusion(
                agent=agent.name,
                reason=f"the high tier's cap is {cap} specialists; ask it directly "
                f"(e.g. '@{agent.name} ...') for its view",
            )
        )
    chosen = [a.name for a in team.specialists if a in keep]
    return _Selection(chosen, excluded, "high")


def _focused(team: TeamConfig, intents: tuple[str, ...]) -> _Selection:
    names: list[str] = []
    for intent in intents:
        tool = _tool_of(intent)
        names += [a.name for a in _agents_with(team, tool)] if tool else []
    if not names:  # an open question: start from the patient's status and history
        names = [
            a.name
            for a in team.specialists
            if {"patient_status", "patient_timeline"} & set(a.tools)
        ] or [team.specialists[0].name]
    chosen = _with_dependencies(team, names)
    caps = team.team.complexity
    tier: Complexity = (
        "low" if len(chosen) <= caps.low else "moderate" if len(chosen) <= caps.moderate else "high"
    )
    excluded = [
        Exclusion(agent=n, reason=f"the {tier} tier's cap is {caps.cap(tier)} specialists")
        for n in chosen[caps.cap(tier) :]
    ]
    return _Selection(chosen[: caps.cap(tier)], excluded, tier)


def rule_triage(case: Case, team: TeamConfig) -> Triage:
    """Complexity, intents and the selected specialists for ``case.request``."""
    addressed = _ADDRESSED.match(case.request)
    if addressed and (agent := team.agent(addressed.group(1))) and not agent.facilitator:
        return Triage(
            complexity="low",
            intents=("addressed",),
            selected=(agent.name,),
            rationale=f"The request is addressed to @{agent.name}, so it alone answers.",
        )
    intents = detect_intents(case.request)
    sel = _tumor_board(case, team) if "tumor_board" in intents else _focused(team, intents)
    reasons = ", ".join(intents) if intents else "no specific intent (open question)"
    rationale = (
        f"Intents: {reasons}. {sel.complexity.capitalize()} complexity: "
        f"{len(sel.chosen)} specialist(s) selected ({', '.join(sel.chosen)})"
        + (f"; left out: {', '.join(e.agent for e in sel.excluded)}." if sel.excluded else ".")
    )
    return Triage(
        complexity=sel.complexity,
        intents=intents or ("open_question",),
        selected=tuple(sel.chosen),
        rationale=rationale,
        excluded=tuple(sel.excluded),
    )
