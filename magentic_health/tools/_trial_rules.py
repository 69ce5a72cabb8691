"""What likely excludes the patient from a trial, each with the criterion quoted and the rule.

Conservative by design: a criterion excludes only when the patient status states the fact it
turns on, the criterion is not hedged ("within 4 weeks", "unless", "in a subset of cohorts",
"except"), and no other clause of the same trial admits the patient (multi-cohort trials
often exclude a group in one cohort and require it in another). Criteria the status cannot
answer (brain metastases) are returned to verify instead.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from magentic_health.tools._markers import (
    RECEPTORS,
    Marker,
    gene_states,
    names_variant,
    protein_changes,
    receptor_polarities,
)
from magentic_health.tools._oncology import roman_stages
from magentic_health.tools._trial_index import Clause, TrialRecord
from magentic_health.tools._trial_match import admitting
from magentic_health.tools._trial_profile import Profile

_EXCLUDED_WORDS = re.compile(r"(?i)\b(?:exclud\w*|not eligible|ineligible)\b")
_TREATMENT_CONTEXT = re.compile(
    r"(?i)\b(?:inhibitor|prior|previous\w*|treated|therapy|history|except\w*)\b"
)
_PRIOR_OPENING = re.compile(
    r"(?i)^(?:(?:patients?|subjects?|participants?)\s+(?:who\s+)?)?(?:(?:has|have|had)\s+)?"
    r"(?:(?:received|undergone)\s+)?(?:any\s+)?(?:prior|previous(?:ly)?|received)\b"
)
_HEDGE = re.compile(
    r"(?i)\b(?:within|unless|except\w*|subset|some|cohorts?|arms?|part\s+\w+|weeks?|days?|"
    r"months?|allowed|permitted|eligible|adjuvant|neoadjuvant|toxicit\w*|side effects?|"
    r"adverse|irae|grade|must|if)\b"
)
_CONDITIONAL = re.compile(
    r"(?i)\b(?:some parts?|cohorts?|arms?|parts?\s+\w+|sub-?stud\w*|if)\b|"
    r"\bfor\s+(?:[\w-]+\s+){0,3}(?:participants|patients|subjects)\b"
)
_METASTATIC = re.compile(
    r"(?i)^(?:(?:presence|evidence) of |known |(?:patients|subjects|participants) with |"
    r"has |have )?(?:[\w,-]+\s+){0,4}?(?:metastatic disease|distant metasta\w*|stage\s+IV\b)"
)
_SITE = re.compile(
    r"(?i)brain|cns|central nervous|leptomening|spinal|bone|liver|hepatic|without|tissue|"
    r"biopsy|malignanc|history|prior"
)
_BRAIN = re.compile(r"(?i)\b(?:brain|cns|central nervous system|intracranial)\s+metasta")
_EARLY_ONLY = re.compile(
    r"(?i)\bnon-?metastatic\b|\bno (?:evidence of )?(?:distant )?metasta|\bearly\b[^.;]*"
    r"\b(?:cancer|carcinoma|disease)\b"
)
_ADMITS_ADVANCED = re.compile(r"(?i)\bmetastatic\b|\badvanced\b|\bstage\s+IV\b|\bunresectable\b")
_AGE_CONTEXT = re.compile(r"(?i)\bage[ds]?\b|years? of age|years? old|\badults?\b")
_AGE_NOISE = re.compile(
    r"(?i)creatinine|weight|\bkg\b|life expectancy|menopaus|amenorr|smok|performance|ecog|"
    r"karnofsky|lansky|%|because|children|assent|guardian|e\.g\.|for example|such as|"
    r"may include"
)
_NOT_YEARS = r"(?!\s*(?:mg|months?|weeks?|days?|%|cm|mm|kg|ml|g\b|x\b)|\.\d)"
_RANGE = re.compile(
    r"(?i)(?:\baged?|\bages|between)\s*(?:of\s*)?(?:the\s+ages?\s+of\s+)?(\d{1,3})\s*"
    r"(?:-|–|to|and)\s*(\d{1,3})|(\d{1,3})\s*(?:-|–|to)\s*(\d{1,3})\s*years"
)
_MIN = re.compile(
    r"(?i)(?:≥|>=|=>|>|at least|greater than or equal to|over|older than|more than|"
    rf"no less than|not less than)\s*(?:\(≥\)\s*)?(\d{{1,3}}){_NOT_YEARS}|"
    r"(\d{1,3})\s*years?(?:\s*of\s*age)?\s*(?:or|and)\s+(?:older|above|over)"
)
_MAX = re.compile(
    r"(?i)(?:≤|<=|=<|<|under|younger than|no older than|up to|(?<!no )(?<!not )less than)\s*"
    r"(\d{1,3})\s*(?:years|yrs)"
)
_FEMALE_ONLY = re.compile(
    r"(?i)^(?:adult\s+|postmenopausal\s+|premenopausal\s+)?(?:female|women|woman)\b"
)
_MALE_ONLY = re.compile(r"(?i)^(?:adult\s+)?(?:male|men|man)\b")


@dataclass(frozen=True)
class Exclusion:
    """A criterion that likely excludes the patient, and why."""

    quote: str
    """Verbatim from the trial text, or ``field: value`` for a structured API v2 field."""
    rule: str
    source: str
    """"criteria", "summary", or the API v2 field, e.g. "eligibilityModule.sex"."""


def exclusions(record: TrialRecord, profile: Profile) -> tuple[list[Exclusion], list[str]]:
    """The likely exclusions, and exclusion criteria to verify (verbatim)."""
    found: list[Exclusion] = []
    found.extend(_sex(record, profile))
    found.extend(_age(record, profile))
    for marker in profile.markers:
        found.extend(_marker(record, marker))
    found.extend(_stage(record, profile))
    found.extend(_prior_therapy(record, profile))
    verify: list[str] = []
    for clause in _excluding(record):
        if _BRAIN.search(clause.text):
            if profile.brain_metastases:
                rule = "excludes brain metastases; the patient status states brain metastases"
                found.append(Exclusion(clause.text, rule, "criteria"))
            else:
                verify.append(clause.text)
            break
    unique = {(e.quote, e.rule): e for e in found}
    return list(unique.values()), verify


def _excluding(record: TrialRecord) -> Iterator[Clause]:
    return (c for c in record.clauses if c.section == "exclusion")


def _source(clause: Clause) -> str:
    return "summary" if clause.section == "summary" else "criteria"


def _sex(record: TrialRecord, profile: Profile) -> list[Exclusion]:
    if profile.sex is None:
        return []
    if record.sex in ("FEMALE", "MALE") and record.sex.lower() != profile.sex:
        rule = f"enrols {record.sex.lower()} patients only; the patient is {profile.sex}"
        return [Exclusion(f"sex: {record.sex}", rule, "eligibilityModule.sex")]
    for clause in record.clauses:
        only = _sex_only(clause.text) if clause.section == "inclusion" else None
        if only is not None and only != profile.sex:
            rule = f"enrols {only} patients only; the patient is {profile.sex}"
            return [Exclusion(clause.text, rule, "criteria")]
    return []


def _about_age(text: str) -> bool:
    """The text speaks of age (every alternative of _AGE_CONTEXT contains a hint)."""
    low = text.lower()
    return any(h in low for h in ("age", "year", "adult")) and bool(_AGE_CONTEXT.search(text))


@functools.lru_cache(maxsize=65536)
def _sex_only(text: str) -> str | None:
    """ "female" or "male" when an eligibility statement admits only that sex; an eligibility
    statement about sex also states the age."""
    if not _about_age(text):
        return None
    if _FEMALE_ONLY.search(text) and not re.search(r"(?i)\b(?:male|men)\b", text):
        return "female"
    if _MALE_ONLY.search(text) and not re.search(r"(?i)\b(?:female|women)\b", text):
        return "male"
    return None


def _age(record: TrialRecord, profile: Profile) -> list[Exclusion]:
    """API v2 minimum/maximum ages; in text, the loosest bounds over all the trial's age
    statements (trials often state an adult and an adolescent range in separate lines)."""
    if profile.age is None:
        return []
    age, out = profile.age, []
    for label, raw in (("minimumAge", record.minimum_age), ("maximumAge", record.maximum_age)):
        years = re.match(r"(\d+)\s*Years?", raw or "")
        if years is None:
            continue
        limit = int(years.group(1))
        if (label == "minimumAge" and age < limit) or (label == "maximumAge" and age > limit):
            rule = f"the patient's age {age} is outside the trial's {label} {raw}"
            out.append(Exclusion(f"{label}: {raw}", rule, f"eligibilityModule.{label}"))
    stated = [
        (clause, _stated_age(clause.text))
        for clause in record.clauses
        if clause.section == "inclusion"
    ]
    stated = [(c, b) for c, b in stated if b != (None, None)]
    lows = [(b[0], c) for c, b in stated if b[0] is not None]
    if lows and all(age < low for low, _ in lows):
        low, clause = min(lows, key=lambda item: item[0])
        rule = f"the patient's age {age} is below the minimum age {low} stated"
        out.append(Exclusion(clause.text, rule, "criteria"))
    highs = [(b[1], c) for c, b in stated if b[1] is not None]
    if stated and len(highs) == len(stated) and all(age > high for high, _ in highs):
        high, clause = max(highs, key=lambda item: item[0])
        rule = f"the patient's age {age} is above the maximum age {high} stated"
        out.append(Exclusion(clause.text, rule, "criteria"))
    return out


@functools.lru_cache(maxsize=65536)
def _stated_age(text: str) -> tuple[int | None, int | None]:
    """The age bounds an eligibility sentence about age states; (None, None) for other text."""
    if not _about_age(text) or _AGE_NOISE.search(text):
        return None, None
    return _age_bounds(" ".join(text.split()))


def _age_bounds(text: str) -> tuple[int | None, int | None]:
    """(minimum, maximum) years one eligibility sentence states, where plausible."""
    span = _RANGE.search(text)
    if span:
        first, last = span.group(1, 2) if span.group(1) else span.group(3, 4)
        start, stop = int(first), int(last)
        return (start, stop) if 0 <= start < stop <= 120 else (None, None)
    low_match, high_match = _MIN.search(text), _MAX.search(text)
    low = int(low_match.group(1) or low_match.group(2)) if low_match else None
    high = int(high_match.group(1)) if high_match else None
    if low is not None and high is not None and high <= low:
        high = None
    return (low if low is not None and low <= 100 else None), high


def _marker(record: TrialRecord, marker: Marker) -> list[Exclusion]:
    """Receptors by polarity, genes by variant or wild-type status."""
    admit = admitting(record)
    if marker.name in RECEPTORS:
        return _receptor(record, admit, marker)
    if marker.polarity != "positive":
        return []
    out: list[Exclusion] = []
    if marker.variant and not any(names_variant(c.text, marker) for c in admit):
        out.extend(_variant(record, admit, marker))
    if not any("positive" in gene_states(c.text, marker.name) for c in admit):
        for clause in admit:
            said = gene_states(clause.text, marker.name)
            if "negative" in said and not _CONDITIONAL.search(clause.text):
                rule = f"requires {marker.name} wild-type; the patient has {marker.label}"
                out.append(Exclusion(clause.text, rule, _source(clause)))
                break
    return out


def _variant(record: TrialRecord, admit: Sequence[Clause], marker: Marker) -> list[Exclusion]:
    """For a trial that never asks for the patient's variant: criteria that exclude it, or
    that ask only for other variants of the same gene ("KRAS G12D" for a G12C tumor)."""
    said = f"{marker.name} {marker.variant}"
    out: list[Exclusion] = []
    for clause in record.clauses:
        if not names_variant(clause.text, marker) or _TREATMENT_CONTEXT.search(clause.text):
            continue
        if clause.section == "exclusion" or _EXCLUDED_WORDS.search(clause.text):
            rule = f"excludes tumors with {said}; the patient has {marker.label}"
            out.append(Exclusion(clause.text, rule, _source(clause)))
    gene_clauses = [c for c in admit if marker.name in c.names]
    if out or not gene_clauses or any(not protein_changes(c.text) for c in gene_clauses):
        return out  # a clause naming the gene without a variant may admit any variant
    clause = min(gene_clauses, key=lambda c: c.section != "inclusion")  # inclusion first
    others = ", ".join(sorted(protein_changes(clause.text)))
    rule = f"requires {marker.name} {others}; the patient has {marker.label}"
    return [Exclusion(clause.text, rule, _source(clause))]


def _receptor(record: TrialRecord, admit: Sequence[Clause], marker: Marker) -> list[Exclusion]:
    """Excluded when the trial asks only for the opposite status (``HER2-`` for a HER2-positive
    patient) or its exclusion criteria name the patient's status. ER and PR count as
    admitted by a "hormone receptor" statement of the same polarity, and HR by ER or PR."""
    if marker.polarity == "unknown":
        return []
    kin = {"ER": ("ER", "HR"), "PR": ("PR", "HR"), "HR": ("HR", "ER", "PR")}.get(
        marker.name, (marker.name,)
    )
    if any(marker.polarity in receptor_polarities(c.text, k) for c in admit for k in kin):
        return []
    opposite = "negative" if marker.polarity == "positive" else "positive"
    status = f"{marker.name} {marker.polarity}"
    out: list[Exclusion] = []
    asking = [
        c
        for c in admit
        if opposite in receptor_polarities(c.text, marker.name) and not _CONDITIONAL.search(c.text)
    ]
    if asking:  # the crispest statement: inclusion criteria first, then the shortest
        clause = min(
            asking,
            key=lambda c: (c.section != "inclusion", marker.name not in c.names, len(c.text)),
        )
        rule = f"requires {marker.name}-{opposite}; the patient is {status}"
        out.append(Exclusion(clause.text, rule, _source(clause)))
    for clause in _excluding(record):
        said = receptor_polarities(clause.text, marker.name)
        if marker.polarity in said and not _TREATMENT_CONTEXT.search(clause.text):
            rule = f"excludes {marker.name}-{marker.polarity} disease; the patient is {status}"
            out.append(Exclusion(clause.text, rule, "criteria"))
            break
    return out


def _stage(record: TrialRecord, profile: Profile) -> list[Exclusion]:
    base, stage = profile.stage_base, profile.stage.value if profile.stage else None
    out: list[Exclusion] = []
    for clause in _excluding(record):
        if base and base in roman_stages(clause.text):
            rule = f"excludes stage {base}; the patient is stage {stage}"
            out.append(Exclusion(clause.text, rule, "criteria"))
        elif profile.advanced and _METASTATIC.match(clause.text) and not _SITE.search(clause.text):
            rule = f"excludes metastatic disease; the patient's stage is {stage or 'metastatic'}"
            out.append(Exclusion(clause.text, rule, "criteria"))
    if profile.advanced:
        admit = admitting(record)
        if not any(_ADMITS_ADVANCED.search(c.text) for c in admit):
            for clause in admit:
                named = roman_stages(clause.text)
                if _EARLY_ONLY.search(clause.text) or (named and "IV" not in named):
                    rule = (
                        "requires early or non-metastatic disease; the patient's stage is "
                        f"{stage or 'metastatic'}"
                    )
                    out.append(Exclusion(clause.text, rule, _source(clause)))
                    break
    return out


def _prior_therapy(record: TrialRecord, profile: Profile) -> list[Exclusion]:
    """Exclusion criteria that open with prior treatment ("Prior therapy with any CDK
    inhibitor", "Has received prior anti-PD-1 ...") naming a class the patient received, with
    no washout, exception or cohort qualifier."""
    out: list[Exclusion] = []
    seen: set[str] = set()
    for therapy in profile.prior_therapies:
        if therapy.therapy_class in seen:
            continue
        for clause in _excluding(record):
            head = _prior_head(clause.text)
            if head is not None and re.search(therapy.text_pattern, head, re.IGNORECASE):
                rule = (
                    f"excludes prior {therapy.therapy_class}; the patient received {therapy.drug}"
                )
                out.append(Exclusion(clause.text, rule, "criteria"))
                seen.add(therapy.therapy_class)
                break
    return out


@functools.lru_cache(maxsize=65536)
def _prior_head(text: str) -> str | None:
    """The opening of an unhedged criterion about prior treatment (up to 120 characters past
    "prior ..."), where a therapy class must be named; None for other criteria."""
    opening = _PRIOR_OPENING.match(text)
    if opening is None or _HEDGE.search(text):
        return None
    return text[: opening.end() + 120]
