"""The README's runnable examples run as written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"


def example(name: str) -> str:
    text = README.read_text(encoding="utf-8")
    found = re.search(rf"<!-- example: {name} -->\n```python\n(.*?)```", text, re.DOTALL)
    assert found, f"README has no example {name!r}"
    return found.group(1)


def test_the_scripted_model_example_runs_a_whole_team(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)  # its ledger goes to ./ledgers
    exec(compile(example("scripted-model"), "README.md", "exec"), {"__name__": "__readme__"})
    out = capsys.readouterr().out
    assert "TextMessage (PatientStatus)" in out and "Stage T4N3M1a (IVA)." in out
    assert "The current stage is T4N3M1a (IVA)." in out
    status, ledger = out.strip().splitlines()[-1].split()
    assert status == "completed"
    assert (tmp_path / ledger).is_file()
