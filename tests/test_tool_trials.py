"""clinical_trials: matching the local trial records on condition, stage, biomarkers, age and
sex, with quoted supporting and excluding criteria."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from magentic_health.case import Case, Document, Patient
from magentic_health.errors import InputError
from magentic_health.reply import Evidence
from magentic_health.tools._base import ToolContext, ToolOutput
from magentic_health.tools._markers import GENES, RECEPTORS, text_pattern
from magentic_health.tools._oncology import roman_stages, stages_named
from magentic_health.tools._status_model import Biomarker, PatientStatus, StatusValue
from magentic_health.tools._trial_index import NEGATION, TrialIndex, trial_index
from magentic_health.tools._trial_match import _EARLY, is_early
from magentic_health.tools._trial_profile import CONDITION_PATTERNS, cancers_named
from magentic_health.tools._trial_study import parse_study, protocol_only
from magentic_health.tools.trials import SPEC, TrialMatches, TrialResult, match_trials

# KRAS G12C trials of the shared set that enrol NSCLC (checked against the records below).
KRAS_G12C_NSCLC = {
    "NCT04092673",
    "NCT04585035",
    "NCT04892017",
    "NCT04956640",
    "NCT04973163",
    "NCT05119933",
    "NCT05276726",
    "NCT05383898",
}
PALLAS = "NCT02513394"
PALLAS_HER2_NEGATIVE = (
    "Patients must have histologically confirmed ER+ and/or PR+, HER2-, early invasive "
    "breast cancer."
)
NOTE = (
    "Follow-up for non-small cell lung cancer T4N3M1a (IVA). NGS returned showing KRAS p.G12C "
    "mutation. PD-L1 neg. Completed carbo/taxol/keytruda. Adagrasib planned."
)


def _value(value: str, quote: str) -> StatusValue:
    return StatusValue(value=value, evidence=(Evidence(doc_id="note-1", quote=quote),))


def _marker(name: str, result: str, quote: str) -> Biomarker:
    return Biomarker(name=name, result=result, evidence=(Evidence(doc_id="note-1", quote=quote),))


def hao_like(*, treatments: tuple[StatusValue, ...] = ()) -> PatientStatus:
    return PatientStatus(
        diagnosis=_value("non-small cell lung cancer", "non-small cell lung cancer"),
        stage_tnm=_value("T4N3M1a", "T4N3M1a"),
        stage_group=_value("IVA", "(IVA)"),
        biomarkers=(
            _marker("KRAS", "p.G12C", "KRAS p.G12C"),
            _marker("PD-L1", "negative", "PD-L1 neg"),
        ),
        treatments=treatments,
        age=59,
        sex="female",
    )


def breast(
    *, her2: str = "positive", stage: str = "IIIA", sex: str = "female", age: int = 52
) -> PatientStatus:
    return PatientStatus(
        diagnosis=_value("Malignant neoplasm of breast", "breast"),
        stage_group=_value(stage, stage),
        biomarkers=(_marker("HER2", her2, "HER2"), _marker("ER", "positive", "ER")),
        age=age,
        sex=sex,
    )


@pytest.fixture(scope="module")
def index(data_dir: Path) -> TrialIndex:
    return trial_index(data_dir)


def _by_id(matches: TrialMatches) -> dict[str, TrialResult]:
    return {t.nct_id: t for t in matches.candidates + matches.excluded}


def test_the_shared_set_holds_the_expected_records(index: TrialIndex) -> None:
    records = {r.nct_id: r for r in index.records}
    assert len(records) == 299  # 298 text records plus the PALLAS API v2 record
    for nct in KRAS_G12C_NSCLC:
        text = records[nct].document
        assert "G12C" in text and ("NSCLC" in text or "non-small cell" in text.lower())
    pallas = records[PALLAS]
    assert pallas.title == "PALbociclib CoLlaborative Adjuvant Study (PALLAS)"
    assert pallas.status == "ACTIVE_NOT_RECRUITING"
    assert (pallas.sex, pallas.minimum_age) == ("ALL", "18 Years")
    for record in index.records:
        assert all(clause.text in record.document for clause in record.clauses)


def test_kras_g12c_nsclc_trials_rank_first(index: TrialIndex) -> None:
    result = match_trials(hao_like(), index=index)
    top = result.candidates[: len(KRAS_G12C_NSCLC)]
    assert {t.nct_id for t in top} == KRAS_G12C_NSCLC
    records = {r.nct_id: r for r in index.records}
    for trial in top:
        assert "biomarker: KRAS p.G12C" in trial.reasons
        assert trial.reasons[0] == "condition: non-small cell lung cancer"
        assert trial.matched_criteria
        for quote in trial.matched_criteria:
            assert quote in records[trial.nct_id].document
        assert any("G12C" in q for q in trial.matched_criteria)
        assert trial.url == f"https://clinicaltrials.gov/study/{trial.nct_id}"
    keys = [(-t.score, t.nct_id) for t in result.candidates]
    assert keys == sorted(keys)
    assert match_trials(hao_like(), index=index) == result  # deterministic


# The full rankings (NCT id, score) on the shared set as the matcher gave them before its
# speed-up (hint pre-tests, cached per-clause facts): any change to them is a change of results.
HAO_RANKING = (
    [
        ("NCT04092673", 8.0),
        ("NCT04585035", 8.0),
        ("NCT04892017", 8.0),
        ("NCT04956640", 8.0),
        ("NCT04973163", 8.0),
        ("NCT05119933", 8.0),
        ("NCT05276726", 8.0),
        ("NCT05383898", 8.0),
        ("NCT04185883", 6.0),
        ("NCT05358249", 6.0),
    ],
    [
        ("NCT04015778", 4.0),
        ("NCT04795713", 4.0),
        ("NCT04669899", 2.5),
        ("NCT03929666", 2.0),
        ("NCT05379985", 2.0),
        ("NCT05533463", 2.0),
        ("NCT05737706", 2.0),
        ("NCT05445310", 1.5),
        ("NCT05412225", 1.0),
    ],
    114,
)
BREAST_RANKING = (
    [
        ("NCT04997798", 10.0),
        ("NCT04092673", 9.0),
        ("NCT04683445", 9.0),
        ("NCT01120561", 7.0),
        ("NCT03944499", 7.0),
        ("NCT05040685", 7.0),
        ("NCT03368729", 6.0),
        ("NCT03733990", 6.0),
        ("NCT04294628", 6.0),
        ("NCT04778982", 6.0),
    ],
    [
        ("NCT02513394", 9.0),
        ("NCT03188965", 9.0),
        ("NCT04355858", 9.0),
        ("NCT04524000", 6.0),
        ("NCT04732598", 6.0),
        ("NCT05194072", 6.0),
        ("NCT05307705", 6.0),
        ("NCT05504213", 6.0),
        ("NCT05554354", 6.0),
        ("NCT05252416", 4.0),
    ],
    102,
)


@pytest.mark.parametrize(
    ("status", "expected"), [(hao_like, HAO_RANKING), (breast, BREAST_RANKING)]
)
def test_rankings_are_those_of_the_plain_matcher(
    index: TrialIndex, status: Callable[[], PatientStatus], expected: tuple[object, ...]
) -> None:
    for _ in range(2):  # cold, then with every per-clause fact cached
        result = match_trials(status(), index=index)
        ranking = (
            [(t.nct_id, t.score) for t in result.candidates],
            [(t.nct_id, t.score) for t in result.excluded],
            result.considered,
        )
        assert ranking == expected


def test_hint_pre_tests_agree_with_the_plain_patterns_on_every_clause(index: TrialIndex) -> None:
    """Each fast path skips a regex when a substring is absent; on the shared set's ~10,000
    clauses it must give what the regex alone gives."""
    names = (*sorted(RECEPTORS), *GENES, "RAS")
    patterns = {n: re.compile(r"\bRAS\b" if n == "RAS" else text_pattern(n)) for n in names}
    conditions = {k: re.compile(p, re.I) for k, (p, _) in CONDITION_PATTERNS.items()}
    for record in index.records:
        for clause in record.clauses:
            text = clause.text
            assert clause.names == {n for n, p in patterns.items() if p.search(text)}, text
            assert cancers_named(text) == {k for k, p in conditions.items() if p.search(text)}
            assert clause.negated == bool(NEGATION.search(text))
            assert is_early(text) == bool(_EARLY.search(text))
            assert roman_stages(text) == stages_named(text, roman_only=True)


def test_the_study_file_is_read_from_its_protocol_section_alone(data_dir: Path) -> None:
    text = (data_dir / "mcode" / f"{PALLAS}.json").read_text("utf-8")
    assert set(protocol_only(text)) == {"protocolSection"}
    assert parse_study(protocol_only(text)) == parse_study(json.loads(text))
    assert protocol_only('{"hasResults": false}') == {"hasResults": False}  # other layouts


def test_trials_that_exclude_or_ask_for_another_variant_are_flagged(index: TrialIndex) -> None:
    result = match_trials(hao_like(), index=index, limit=300)
    trials = _by_id(result)
    candidates = {t.nct_id for t in result.candidates}
    rmc = trials["NCT05379985"]  # "KRAS p.G12 mutant ..., KRAS p.G12C excluded"
    assert "NCT05379985" not in candidates
    assert any(
        e.quote == "Tumor harboring the KRAS p.G12C mutation"
        and "excludes tumors with KRAS G12C" in e.rule
        for e in rmc.excluding_criteria
    )
    g12d = trials["NCT05533463"]
    assert "NCT05533463" not in candidates
    assert g12d.excluding_criteria[0].rule == "requires KRAS G12D; the patient has KRAS p.G12C"


def test_prior_therapy_exclusions_need_the_therapy_in_the_status(index: TrialIndex) -> None:
    pembro = _value("carboplatin + paclitaxel + pembrolizumab", "carbo/taxol/keytruda")
    planned = _value("adagrasib — planned", "Adagrasib planned")
    treated = _by_id(match_trials(hao_like(treatments=(pembro, planned)), index=index, limit=300))
    rule = "excludes prior anti-PD-1; the patient received pembrolizumab"
    nivolumab = treated["NCT03808480"]
    assert [(e.quote, e.rule) for e in nivolumab.excluding_criteria] == [
        ("Previous therapy with anti-PD-1 or -PD-L1 inhibitors", rule)
    ]
    assert all(
        "KRAS G12C inhibitor" not in e.rule for t in treated.values() for e in t.excluding_criteria
    )
    naive = match_trials(hao_like(), index=index, limit=300)
    assert "NCT03808480" in {t.nct_id for t in naive.candidates}


def test_her2_positive_breast_patient_is_excluded_from_pallas(index: TrialIndex) -> None:
    result = match_trials(breast(), index=index)
    assert result.candidates[0].nct_id == "NCT04997798"  # stage II-III ER+/HER2+ breast
    pallas = _by_id(result)[PALLAS]
    assert pallas in result.excluded
    assert pallas.status == "ACTIVE_NOT_RECRUITING"
    assert [(e.quote, e.rule, e.source) for e in pallas.excluding_criteria] == [
        (PALLAS_HER2_NEGATIVE, "requires HER2-negative; the patient is HER2 positive", "criteria")
    ]
    record = next(r for r in index.records if r.nct_id == PALLAS)
    assert PALLAS_HER2_NEGATIVE in record.document


def test_her2_negative_early_breast_patient_fits_pallas_and_stage_iv_does_not(
    index: TrialIndex,
) -> None:
    early = _by_id(match_trials(breast(her2="negative", stage="IIA"), index=index, limit=300))
    assert early[PALLAS].excluding_criteria == ()
    assert "biomarker: HER2 negative" in early[PALLAS].reasons
    late = _by_id(match_trials(breast(her2="negative", stage="IV"), index=index, limit=300))
    rules = [e.rule for e in late[PALLAS].excluding_criteria]
    assert "excludes stage IV; the patient is stage IV" in rules


def test_a_male_patient_is_excluded_from_female_only_trials(index: TrialIndex) -> None:
    male = _by_id(match_trials(breast(sex="male"), index=index, limit=300))
    female = _by_id(match_trials(breast(sex="female"), index=index, limit=300))
    for nct, quote in (
        ("NCT04683445", "Adult female patients (aged 18-80 years"),
        ("NCT03368729", "Women age ≥ 18 years"),
    ):
        rules = [(e.quote, e.rule) for e in male[nct].excluding_criteria]
        assert any(
            q.startswith(quote) and r == "enrols female patients only; the patient is male"
            for q, r in rules
        )
        assert not any("female patients only" in e.rule for e in female[nct].excluding_criteria)


def test_a_biomarker_match_in_another_cancers_trial_is_no_fit(index: TrialIndex) -> None:
    stk11 = _marker("STK11", "NC_000019.8:g.1171707G>A", "STK11")  # as in the mCODE bundle
    lung = hao_like().model_copy(update={"biomarkers": (stk11,)})
    lung_trials = _by_id(match_trials(lung, index=index, limit=300))
    assert "biomarker: STK11 (gene-level match)" in lung_trials["NCT05276726"].reasons
    with_breast = breast().model_copy(update={"biomarkers": (stk11,)})
    assert "NCT05276726" not in _by_id(match_trials(with_breast, index=index, limit=300))


def test_age_limits_exclude_an_older_patient(index: TrialIndex) -> None:
    old = _by_id(match_trials(breast(age=85), index=index, limit=300))
    rules = [e.rule for e in old["NCT04683445"].excluding_criteria]
    assert "the patient's age 85 is above the maximum age 80 stated" in rules
    young = _by_id(match_trials(breast(age=52), index=index, limit=300))
    assert not any("age" in e.rule for e in young["NCT04683445"].excluding_criteria)


# A small synthetic data directory in the shapes of the shared files.
TEXT_SET = {
    "size": 3,
    "trials": [
        {
            "id": "NCT90000001",
            "document": (
                "A study of drug X in KRAS G12C mutant non-small cell lung cancer. "
                "Now recruiting.\n"
                " ;NA;\n"
                " Key Inclusion Criteria:\n"
                " - Age ≥ 18 years.\n"
                " - Locally advanced or metastatic NSCLC with a KRAS G12C\n"
                " mutation.\n"
                " Key Exclusion Criteria:\n"
                " - Prior treatment with a KRAS G12C inhibitor.\n"
                " - Active brain metastases."
            ),
        },
        {
            "id": "NCT90000002",
            "document": (
                "Drug Y for HER2-positive breast cancer.\n ;\n ;\n"
                " Inclusion criteria\n"
                " 1. Women aged 18 to 75 years with HER2-positive breast cancer.\n"
                " Exclusion criteria\n"
                " 1. Pregnancy."
            ),
        },
        {
            "id": "NCT90000003",
            "document": (
                "A melanoma vaccine.\n ;NA;\n Inclusion Criteria:\n - Melanoma.\n"
                " Exclusion Criteria:\n - None."
            ),
        },
    ],
}
API_RECORD = {
    "protocolSection": {
        "identificationModule": {"nctId": "NCT90000004", "briefTitle": "Drug Z", "acronym": "ZED"},
        "statusModule": {"overallStatus": "RECRUITING"},
        "conditionsModule": {"conditions": ["Breast Cancer"]},
        "descriptionModule": {"briefSummary": "Drug Z in HER2-positive breast cancer."},
        "eligibilityModule": {
            "eligibilityCriteria": "Inclusion Criteria:\n\n* HER2-positive breast cancer\n\n"
            "Exclusion Criteria:\n\n* Prior therapy with trastuzumab within 4 weeks.",
            "sex": "FEMALE",
            "minimumAge": "18 Years",
            "maximumAge": "65 Years",
        },
    }
}


@pytest.fixture
def synthetic_dir(tmp_path: Path) -> Path:
    (tmp_path / "trials").mkdir()
    (tmp_path / "trials" / "random_trials.json").write_text(json.dumps(TEXT_SET), "utf-8")
    (tmp_path / "trials" / "NCT90000004.json").write_text(json.dumps(API_RECORD), "utf-8")
    return tmp_path


def test_parsing_splits_summary_inclusion_and_exclusion(synthetic_dir: Path) -> None:
    records = {r.nct_id: r for r in trial_index(synthetic_dir).records}
    first = records["NCT90000001"]
    assert first.status == "RECRUITING"
    assert [(c.section, c.text) for c in first.clauses] == [
        ("summary", "A study of drug X in KRAS G12C mutant non-small cell lung cancer."),
        ("summary", "Now recruiting."),
        ("inclusion", "Age ≥ 18 years."),
        ("inclusion", "Locally advanced or metastatic NSCLC with a KRAS G12C\n mutation."),
        ("exclusion", "Prior treatment with a KRAS G12C inhibitor."),
        ("exclusion", "Active brain metastases."),
    ]
    second = records["NCT90000002"]
    assert [c.section for c in second.clauses] == ["summary", "inclusion", "exclusion"]
    assert second.status == "unknown"
    api = records["NCT90000004"]
    assert (api.title, api.status, api.sex, api.maximum_age) == (
        "Drug Z (ZED)",
        "RECRUITING",
        "FEMALE",
        "65 Years",
    )
    assert [c.section for c in api.clauses] == ["summary", "inclusion", "exclusion"]


def test_synthetic_match_uses_status_verify_and_prior_therapy(synthetic_dir: Path) -> None:
    index = trial_index(synthetic_dir)
    sotorasib = _value("sotorasib", "sotorasib")
    result = match_trials(hao_like(treatments=(sotorasib,)), index=index)
    assert result.candidates == ()
    (trial,) = result.excluded
    assert trial.nct_id == "NCT90000001"
    assert "status: RECRUITING" in trial.reasons
    assert [e.quote for e in trial.excluding_criteria] == [
        "Prior treatment with a KRAS G12C inhibitor."
    ]
    assert trial.to_verify == ("Active brain metastases.",)
    fresh = match_trials(hao_like(), index=index)
    assert [t.nct_id for t in fresh.candidates] == ["NCT90000001"]


def test_api_sex_and_age_fields_exclude(synthetic_dir: Path) -> None:
    index = trial_index(synthetic_dir)
    trials = _by_id(match_trials(breast(sex="male", age=70), index=index))
    rules = {(e.quote, e.source) for e in trials["NCT90000004"].excluding_criteria}
    assert ("sex: FEMALE", "eligibilityModule.sex") in rules
    assert ("maximumAge: 65 Years", "eligibilityModule.maximumAge") in rules
    text_trial = {e.rule for e in trials["NCT90000002"].excluding_criteria}
    assert "enrols female patients only; the patient is male" in text_trial
    assert "the patient's age 70 is outside the stated range" not in text_trial
    assert "the patient's age 70 is above the maximum age 75 stated" not in text_trial
    fits = _by_id(match_trials(breast(sex="female", age=60), index=index))
    assert fits["NCT90000004"].excluding_criteria == ()  # "within 4 weeks" is a washout


def test_no_fitting_trial_is_a_gap(synthetic_dir: Path) -> None:
    status = PatientStatus(
        diagnosis=_value("prostate adenocarcinoma", "prostate"), age=70, sex="male"
    )
    result = match_trials(status, index=trial_index(synthetic_dir))
    assert result.candidates == () and result.excluded == ()
    assert "no trial among the 4 records fits the patient" in result.gaps


def test_malformed_trial_file_is_an_input_error(tmp_path: Path) -> None:
    (tmp_path / "trials").mkdir()
    (tmp_path / "trials" / "random_trials.json").write_text('{"trials": [{"id": "NCT1"}]}', "utf-8")
    with pytest.raises(InputError, match=r"trials\[0\] needs 'id' and 'document'"):
        trial_index(tmp_path)
    with pytest.raises(InputError, match="no trial records"):
        trial_index(tmp_path / "elsewhere")


def test_spec_run_on_the_shared_set(data_dir: Path, index: TrialIndex) -> None:
    note = Document(id="note-1", kind="note", type="Progress Notes", text=NOTE, source="test")
    case = Case(case_id="t", patient=Patient(id="p"), documents=(note,), source="test")
    treatments = (_value("carboplatin + paclitaxel + pembrolizumab", "carbo/taxol/keytruda"),)
    status = ToolOutput(text="", data=hao_like(treatments=treatments).model_dump(mode="json"))
    ctx = ToolContext(case, "Find trials", data_dir, {"patient_status": status})
    out = SPEC.run(ctx)
    assert SPEC.run(ctx) == out  # deterministic: the same context gives the same output
    assert SPEC.name == "clinical_trials"
    assert {t["nct_id"] for t in out.data["trials"][:8]} == KRAS_G12C_NSCLC
    assert all(t["likely_excluded"] for t in out.data["excluded"])
    assert (
        "[NCT05383898]" in out.text and "https://clinicaltrials.gov/study/NCT05383898" in out.text
    )
    assert "Source: ClinicalTrials.gov" in out.text
    claims = {f.claim for f in out.findings}
    assert "Trials were matched on the patient's KRAS p.G12C" in claims
    assert "Prior anti-PD-1 (pembrolizumab) excludes the patient from some trials" in claims
    for finding in out.findings:
        for ev in finding.evidence:
            document = case.document(ev.doc_id)
            assert document is not None and ev.quote in document.text
