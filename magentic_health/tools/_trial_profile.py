"""The patient as the trial matcher sees them: cancer type, stage, biomarkers, age, sex and
prior therapies, read from the patient status."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from magentic_health.reply import Evidence
from magentic_health.tools._markers import Marker, patient_markers
from magentic_health.tools._oncology import CancerType, cancer_types, stage_base
from magentic_health.tools._status_model import PatientStatus, StatusValue

# How trial text names each cancer type (case-insensitive), and substrings one of which a
# clause must contain before the pattern is tried.
CONDITION_PATTERNS: dict[CancerType, tuple[str, tuple[str, ...]]] = {
    "nsclc": (
        r"non[-\s]?small[-\s]?cell lung|\bNSCLC\b|\blung (?:adeno)?carcinoma|"
        r"adenocarcinoma of (?:the )?lung|\blung cancer",
        ("lung", "nsclc"),
    ),
    "sclc": (r"(?<!non-)(?<!non )\bsmall[-\s]?cell lung|\bSCLC\b|\blung cancer", ("lung", "sclc")),
    "colon": (r"colorectal|\bcolon\b|\bm?CRC\b|\brectal\b", ("colo", "crc", "rect")),
    "rectal": (r"colorectal|\brectal\b|\brectum\b|\bm?CRC\b", ("colo", "crc", "rect")),
    "prostate": (r"prostat|\bm?CRPC\b|\bm[CH]SPC\b", ("prostat", "crpc", "spc")),
    "breast": (r"\bbreast\b|\bTNBC\b", ("breast", "tnbc")),
}
_FAMILY: dict[CancerType, str] = {
    "nsclc": "lung",
    "sclc": "lung",
    "colon": "colorectal",
    "rectal": "colorectal",
    "prostate": "prostate",
    "breast": "breast",
}
BASKET_PATTERN = r"solid tumou?rs?|solid malignanc|any tumou?r type|advanced cancers?\b"
BASKET_HINTS = ("solid", "tumor type", "tumour type", "advanced cancer")

# Therapy classes: how a patient's treatment names a drug, and how trial text names the class.
THERAPY_CLASSES: dict[str, tuple[str, str]] = {
    "anti-PD-1": (
        r"pembrolizumab|keytruda|pembro\b|nivolumab|opdivo|cemiplimab|dostarlimab|"
        r"tislelizumab|sintilimab|toripalimab|camrelizumab",
        r"\bpd-?1\b|pd-\(?l\)?1|anti-pd|programmed (?:cell )?death|checkpoint inhibitor|"
        r"pembrolizumab|nivolumab|immunotherapy",
    ),
    "anti-PD-L1": (
        r"atezolizumab|tecentriq|durvalumab|imfinzi|avelumab",
        r"pd-?l1\b|pd-\(?l\)?1|anti-pd|checkpoint inhibitor|atezolizumab|durvalumab|avelumab",
    ),
    "anti-CTLA-4": (r"ipilimumab|yervoy|tremelimumab", r"ctla-?4|checkpoint inhibitor"),
    "KRAS G12C inhibitor": (
        r"sotorasib|lumakras|adagrasib|krazati|divarasib",
        r"g12c inhibitor|sotorasib|adagrasib|kras[- ]specific|kras inhibitor",
    ),
    "CDK4/6 inhibitor": (
        r"palbociclib|ibrance|ribociclib|kisqali|abemaciclib|verzenio",
        r"cdk ?4/6|cdk inhibitor|cyclin-dependent kinase|palbociclib|ribociclib|abemaciclib",
    ),
    "HER2-directed therapy": (
        r"trastuzumab|herceptin|pertuzumab|perjeta|t-dm1|kadcyla|lapatinib|tucatinib|neratinib",
        r"anti-her2|her2[- ](?:directed|targeted)|trastuzumab|pertuzumab|lapatinib|tucatinib",
    ),
    "EGFR TKI": (
        r"osimertinib|tagrisso|erlotinib|tarceva|gefitinib|iressa|afatinib|dacomitinib",
        r"egfr[- ]tki|egfr (?:tyrosine kinase )?inhibitor|osimertinib|erlotinib|gefitinib",
    ),
    "platinum chemotherapy": (
        r"carboplatin|\bcarbo\b|cisplatin|oxaliplatin",
        r"platinum|carboplatin|cisplatin|oxaliplatin",
    ),
    "taxane": (
        r"paclitaxel|\btaxol\b|docetaxel|taxotere|abraxane",
        r"taxane|paclitaxel|docetaxel",
    ),
}


_NOT_GIVEN = re.compile(r"(?i)\b(?:planned|proposed|recommended|considered|to start|declined)\b")


@dataclass(frozen=True)
class PriorTherapy:
    """A therapy class the patient received and the status entry that says so."""

    therapy_class: str
    text_pattern: str
    drug: str
    """The drug as the status names it, e.g. "pembrolizumab"."""
    evidence: tuple[Evidence, ...]


@dataclass(frozen=True)
class Profile:
    """What the matcher compares a trial against; every field may be missing."""

    diagnosis: StatusValue | None
    cancer_types: tuple[CancerType, ...]
    stage: StatusValue | None
    stage_base: str | None
    advanced: bool
    """Stage IV, M1, or a diagnosis that says metastatic."""
    markers: tuple[Marker, ...]
    age: int | None
    sex: str | None
    """"female" or "male" when the status says so."""
    prior_therapies: tuple[PriorTherapy, ...]
    brain_metastases: bool
    """True only when a status value states brain metastases."""

    def other_cancer_types(self) -> frozenset[CancerType]:
        """The known cancer types of other organs than the patient's (none when the patient's
        type is unknown)."""
        if not self.cancer_types:
            return frozenset()
        families = {_FAMILY[k] for k in self.cancer_types}
        return frozenset(k for k in CONDITION_PATTERNS if _FAMILY[k] not in families)


_CONDITIONS = {k: (re.compile(p, re.IGNORECASE), h) for k, (p, h) in CONDITION_PATTERNS.items()}
_ANY_CONDITION_HINT = re.compile(
    "|".join(re.escape(h) for h in sorted({h for _, hs in CONDITION_PATTERNS.values() for h in hs}))
)


@functools.lru_cache(maxsize=65536)
def cancers_named(text: str) -> frozenset[CancerType]:
    """The cancer types a trial clause names: those one of whose hints occurs in the
    lower-cased text and whose pattern matches. Cached: the matcher asks it of the same
    clauses for every patient."""
    low = text.lower()
    if _ANY_CONDITION_HINT.search(low) is None:
        return frozenset()
    return frozenset(
        kind
        for kind, (pattern, hints) in _CONDITIONS.items()
        if any(h in low for h in hints) and pattern.search(text)
    )


def profile_of(status: PatientStatus) -> Profile:
    """The matcher's view of a patient status."""
    diagnosis = status.diagnosis
    base = stage_base(status.stage_group.value) if status.stage_group else None
    tnm = status.stage_tnm.value if status.stage_tnm else ""
    texts = [v.value for v in (diagnosis, status.stage_tnm, status.stage_group) if v]
    metastatic = any(re.search(r"\bmetasta(?:tic|sis|ses)\b", t, re.I) for t in texts[:1])
    brain = any(
        re.search(r"(?<!no )\b(?:brain|cns|intracranial) metasta", t, re.I)
        for t in texts + [v.value for v in status.treatments]
    )
    sex = (status.sex or "").strip().lower()
    return Profile(
        diagnosis=diagnosis,
        cancer_types=cancer_types(diagnosis.value) if diagnosis else (),
        stage=status.stage_group or status.stage_tnm,
        stage_base=base,
        advanced=base == "IV" or bool(re.search(r"M1", tnm)) or metastatic,
        markers=patient_markers(status.biomarkers),
        age=status.age,
        sex="female" if sex.startswith("f") else "male" if sex.startswith("m") else None,
        prior_therapies=_prior_therapies(status.treatments),
        brain_metastases=brain,
    )


def _prior_therapies(treatments: tuple[StatusValue, ...]) -> tuple[PriorTherapy, ...]:
    """Therapy classes the patient received (planned or proposed treatments do not count),
    each class once, from its first treatment."""
    found: dict[str, PriorTherapy] = {}
    for treatment in treatments:
        if _NOT_GIVEN.search(treatment.value):
            continue
        for name, (drug, text) in THERAPY_CLASSES.items():
            given = re.search(drug, treatment.value, re.IGNORECASE)
            if given and name not in found:
                found[name] = PriorTherapy(name, text, given.group(0), treatment.evidence)
    return tuple(found.values())
