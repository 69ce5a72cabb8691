"""``magentic-health rerun LEDGER``: the command line of ``rerun``.

Exit codes: 0 reproduced (with ``--live-from``: the continued run completed); 1 a divergence,
or a final answer or ledger that differs (``--live-from``: the run failed); 2 bad input (a
broken chain, a case or configuration that cannot be found); 3 no model backend to continue
with; 4 a live continuation ended on a limit.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import click

from magentic_health._api import MODEL_PROFILES
from magentic_health._cli_options import data_dir_option, format_option
from magentic_health.errors import BackendError, InputError
from magentic_health.rerun._recorded import Recording
from magentic_health.rerun._rerun import RerunResult, arerun


@click.command("rerun")
@click.argument("ledger", type=click.Path(path_type=Path))
@click.option(
    "--live-from",
    "live_from",
    type=int,
    metavar="SEQ",
    help="Serve recorded results only for events before SEQ; from there on run live.",
)
@click.option(
    "--model",
    type=click.Choice(MODEL_PROFILES),
    help="Model profile of the live part (default: the recorded one); needs --live-from.",
)
@click.option("--case", "case", help="The case, instead of the one run_started names.")
@click.option(
    "--config",
    "config",
    type=click.Path(path_type=Path),
    help="Team configuration, instead of the one run_started names.",
)
@data_dir_option
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path),
    help="Folder of the new ledger (default: beside LEDGER).",
)
@format_option("Output format.")
def rerun_command(
    ledger: Path,
    live_from: int | None,
    model: str | None,
    case: str | None,
    config: Path | None,
    data_dir: Path | None,
    out_dir: Path | None,
    fmt: str,
) -> int:
    """Run LEDGER's run again with its model calls and tool results served from the ledger."""
    if model is not None:
        check_live_model(ledger, model, live_from)
    result = asyncio.run(
        arerun(
            ledger,
            case=case,
            config=config,
            data_dir=data_dir,
            out_dir=out_dir,
            live_from=live_from,
        )
    )
    if fmt == "json":
        click.echo(json.dumps(result.model_dump(mode="json"), ensure_ascii=False, indent=2))
    else:
        _print_text(result)
    return result.exit_code


def check_live_model(ledger: Path, model: str, live_from: int | None) -> None:
    """``--model`` picks what the live part runs on; only the recorded engine can go on (also
    checks ``run --resume --model``)."""
    if live_from is None:
        raise InputError(f"--model {model!r} applies to the live part: give --live-from SEQ too")
    recorded = Recording.read(ledger).started.model_profile
    if model in ("offline", "auto") and recorded == "offline":
        return
    if model in ("offline", "auto"):
        raise InputError(
            f"--model {model!r}: the run used the model profile {recorded!r}; the offline engine "
            "cannot continue it (its plan and replies come from a model)"
        )
    raise BackendError(
        f"--model {model!r}: this version has no {model} backend yet; continue an offline run "
        "with --model offline"
    )


def _print_text(result: RerunResult) -> None:
    if result.final_text is not None:
        click.echo(result.final_text)
        click.echo()
    click.echo(f"Rerun of run {result.original_run} ({result.original_ledger})")
    click.echo(
        f"Served from the ledger: {result.served_model_calls} model calls, "
        f"{result.served_tool_results} tool results"
        + (
            f"; live: {result.live_model_calls} model calls, {result.live_tool_calls} tool calls"
            if result.live_from is not None
            else ""
        )
    )
    for change in result.input_changes:
        click.echo(f"Input {change.describe()}")
    if result.divergence is not None:
        for line in result.divergence.describe():
            click.echo(line)
        click.echo(f"Partial ledger: {result.ledger_path}")
        return
    click.echo(f"Status: {result.status}")
    click.echo(f"Final answer: {'identical' if result.same_final_answer else 'differs'}")
    if result.differences:
        click.echo(f"Ledger: {len(result.differences)} stream(s) differ; first differences:")
        for difference in result.differences[:5]:
            click.echo(f"  {difference.describe()}")
    else:
        click.echo("Ledger: identical to the original except run_id, ts, seq, hashes and timings")
    click.echo(f"New ledger: {result.ledger_path}")
