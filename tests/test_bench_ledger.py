"""The ledger benchmark writes and replays a small ledger; figures are printed, never
asserted: no timing here."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "bench_ledger.py"


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_ledger", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_bench_writes_and_replays_a_ledger(
    capsys: pytest.CaptureFixture[str], data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAGENTIC_HEALTH_DATA", str(data_dir))
    bench = _script()
    assert (
        bench.main(["--events", "120", "--case", "synthea_colon", "--repeat", "2", "--json"]) == 0
    )
    report = json.loads(capsys.readouterr().out)
    assert {"write_ms_per_event", "replay_s_10k_events", "events", "bytes"} <= set(report)
    assert report["events"] == 120 and report["case"] == "synthea_colon"
    assert report["bytes"] > 120 * 100  # every event is a JSON line of some size
    assert report["write_ms_per_event"] > 0 and report["replay_s_10k_events"] > 0
    assert report["read_verify_s"] > 0 and report["replay_s"] > 0 and report["repeat"] == 2
    assert report["replay_s_10k_events"] <= report["replay_s_10k_events_median"]


def test_the_text_report_names_the_targets(
    capsys: pytest.CaptureFixture[str], data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAGENTIC_HEALTH_DATA", str(data_dir))
    bench = _script()
    assert bench.main(["--events", "60", "--case", "synthea_colon", "--repeat", "1"]) == 0
    out = capsys.readouterr().out
    assert "ms/event (median " in out and "; target < 0.2 ms)" in out
    assert "per 10,000 (median " in out and "; target < 2.0 s)" in out
    with pytest.raises(SystemExit):
        bench.main(["--events", "0"])
