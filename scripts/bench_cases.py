"""Run every sample case on the offline engine and print time, events and ledger size.

Usage: python scripts/bench_cases.py [--request TEXT] [--repeat N]

Figures, not pass/fail: these machines are noisy, so targets are read off this output.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from magentic_health import arun_case, read_ledger, verify_ledger
from magentic_health.case import list_sample_cases


async def _bench(name: str, request: str | None, repeat: int, out: Path) -> None:
    times: list[float] = []
    result = None
    for _ in range(repeat):
        start = time.perf_counter()
        result = await arun_case(name, request=request, out_dir=out)
        times.append((time.perf_counter() - start) * 1000)
    assert result is not None
    ledger = Path(result.ledger_path)
    events = len(read_ledger(ledger).events)
    ok = verify_ledger(ledger).ok
    print(
        f"{name:<28} {result.status:<9} {result.complexity:<8} "
        f"{statistics.median(times):>8.0f} ms  {events:>5} events  "
        f"{ledger.stat().st_size / 1024:>7.0f} KiB  chain {'ok' if ok else 'BROKEN'}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--request", help="Ask every case this instead of its own request.")
    parser.add_argument("--repeat", type=int, default=3, help="Runs per case (median shown).")
    args = parser.parse_args()
    print(f"{'case':<28} {'status':<9} {'tier':<8} {'median':>11}  {'events':>12}  {'ledger':>11}")
    with tempfile.TemporaryDirectory() as out:
        for sample in list_sample_cases():
            asyncio.run(_bench(sample.name, args.request, args.repeat, Path(out)))


if __name__ == "__main__":
    main()
