"""``magentic-health rerun LEDGER``: the command line of ``rerun``.

Exit codes: 0 reproduced (with ``--live-from``: the continued run completed); 1 a divergence,
or a final answer or ledger that differs (``--live-from``: the run failed); 2 bad input (a
broken chain, a case or configuration that cannot be found, a model profile that cannot
continue the run); 3 the model backend of the live part is unavailable; 4 a live continuation
ended on a limit.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import click

from magentic_health._api import MODEL_PROFILES
from magentic_health._cli_options import ModelOptions, data_dir_option, format_option
from magentic_health.backends import Backend
from magentic_health.logs import log_options
from magentic_health.rerun._live import LiveModel, rerun_with_backend
from magentic_health.rerun._rerun import RerunResult


@click.command("rerun")
@log_options
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
    metavar="PROFILE",
    help="Model profile of the live part (default: the recorded one): "
    f"{' | '.join(MODEL_PROFILES)} or another profile of --models; needs --live-from.",
)
@click.option(
    "--models",
    type=click.Path(path_type=Path),
    metavar="FILE",
    help="Model profiles (default: $MAGENTIC_HEALTH_MODELS or configs/models.yaml).",
)
@click.option(
    "--base-url",
    metavar="URL",
    help="The API root of an OpenAI-compatible server for the live part (Azure: the endpoint).",
)
@click.option(
    "--model-name",
    metavar="NAME",
    help="The model (Azure: the deployment) every agent uses in the live part.",
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
    models: Path | None,
    base_url: str | None,
    model_name: str | None,
    case: str | None,
    config: Path | None,
    data_dir: Path | None,
    out_dir: Path | None,
    fmt: str,
) -> int:
    """Run LEDGER's run again with its model calls and tool results served from the ledger."""
    live = LiveModel(model, ModelOptions(models=models, base_url=base_url, model_name=model_name))
    result = asyncio.run(
        rerun_with_backend(
            ledger,
            live,
            live_from=live_from,
            case=case,
            config=config,
            data_dir=data_dir,
            out_dir=out_dir,
            on_backend=announce_backend,
        )
    )
    if fmt == "json":
        click.echo(json.dumps(result.model_dump(mode="json"), ensure_ascii=False, indent=2))
    else:
        _print_text(result)
    return result.exit_code


def announce_backend(backend: Backend) -> None:
    """Which model backend the live part uses, and why (stderr)."""
    click.echo(f"model: {backend.label} [{backend.reason}]", err=True)


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
