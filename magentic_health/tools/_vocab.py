"""Word lists the tools share: cancer terms, oncology drugs, imaging modalities, stage numerals.

They decide what counts as cancer-relevant, so they are kept in one place and kept explicit.
"""

from __future__ import annotations

import re

CANCER = re.compile(
    r"neoplas|carcinoma|cancer|tumou?r|malignan|metasta|lymphoma|leuk[a]?emia|melanoma|"
    r"sarcoma|myeloma|\bnsclc\b|\bsclc\b|oncolog",
    re.IGNORECASE,
)

# generic name -> regex of the names notes and orders use for it (brand names, short forms).
_DRUGS: dict[str, str] = {
    "carboplatin": r"carboplatin|paraplatin|carbo",
    "cisplatin": r"cisplatin",
    "oxaliplatin": r"oxaliplatin|eloxatin",
    "paclitaxel": r"(?<!nab-)paclitaxel|taxol",
    "nab-paclitaxel": r"nab-paclitaxel|abraxane",
    "docetaxel": r"docetaxel|taxotere",
    "pemetrexed": r"pemetrexed|alimta",
    "gemcitabine": r"gemcitabine|gemzar",
    "vinorelbine": r"vinorelbine",
    "etoposide": r"etoposide",
    "irinotecan": r"irinotecan",
    "fluorouracil": r"fluorouracil|5-fu",
    "capecitabine": r"capecitabine|xeloda",
    "leucovorin": r"leucovorin",
    "doxorubicin": r"doxorubicin|adriamycin",
    "cyclophosphamide": r"cyclophosphamide",
    "bevacizumab": r"bevacizumab|avastin",
    "cetuximab": r"cetuximab",
    "trastuzumab": r"trastuzumab|herceptin",
    "pertuzumab": r"pertuzumab",
    "pembrolizumab": r"pembrolizumab|keytruda|pembro",
    "nivolumab": r"nivolumab|opdivo",
    "atezolizumab": r"atezolizumab|tecentriq",
    "durvalumab": r"durvalumab|imfinzi",
    "ipilimumab": r"ipilimumab|yervoy",
    "osimertinib": r"osimertinib|tagrisso",
    "erlotinib": r"erlotinib",
    "gefitinib": r"gefitinib",
    "alectinib": r"alectinib",
    "crizotinib": r"crizotinib",
    "lorlatinib": r"lorlatinib",
    "sotorasib": r"sotorasib|lumakras",
    "adagrasib": r"adagrasib|krazati",
    "dabrafenib": r"dabrafenib",
    "trametinib": r"trametinib",
    "tamoxifen": r"tamoxifen",
    "letrozole": r"letrozole",
    "anastrozole": r"anastrozole",
    "exemestane": r"exemestane",
    "fulvestrant": r"fulvestrant",
    "palbociclib": r"palbociclib|ibrance",
    "ribociclib": r"ribociclib",
    "abemaciclib": r"abemaciclib",
    "leuprolide": r"leuprolide|lupron",
    "goserelin": r"goserelin",
    "abiraterone": r"abiraterone",
    "enzalutamide": r"enzalutamide",
    "bicalutamide": r"bicalutamide",
}
_DRUG_NAMES = list(_DRUGS)
_DRUG_PATTERN = re.compile(
    r"\b(?:" + "|".join(f"(?P<d{i}>{p})" for i, p in enumerate(_DRUGS.values())) + r")\b",
    re.IGNORECASE,
)


# Regimens written by their acronym, and the drugs they are made of.
_REGIMENS: dict[str, tuple[str, ...]] = {
    r"folfirinox|folfoxiri": ("fluorouracil", "leucovorin", "irinotecan", "oxaliplatin"),
    r"folfox\d*|mfolfox\d*": ("fluorouracil", "leucovorin", "oxaliplatin"),
    r"folfiri": ("fluorouracil", "leucovorin", "irinotecan"),
    r"capox|xelox": ("capecitabine", "oxaliplatin"),
    r"tchp": ("docetaxel", "carboplatin", "trastuzumab", "pertuzumab"),
    r"ac-t|ac-p": ("doxorubicin", "cyclophosphamide", "paclitaxel"),
}
_REGIMEN_PATTERN = re.compile(
    r"\b(?:" + "|".join(f"(?P<r{i}>{p})" for i, p in enumerate(_REGIMENS)) + r")\b",
    re.IGNORECASE,
)
_REGIMEN_DRUGS = list(_REGIMENS.values())


def drugs_in(text: str) -> list[tuple[str, int]]:
    """Oncology drugs named in ``text`` as ``(generic name, first position)``, in text order;
    a regimen acronym ("FOLFOX") names each of its drugs."""
    found: dict[str, int] = {}
    for match in _DRUG_PATTERN.finditer(text):
        name = _DRUG_NAMES[int((match.lastgroup or "d0")[1:])]
        found.setdefault(name, match.start())
    for match in _REGIMEN_PATTERN.finditer(text):
        for name in _REGIMEN_DRUGS[int((match.lastgroup or "r0")[1:])]:
            found.setdefault(name, match.start())
    return sorted(found.items(), key=lambda item: item[1])


def drug_aliases(word: str) -> list[str]:
    """Every name of the oncology drug ``word`` names ("keytruda" -> pembrolizumab, keytruda,
    pembro), lower case, or [] when it names none. Regimen acronyms are not expanded."""
    found = drugs_in(word)
    if len(found) != 1 or found[0][1] != 0:
        return []
    pattern = _DRUGS[found[0][0]]
    names = [re.sub(r"\(\?<!?[^)]*\)", "", alias) for alias in pattern.split("|")]
    return list(dict.fromkeys([found[0][0], *names]))


# (modality, pattern): the first that matches names the modality; PET before CT.
MODALITIES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("PET/CT", re.compile(r"\bpet\b|\bpet[-/]ct\b|\bfdg\b", re.IGNORECASE)),
    ("MRI", re.compile(r"\bmri\b|magnetic resonance", re.IGNORECASE)),
    ("CT", re.compile(r"\bct\b|computed tomography|\bcat scan", re.IGNORECASE)),
    ("X-ray", re.compile(r"x-ray|radiograph|\bcxr\b|\bxr\b", re.IGNORECASE)),
    ("Ultrasound", re.compile(r"ultrasound|\bu/s\b|sonograph|echograph", re.IGNORECASE)),
    ("Mammogram", re.compile(r"mammogra|\bmammo\b", re.IGNORECASE)),
    ("Bone scan", re.compile(r"bone scan|scintigra", re.IGNORECASE)),
)


def modality_of(text: str) -> str | None:
    """The imaging modality ``text`` names, or None."""
    for name, pattern in MODALITIES:
        if pattern.search(text):
            return name
    return None


_ROMAN = {"0": "0", "1": "I", "2": "II", "3": "III", "4": "IV"}
STAGE_GROUP = re.compile(
    r"\bstage\s+(?P<num>IV|I{1,3}|[0-4])(?P<sub>[ABC][0-9]?)?(?![\w-]|\.\d)", re.IGNORECASE
)
TNM = re.compile(
    r"\b(?P<prefix>[cpy])?T(?P<t>[0-4][a-d]?|is|x)\s?N(?P<n>[0-3][a-c]?|x)\s?M(?P<m>[01][a-d]?|x)"
    r"(?P<group>\s*\(\s*(?:stage\s+)?(?P<gnum>IV|I{1,3})(?P<gsub>[ABC])?\s*\))?(?!\w)"
)


def roman_stage(number: str, sub: str | None) -> str:
    """Stage group as roman numeral plus letter: ("3", "a") -> "IIIA", ("iv", None) -> "IV"."""
    numeral = _ROMAN.get(number, number.upper())
    return numeral + (sub or "").upper()


def stage_base(group: str) -> str:
    """The numeral of a stage group without its letter: "IVA" -> "IV"."""
    return group.rstrip("ABC0123456789") or group


def specific_histology(text: str) -> str | None:
    """The most specific histology ``text`` names, or None."""
    lowered = text.lower()
    for name in _HISTOLOGIES:
        if name in lowered:
            return name
    return None


# Most specific first: the first one found is the histology.
_HISTOLOGIES = (
    "adenocarcinoma",
    "squamous cell carcinoma",
    "large cell carcinoma",
    "invasive ductal carcinoma",
    "ductal carcinoma in situ",
    "invasive lobular carcinoma",
    "lobular carcinoma",
    "ductal carcinoma",
    "carcinoma in situ",
    "non-small cell carcinoma",
    "small cell carcinoma",
    "neuroendocrine carcinoma",
    "melanoma",
    "sarcoma",
    "lymphoma",
)

_ORGAN_WORDS = {
    "lung": r"lung|pulmonary|nsclc|sclc|bronch",
    "breast": r"breast",
    "colon": r"colon|colorectal|colonic",
    "rectum": r"rectum|rectal",
    "prostate": r"prostate|prostatic",
    "pancreas": r"pancreas|pancreatic",
    "ovary": r"ovary|ovarian",
    "stomach": r"stomach|gastric",
    "esophagus": r"esophag|oesophag",
    "bladder": r"bladder|urothelial",
    "kidney": r"kidney|renal",
    "liver": r"liver|hepatocellular",
    "thyroid": r"thyroid",
    "cervix": r"cervix|cervical",
    "endometrium": r"endometri|uterine",
    "skin": r"skin|cutaneous|melanoma",
}
_ORGAN_PATTERNS = [(o, re.compile(rf"(?:{p})", re.IGNORECASE)) for o, p in _ORGAN_WORDS.items()]


def organ_of(text: str) -> str | None:
    """The organ a diagnosis names ("Non-small cell carcinoma of lung" -> "lung"), or None."""
    for organ, pattern in _ORGAN_PATTERNS:
        if pattern.search(text):
            return organ
    return None


# Tumour markers measured in blood, and the organ whose cancer makes them relevant.
SERUM_MARKERS: dict[str, tuple[re.Pattern[str], str | None]] = {
    "PSA": (re.compile(r"prostate specific ag|\bpsa\b", re.IGNORECASE), "prostate"),
    "CEA": (re.compile(r"carcinoembryonic|\bcea\b", re.IGNORECASE), None),
    "CA-125": (re.compile(r"\bca[- ]?125\b|cancer ag 125", re.IGNORECASE), "ovary"),
    "CA 15-3": (re.compile(r"\bca[- ]?15-3\b|cancer ag 15-3", re.IGNORECASE), "breast"),
    "CA 19-9": (re.compile(r"\bca[- ]?19-9\b|cancer ag 19-9", re.IGNORECASE), "pancreas"),
}

# Biomarkers a tumour board expects for a cancer (by organ; lung means non-small cell), so that
# the status can say which are missing. "MSI" is satisfied by an MSI or an MMR result.
EXPECTED_MARKERS: dict[str, tuple[str, ...]] = {
    "lung": ("EGFR", "ALK", "ROS1", "KRAS", "BRAF", "PD-L1"),
    "breast": ("ER", "PR", "HER2"),
    "colon": ("KRAS", "NRAS", "BRAF", "MSI"),
    "rectum": ("KRAS", "NRAS", "BRAF", "MSI"),
    "prostate": ("PSA",),
    "skin": ("BRAF",),
}

PLANNED = re.compile(
    r"\b(?:will|plan(?:s|ned)?|recommend(?:ed|s)?|consider(?:ed)?|candidate|scheduled|due for|"
    r"to start|would like|pending|ok(?:ay)? for|cleared for)\b",
    re.IGNORECASE,
)
FAMILY_HISTORY = re.compile(
    r"\b(?:mother|father|sister|brother|aunt|uncle|grand(?:mother|father)|cousin|"
    r"family history)\b",
    re.IGNORECASE,
)
