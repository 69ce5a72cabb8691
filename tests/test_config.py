"""Team configurations: the shipped tumor board, and one error per broken rule, each naming
the file, the line and the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from magentic_health.config import load_team_config
from magentic_health.config._load import default_config_path, validate_team_config
from magentic_health.errors import ConfigError

SHIPPED = Path(__file__).resolve().parent.parent / "configs" / "tumor_board.yaml"
TOOLS = (
    "patient_timeline",
    "search_notes",
    "patient_status",
    "radiology",
    "clinical_guidelines",
    "clinical_trials",
    "report_export",
)


def variant(tmp_path: Path, old: str, new: str) -> tuple[Path, int]:
    """The shipped file with ``old`` (which must occur once) replaced by ``new``; returns the
    path and the line where the first non-blank character of ``new`` lands."""
    text = SHIPPED.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{old!r} must occur exactly once in the shipped config"
    edited = text.replace(old, new)
    start = text.index(old) + len(new) - len(new.lstrip())
    path = tmp_path / "team.yaml"
    path.write_text(edited, encoding="utf-8")
    return path, edited[:start].count("\n") + 1


def line_of(path: Path, text: str) -> int:
    """The 1-based line where ``text`` first occurs in a file."""
    content = path.read_text(encoding="utf-8")
    return content[: content.index(text)].count("\n") + 1


def config_error(path: Path) -> str:
    with pytest.raises(ConfigError) as info:
        load_team_config(path)
    message = str(info.value)
    assert "\n" not in message
    return message


def assert_error(path: Path, line: int, field: str, *fragments: str) -> str:
    message = config_error(path)
    assert message.startswith(f"{path}:{line}: {field}: "), message
    for fragment in fragments:
        assert fragment in message, message
    return message


# --- the shipped configuration --------------------------------------------------------------


def test_default_config_is_the_checkouts_tumor_board() -> None:
    assert default_config_path() == SHIPPED


def test_shipped_config_loads() -> None:
    config = load_team_config(SHIPPED)
    assert config == load_team_config()
    assert config.team.name == "tumor_board"
    assert [a.name for a in config.agents] == [
        "Orchestrator",
        "PatientHistory",
        "PatientStatus",
        "Radiology",
        "ClinicalGuidelines",
        "ClinicalTrials",
        "ReportCreation",
    ]
    assert config.facilitator.name == "Orchestrator"
    assert [a.name for a in config.agents if a.facilitator] == ["Orchestrator"]
    caps = config.team.complexity
    assert (caps.cap("low"), caps.cap("moderate"), caps.cap("high")) == (1, 3, 5)
    limits = config.team.limits
    assert (limits.max_turns, limits.max_stalls, limits.max_replans) == (20, 2, 2)
    assert (limits.max_agent_retries, limits.max_parallel) == (1, 4)
    assert (limits.max_total_tokens, limits.timeout_s) == (200_000, 600)


def test_shipped_specialists_use_every_tool_once_and_verify_their_replies() -> None:
    config = load_team_config(SHIPPED)
    assert config.facilitator.tools == () and config.facilitator.depends_on == ()
    assert sorted(t for a in config.specialists for t in a.tools) == sorted(TOOLS)
    for agent in config.specialists:
        assert agent.checkpoints == ("contract", "grounding", "consistency", "scope")
    report = config.agent("ReportCreation")
    assert report is not None
    assert set(report.depends_on) == {a.name for a in config.specialists} - {"ReportCreation"}
    guidelines, trials = config.agent("ClinicalGuidelines"), config.agent("ClinicalTrials")
    assert guidelines is not None and trials is not None
    assert guidelines.depends_on == trials.depends_on == ("PatientStatus",)


def test_shipped_instructions_state_the_reply_contract() -> None:
    config = load_team_config(SHIPPED)
    for agent in config.agents:
        text = " ".join(agent.instructions.split())
        assert "{doc_id, quote}" in text, agent.name
        assert "verbatim" in text, agent.name
        assert "Research use only" in text, agent.name
    for agent in config.specialists:
        text = " ".join(agent.instructions.split())
        assert "{claim, evidence: [{doc_id, quote}]}" in text, agent.name
        assert "gaps" in text, agent.name
        assert "do not recommend or order treatment" in text, agent.name
        assert all(tool in text for tool in agent.tools), agent.name


# --- one error per rule ---------------------------------------------------------------------


def test_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    path, line = variant(tmp_path, "  name: tumor_board\n", "  name: tumor_board: big\n")
    message = config_error(path)
    assert message.startswith(f"{path}:{line}: invalid YAML: mapping values are not allowed")


def test_unclosed_flow_list_names_where_it_started(tmp_path: Path) -> None:
    path, line = variant(tmp_path, "    tools: [radiology]\n", "    tools: [radiology\n")
    message = config_error(path)
    assert f"starts on line {line})" in message
    assert message.startswith(f"{path}:{line + 1}: invalid YAML: ")


def test_top_level_must_be_a_mapping(tmp_path: Path) -> None:
    path = tmp_path / "list.yaml"
    path.write_text("# a team\n- Orchestrator\n- Radiology\n", encoding="utf-8")
    assert_error(path, 2, "top level", "must be a mapping with 'team' and 'agents'; got a list")


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.yaml"
    path.write_text("# nothing yet\n", encoding="utf-8")
    assert_error(path, 1, "top level", "got an empty file")


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"no\.yaml: no such file; pass --config FILE"):
        load_team_config(tmp_path / "no.yaml")


def test_missing_required_field_points_at_its_agent(tmp_path: Path) -> None:
    old = (
        "    description: >-\n"
        "      Reviews the imaging in the case (CT, PET and X-ray reports, and images with their\n"
        "      metadata) and summarises each study: sites and sizes of disease, comparison with"
        " prior\n"
        "      studies, and the trend toward response, stability or progression.\n"
    )
    path, _ = variant(tmp_path, old, "")
    line = line_of(path, "  - name: Radiology")
    assert_error(path, line, "agents[3].description", "missing required field")


def test_unknown_field_lists_the_allowed_ones(tmp_path: Path) -> None:
    path, line = variant(tmp_path, "    max_parallel: 4\n", "    max_paralel: 4\n")
    assert_error(
        path,
        line,
        "team.limits.max_paralel",
        "unknown field 'max_paralel'; allowed fields: max_turns, max_stalls",
        "max_parallel",
    )


def test_misspelt_top_level_key_is_reported_before_the_missing_one(tmp_path: Path) -> None:
    path, line = variant(tmp_path, "team:\n", "teams:\n")
    assert_error(path, line, "teams", "unknown field 'teams'; allowed fields: team, agents")


def test_unknown_agent_field(tmp_path: Path) -> None:
    path, line = variant(
        tmp_path, "    tools: [radiology]\n", "    tools: [radiology]\n    model: gpt\n"
    )
    assert_error(path, line + 1, "agents[3].model", "unknown field 'model'", "instructions")


def test_no_facilitator_names_the_agents(tmp_path: Path) -> None:
    path, _ = variant(tmp_path, "    facilitator: true\n", "")
    line = line_of(path, "agents:")
    assert_error(path, line, "agents", "no facilitator", "'Orchestrator'", "'ReportCreation'")


def test_two_facilitators_are_named(tmp_path: Path) -> None:
    path, line = variant(
        tmp_path, "  - name: Radiology\n", "  - name: Radiology\n    facilitator: true\n"
    )
    assert_error(
        path,
        line + 1,
        "agents[3].facilitator",
        "more than one facilitator ('Orchestrator', 'Radiology')",
    )


def test_facilitator_flag_must_be_a_boolean(tmp_path: Path) -> None:
    path, line = variant(tmp_path, "    facilitator: true\n", "    facilitator: 'yes'\n")
    assert_error(path, line, "agents[0].facilitator", "valid boolean", "got 'yes'")


def test_duplicate_agent_names(tmp_path: Path) -> None:
    path, line = variant(tmp_path, "  - name: ClinicalTrials\n", "  - name: ClinicalGuidelines\n")
    assert_error(
        path,
        line,
        "agents[5].name",
        "duplicate agent name 'ClinicalGuidelines' (also agents[4])",
        "(and 1 more problem)",  # ReportCreation still depends on ClinicalTrials
    )


def test_agent_name_must_be_an_identifier(tmp_path: Path) -> None:
    path, line = variant(tmp_path, "  - name: Radiology\n", "  - name: Radio logy\n")
    assert_error(path, line, "agents[3].name", "must start with a letter", "'Radio logy'")


def test_unknown_tool_lists_the_known_tools(tmp_path: Path) -> None:
    path, line = variant(tmp_path, "    tools: [clinical_trials]\n", "    tools: [trial_search]\n")
    message = assert_error(path, line, "agents[5].tools[0]", "unknown tool 'trial_search'")
    assert message.endswith("known tools: " + ", ".join(sorted(TOOLS)))


def test_facilitator_takes_no_tools(tmp_path: Path) -> None:
    path, line = variant(
        tmp_path, "    facilitator: true\n", "    facilitator: true\n    tools: [search_notes]\n"
    )
    assert_error(path, line + 1, "agents[0].tools", "the facilitator 'Orchestrator' takes no")


def test_facilitator_has_no_dependencies(tmp_path: Path) -> None:
    path, line = variant(
        tmp_path, "    facilitator: true\n", "    facilitator: true\n    depends_on: [Radiology]\n"
    )
    assert_error(path, line + 1, "agents[0].depends_on", "depends on no one")


def test_depends_on_unknown_agent(tmp_path: Path) -> None:
    old = "    tools: [clinical_trials]\n    depends_on: [PatientStatus]\n"
    new = "    tools: [clinical_trials]\n    depends_on: [PatientState]\n"
    path, line = variant(tmp_path, old, new)
    assert_error(
        path,
        line + 1,
        "agents[5].depends_on[0]",
        "unknown agent 'PatientState'; specialists: PatientHistory, PatientStatus",
    )


def test_depends_on_itself(tmp_path: Path) -> None:
    path, line = variant(
        tmp_path,
        "    tools: [radiology]\n",
        "    tools: [radiology]\n    depends_on: [Radiology]\n",
    )
    assert_error(path, line + 1, "agents[3].depends_on[0]", "'Radiology' cannot depend on itself")


def test_depends_on_the_facilitator(tmp_path: Path) -> None:
    path, line = variant(
        tmp_path,
        "    tools: [radiology]\n",
        "    tools: [radiology]\n    depends_on: [Orchestrator]\n",
    )
    assert_error(path, line + 1, "agents[3].depends_on[0]", "'Orchestrator' is the facilitator")


def test_two_agent_cycle_is_named(tmp_path: Path) -> None:
    path, line = variant(
        tmp_path,
        "    tools: [patient_status]\n",
        "    tools: [patient_status]\n    depends_on: [ClinicalTrials]\n",
    )
    assert_error(
        path,
        line + 1,
        "agents[2].depends_on[0]",
        "dependency cycle PatientStatus -> ClinicalTrials -> PatientStatus",
    )


def test_three_agent_cycle_is_named(tmp_path: Path) -> None:
    path, _ = variant(
        tmp_path,
        "    tools: [radiology]\n",
        "    tools: [radiology]\n    depends_on: [ClinicalGuidelines]\n",
    )
    text = path.read_text(encoding="utf-8").replace(
        "    tools: [patient_timeline, search_notes]\n",
        "    tools: [patient_timeline, search_notes]\n    depends_on: [Radiology]\n",
    )
    text = text.replace(
        "    tools: [patient_status]\n",
        "    tools: [patient_status]\n    depends_on: [PatientHistory]\n",
    )
    path.write_text(text, encoding="utf-8")
    line = line_of(path, "    depends_on: [Radiology]")
    assert_error(
        path,
        line,
        "agents[1].depends_on[0]",
        "dependency cycle PatientHistory -> Radiology -> ClinicalGuidelines -> PatientStatus "
        "-> PatientHistory",
    )


def test_unknown_checkpoint(tmp_path: Path) -> None:
    old = "    tools: [radiology]\n    checkpoints: [contract, grounding, consistency, scope]\n"
    new = old.replace("scope]", "scope, numbers]")
    path, line = variant(tmp_path, old, new)
    assert_error(
        path,
        line + 1,
        "agents[3].checkpoints[4]",
        "unknown checkpoint 'numbers'; known checkpoints: contract, grounding, consistency, scope",
    )


@pytest.mark.parametrize(
    ("old", "new", "field", "problem"),
    [
        ("max_parallel: 4\n", "max_parallel: 0\n", "max_parallel", "greater than 0; got 0"),
        ("max_parallel: 4\n", "max_parallel: four\n", "max_parallel", "integer; got 'four'"),
        ("max_parallel: 4\n", "max_parallel: true\n", "max_parallel", "integer; got True"),
        ("max_turns: 20\n", "max_turns: 2.5\n", "max_turns", "integer; got 2.5"),
        ("max_replans: 2\n", "max_replans: -1\n", "max_replans", "greater than or equal to 0"),
        ("timeout_s: 600\n", "timeout_s: -5\n", "timeout_s", "greater than 0; got -5"),
    ],
)
def test_bad_limits(tmp_path: Path, old: str, new: str, field: str, problem: str) -> None:
    path, line = variant(tmp_path, f"    {old}", f"    {new}")
    assert_error(path, line, f"team.limits.{field}", problem)


def test_limits_must_be_a_mapping(tmp_path: Path) -> None:
    text = SHIPPED.read_text(encoding="utf-8")
    block = text[text.index("  limits:\n") : text.index("  complexity:")]
    path, line = variant(tmp_path, block, "  limits: 20\n")
    assert_error(path, line, "team.limits", "should be a mapping; got 20")


def test_complexity_caps_must_grow(tmp_path: Path) -> None:
    path, _ = variant(tmp_path, "    moderate: 3\n", "    moderate: 6\n")
    line = line_of(path, "    high: 5")
    assert_error(path, line, "team.complexity.high", "moderate=6 > high=5")


def test_low_cap_above_moderate(tmp_path: Path) -> None:
    path, _ = variant(tmp_path, "    low: 1\n", "    low: 4\n")
    line = line_of(path, "    moderate: 3")
    assert_error(path, line, "team.complexity.moderate", "low=4 > moderate=3")


def test_cap_of_zero_is_an_error(tmp_path: Path) -> None:
    path, line = variant(tmp_path, "    low: 1\n", "    low: 0\n")
    assert_error(path, line, "team.complexity.low", "greater than 0; got 0")


def test_cap_above_the_number_of_specialists_is_fine(tmp_path: Path) -> None:
    path, _ = variant(tmp_path, "    high: 5\n", "    high: 9\n")
    assert load_team_config(path).team.complexity.cap("high") == 9


def test_duplicate_yaml_key(tmp_path: Path) -> None:
    old = "    tools: [radiology]\n    checkpoints: [contract, grounding, consistency, scope]\n"
    new = "    tools: [radiology]\n    tools: [radiology, clinical_trials]\n"
    path, line = variant(tmp_path, old, new)
    assert_error(
        path, line + 1, "agents[3].tools", f"key 'tools' given twice (first on line {line})"
    )


def test_validate_parsed_data_without_lines() -> None:
    data = {
        "team": {"name": "pair"},
        "agents": [
            {"name": "Chair", "facilitator": True, "description": "d", "instructions": "i"},
            {"name": "Reader", "description": "d", "instructions": "i", "tools": ["xray"]},
        ],
    }
    with pytest.raises(ConfigError) as info:
        validate_team_config(data, source="<notebook>")
    assert str(info.value).startswith("<notebook>: agents[1].tools[0]: unknown tool 'xray'")
    data["agents"][1]["tools"] = ["radiology"]  # type: ignore[index]
    config = validate_team_config(data, source="<notebook>")
    assert [a.name for a in config.specialists] == ["Reader"]


def test_every_known_checkpoint_is_registered() -> None:
    from magentic_health.checkpoints import CHECKPOINTS
    from magentic_health.config import KNOWN_CHECKPOINTS

    assert set(CHECKPOINTS) == set(KNOWN_CHECKPOINTS)
