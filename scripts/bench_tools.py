"""Time each specialist tool on the largest shared bundle and on the HAO patient.

Usage: python scripts/bench_tools.py [--repeat N]

Prints the case load time, each tool's first call (which builds any index) and the median of
the following calls. Target: under 1 s per tool on these machines.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from magentic_health._data import resolve_data_dir
from magentic_health.case import Case, load_case
from magentic_health.tools import TOOL_NAMES, ToolContext, ToolOutput, get_tool

# the order in which upstream outputs become available, as in a tumor-board plan
_ORDER = (
    "patient_status",
    "patient_timeline",
    "radiology",
    "search_notes",
    "clinical_guidelines",
    "clinical_trials",
    "report_export",
)


def _timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1000


def _bench_case(label: str, load: Callable[[], Case], data_dir: Path, repeat: int) -> None:
    holder: list[Case] = []
    load_ms = _timed(lambda: holder.append(load()))
    case = holder[0]
    print(f"\n{label}: {len(case.documents)} documents, loaded in {load_ms:.0f} ms")
    upstream: dict[str, ToolOutput] = {}
    for name in sorted(TOOL_NAMES, key=_ORDER.index):
        spec = get_tool(name)
        ctx = ToolContext(
            case=case, instruction=case.request, data_dir=data_dir, upstream=dict(upstream)
        )
        first = _timed(lambda spec=spec, ctx=ctx: upstream.__setitem__(spec.name, spec.run(ctx)))
        again = [_timed(lambda spec=spec, ctx=ctx: spec.run(ctx)) for _ in range(repeat)]
        median = statistics.median(again)
        flag = "" if max(first, median) < 1000 else "  (over 1 s)"
        print(f"  {name:<20} first {first:>7.1f} ms   median {median:>7.1f} ms{flag}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    data_dir = resolve_data_dir()
    largest = max((data_dir / "synthea").glob("*.json"), key=lambda p: p.stat().st_size)
    _bench_case(
        f"largest bundle {largest.name} ({largest.stat().st_size / 1e6:.1f} MB)",
        lambda: load_case(largest),
        data_dir,
        args.repeat,
    )
    _bench_case(
        "HAO patient_4", lambda: load_case(data_dir / "hao" / "patient_4"), data_dir, args.repeat
    )


if __name__ == "__main__":
    main()
