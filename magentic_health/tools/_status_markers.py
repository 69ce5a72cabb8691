"""Biomarker mentions: gene alterations, PD-L1, hormone receptors and HER2, Ki-67, MSI/MMR,
TMB and serum tumour markers, in notes and in FHIR Observations (mCODE tumour markers and
genetic variants).

Names are normalised (ERBB2 -> HER2, estrogen receptor -> ER) and results read as written
("p.G12C", "negative", "45%"). A list of genes shares the result after it ("EGFR, ALK and ROS1
negative"), a negation before it makes it negative ("negative for EGFR and ALK", "no KRAS
mutation"), and a negative word after a gene wins over the alteration it names ("ALK
rearrangement negative"). HER2 2+ is equivocal unless an in-situ hybridisation result follows
("HER2 2+, FISH not amplified" -> negative). Mentions of one marker are grouped by polarity, so
that a disagreement between sources is reported as a conflict. Serum markers (PSA, CEA, ...)
are keyed ``serum:<name>``: the status keeps them only for the cancer they belong to.
"""

from __future__ import annotations

import re

from magentic_health.reply import Evidence
from magentic_health.tools._fhir_parse import FhirView, Field, best_value, gene_variant, name_of
from magentic_health.tools._fhir_parse import plain_display as plain
from magentic_health.tools._status_mentions import REPORT_WEIGHT, Mention
from magentic_health.tools._vocab import SERUM_MARKERS

Found = list[tuple[str, str, int]]

_GENE = re.compile(
    r"\b(?:KRAS|NRAS|HRAS|BRAF|EGFR|ALK|ROS1|MET|RET|ERBB2|PIK3CA|TP53|BRCA1|BRCA2|STK11|"
    r"KEAP1|NTRK[123]?|IDH[12]|FGFR[1-4])\b"
)
_LIST_SEP = re.compile(r"\s*(?:,|/|&|\band\b|\bor\b)\s*(?:\band\b\s*|\bor\b\s*)?")
_TAIL_END = re.compile(r"[;\n]|\.(?!\S)")
_CHANGE = re.compile(
    r"\b(?P<p>p\.)?(?P<aa>[ACDEFGHIKLMNPQRSTVWY]\d{1,4}(?:[ACDEFGHIKLMNPQRSTVWY*]|fs|del))\b|"
    r"\bexon \d+ (?:deletion|insertion|skipping)\b"
)
_STATUS = re.compile(
    r"\b(?:not detected|wild[- ]type|negative|positive|mutation|mutated|amplifi\w+|fusion|"
    r"rearrange\w*|neg|pos|detected)\b",
    re.I,
)
_NEG_WORD = re.compile(r"not detected|wild[- ]type|negative|\bneg\b|not amplified|absent", re.I)
_NEG_BEFORE = re.compile(
    r"(?:negative for|\bno\b|\bwithout\b|wild[- ]type for|absence of|not detected:?)\s*"
    r"(?:[\w-]+\s+){0,2}$",
    re.I,
)
_PDL1 = re.compile(
    r"\bPD-?L1\b(?:[^.;\n]|\.(?=\S)){0,40}?(?P<v>\d+(?:\.\d+)?\s*%|negative|positive|\bneg\b|"
    r"\bpos\b|\bhigh\b|\blow\b)",
    re.I,
)
_RECEPTOR = re.compile(
    r"\b(?P<name>ER|PR|HER-?2(?:/neu)?|(?i:estrogen|progesterone) receptors?)"
    r"(?:\s+(?i:is|are|was|status))?\s*[:\-]?\s*(?:\((?i:IHC)\)\s*)?(?P<v>[0-3]\+|\+|-|"
    r"(?i:positive|negative|pos\b|neg\b|amplified|not amplified|equivocal))",
)
_RECEPTOR_PAIR = re.compile(
    r"\b(?P<a>ER|PR)\s*(?:/|and)\s*(?P<b>ER|PR)\s*(?:status\s*)?[:\-]?\s*"
    r"(?P<v>\+|-|(?i:positive|negative))"
)
_ISH = re.compile(
    r"\b(?P<t>FISH|ISH|SISH|CISH)\b[^.;\n]{0,20}?(?P<v>not amplified|non-?amplified|negative|"
    r"amplified|positive)",
    re.I,
)
_KI67 = re.compile(r"\bKi-?67\b[^0-9\n.;]{0,25}(?P<v>\d+(?:\.\d+)?\s*%)", re.I)
_MSI = re.compile(
    r"\b(?:MSI[- ]?(?P<msi>H|high|L|low)\b|(?P<mss>MSS)\b|microsatellite[- ]"
    r"(?:instability[- ](?:is\s+)?(?P<mi>high|low)|(?P<stable>stable))|"
    r"(?P<dmmr>dMMR|MMR[- ]deficient|mismatch repair[- ]deficien\w*|"
    r"loss of (?:MLH1|MSH2|MSH6|PMS2))|"
    r"(?P<pmmr>pMMR|MMR[- ]proficient|mismatch repair[- ]proficient|"
    r"(?:mismatch repair|MMR) proteins? (?:are |is )?intact))",
    re.I,
)
_TMB = re.compile(
    r"\b(?:TMB|tumou?r mutational burden)\b[^0-9\n.;]{0,20}(?P<v>\d+(?:\.\d+)?\s*"
    r"(?:mut(?:ations)?/Mb)?|high|low)",
    re.I,
)
_SERUM_NOTE = re.compile(
    r"\b(?P<name>PSA|CEA|CA[- ]?125|CA[- ]?19-9|CA[- ]?15-3)\b(?:[^0-9\n.;]|\.(?!\s)){0,25}?"
    r"(?P<v>\d+(?:\.\d+)?)\s*(?P<unit>ng/ml|u/ml|iu/ml)?",
    re.I,
)
_NAMES = {"ERBB2": "HER2", "HER-2": "HER2", "HER2/NEU": "HER2", "HER-2/NEU": "HER2"}
_NEGATIVE = re.compile(
    r"negative|\bneg\b|^-$|not detected|wild[- ]type|not amplified|^[01]\+$|^0(?:\.0)?\s*%|^<\s*1|"
    r"^stable$|^low$|^proficient$",
    re.I,
)


def marker_name(raw: str) -> str:
    """Normalised marker name: "ERBB2" -> "HER2", "Estrogen Receptor" -> "ER"."""
    upper = raw.upper().strip()
    for prefix, name in (
        ("ESTROGEN", "ER"),
        ("PROGESTERONE", "PR"),
        ("PD", "PD-L1"),
        ("MICROSATELLITE", "MSI"),
        ("MISMATCH", "MMR"),
        ("KI", "Ki-67"),
        ("TUMOR MUTATION", "TMB"),
        ("TUMOUR MUTATION", "TMB"),
    ):
        if upper.startswith(prefix):
            return name
    return _NAMES.get(upper, upper)


def normal_result(raw: str) -> str:
    """Result wording normalised: "neg" -> "negative", "+" -> "positive"."""
    lowered = raw.strip().lower()
    return {"neg": "negative", "pos": "positive", "+": "positive", "-": "negative"}.get(
        lowered, raw.strip()
    )


def polarity(result: str) -> str:
    if re.fullmatch(r"2\+|equivocal", result.strip(), re.I):
        return "equivocal"
    return "negative" if _NEGATIVE.search(result) else "positive"


def _gene_result(tail: str, before: str) -> str | None:
    """The result the words after a gene (or a list of genes) state, a negation before first."""
    if _NEG_BEFORE.search(before):
        return "negative"
    if change := _CHANGE.search(tail):
        rest = tail[change.end() : change.end() + 25]
        if re.match(r"\s*(?:mutation\s+)?(?:not detected|negative|absent)", rest, re.I):
            return "negative"
        return f"p.{change.group('aa')}" if change.group("aa") else change.group(0)
    words = [m.group(0).lower() for m in _STATUS.finditer(tail)]
    if any(_NEG_WORD.search(w) for w in words):
        return "negative"
    if not words:
        return None
    word = words[0]
    return "mutation" if word.startswith("mutat") or word == "detected" else normal_result(word)


def _genes(body: str) -> Found:
    """Gene results; a list of genes ("EGFR, ALK and ROS1 negative") shares its result."""
    names = list(_GENE.finditer(body))
    groups: list[list[re.Match[str]]] = []
    for match in names:
        if groups and _LIST_SEP.fullmatch(body[groups[-1][-1].end() : match.start()]):
            groups[-1].append(match)
        else:
            groups.append([match])
    found: Found = []
    for index, group in enumerate(groups):
        end = groups[index + 1][0].start() if index + 1 < len(groups) else len(body)
        tail = body[group[-1].end() : min(end, group[-1].end() + 60)]
        tail = tail[: stop.start()] if (stop := _TAIL_END.search(tail)) else tail
        before = body[max(0, group[0].start() - 30) : group[0].start()]
        if result := _gene_result(tail, before):
            found += [(m.group(0), result, m.start()) for m in group]
    return found


def _receptors(body: str) -> Found:
    found: Found = []
    for match in _RECEPTOR_PAIR.finditer(body):
        result = normal_result(match.group("v"))
        found += [
            (match.group("a"), result, match.start()),
            (match.group("b"), result, match.start()),
        ]
    paired = {at for _, _, at in found}
    for match in _RECEPTOR.finditer(body):
        if match.start() in paired:
            continue
        result = normal_result(match.group("v"))
        her2_2plus = marker_name(match.group("name")) == "HER2" and polarity(result) == "equivocal"
        if her2_2plus and (ish := _ISH.search(body, match.end(), match.end() + 60)):
            result = f"{result} ({ish.group('t')} {ish.group('v').lower()})"
        found.append((match.group("name"), result, match.start()))
    return found


def _others(body: str) -> Found:
    found: Found = [("PD-L1", normal_result(m.group("v")), m.start()) for m in _PDL1.finditer(body)]
    found += [("Ki-67", m.group("v").replace(" ", ""), m.start()) for m in _KI67.finditer(body)]
    for m in _MSI.finditer(body):
        if m.group("dmmr") or m.group("pmmr"):
            found.append(("MMR", "deficient" if m.group("dmmr") else "proficient", m.start()))
            continue
        level = (m.group("msi") or m.group("mi") or "").lower()
        result = (
            "high" if level in ("h", "high") else ("low" if level in ("l", "low") else "stable")
        )
        found.append(("MSI", result, m.start()))
    found += [("TMB", m.group("v").strip(), m.start()) for m in _TMB.finditer(body)]
    return found


def markers_in(body: str) -> Found:
    """``(marker name, result, offset)`` of every biomarker result stated in ``body``."""
    found = _genes(body) + _receptors(body) + _others(body)
    return [(marker_name(name), result, at) for name, result, at in found]


def serum_in(body: str) -> Found:
    """``(serum marker name, value, offset)`` of serum tumour marker values ("CEA: 22.8 ng/mL")."""
    found: Found = []
    for match in _SERUM_NOTE.finditer(body):
        name = serum_name(match.group("name"))
        if name:
            unit = match.group("unit") or ""
            found.append((name, f"{match.group('v')} {unit}".strip(), match.start()))
    return found


def serum_name(text: str) -> str | None:
    """The serum tumour marker ``text`` names ("Prostate specific Ag ..." -> "PSA"), or None."""
    return next((name for name, (p, _) in SERUM_MARKERS.items() if p.search(text)), None)


def _number(value: str) -> str:
    """A measured value with long decimals shortened: "4.540451755 ng/mL" -> "4.54 ng/mL"."""
    return re.sub(r"\d+\.\d{3,}", lambda m: f"{float(m.group(0)):.2f}", value)


_FHIR_MARKER = re.compile(
    r"her2|erbb2|estrogen|progesterone|pd-?l1|kras|egfr|\balk\b|ros1|braf|nras|brca|msi|tmb|"
    r"microsatellite|mismatch repair|ki-?67|mutational burden",
    re.I,
)


def fhir_marker(view: FhirView) -> tuple[str, Mention] | None:
    """A tumour-marker, serum-marker or genetic-variant Observation as
    ``("biomarker:<name>" or "serum:<name>", mention)``."""
    if view.resource_type != "Observation":
        return None
    if variant := gene_variant(view):
        return _variant(view, *variant)
    name = name_of(view)
    serum = serum_name(name)
    if not (serum or view.has_profile("tumor-marker") or _FHIR_MARKER.search(name)):
        return None
    value = best_value(view)
    if value is None:
        return None
    result = (
        plain(value.value).lower() if re.search(r"[a-z]{3}", value.value, re.I) else value.value
    )
    ev = Evidence(doc_id=view.doc.id, quote=value.line[:300])
    if serum:
        return f"serum:{serum}", Mention(_number(result), serum, REPORT_WEIGHT, view.date, ev)
    mention = Mention(result, polarity(result), REPORT_WEIGHT, view.date, ev)
    return f"biomarker:{marker_name(name.split(' [')[0].replace(' Receptor', ''))}", mention


def _variant(view: FhirView, gene: str, change: str, line: Field) -> tuple[str, Mention]:
    interpretation = view.value("Interpretation") or ""
    result = change or ("positive" if "POS" in interpretation else "variant reported")
    ev = Evidence(doc_id=view.doc.id, quote=line.line[:300])
    extra = tuple(
        Evidence(doc_id=view.doc.id, quote=c.line[:300])
        for c in view.all("Component")
        if change and change in c.value
    )
    return f"biomarker:{gene}", Mention(
        result, "positive", REPORT_WEIGHT, view.date, ev, extra=extra
    )
