"""The ``magentic-health`` command line (DESIGN section 7).

``cli(argv) -> int`` runs in process (tests call it); ``main()`` only exits with its result.
Exit codes: 0 done; 1 the run failed; 2 bad input; 3 model backend unavailable; 4 the run ended
on a limit (the ledger is kept); 130 interrupted (the ledger is kept).
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Sequence
from pathlib import Path

import click
from rich.console import Console

from magentic_health._api import MODEL_PROFILES, arun_case, export_report
from magentic_health._console import ProgressView, one_line
from magentic_health.case import list_sample_cases
from magentic_health.config import load_team_config
from magentic_health.errors import InputError, MagenticHealthError
from magentic_health.team import RunResult
from magentic_health.trace import read_ledger, verify_ledger

EXPORT_FORMATS = ("md", "html", "docx")


def _exit_code(result: RunResult) -> int:
    if result.status == "failed":
        return 1
    return 4 if result.limit_hit else 0


def _print_result(result: RunResult, fmt: str, exports: list[Path]) -> None:
    if fmt == "json":
        click.echo(
            json.dumps(
                {
                    "run_id": result.run_id,
                    "case_id": result.case_id,
                    "request": result.request,
                    "status": result.status,
                    "reason": result.reason,
                    "engine": result.engine,
                    "complexity": result.complexity,
                    "selected": list(result.selected),
                    "summary": result.final_text,
                    "citations": [c.model_dump() for c in result.citations],
                    "gaps": list(result.gaps),
                    "ledger": result.ledger_path,
                    "exports": [str(p) for p in exports],
                },
                ensure_ascii=False,
                indent=2,
            )
        )
        return
    click.echo(result.final_text)
    click.echo(f"Status: {result.status}" + (f" ({result.reason})" if result.reason else ""))
    click.echo(f"Engine: {result.engine}")
    click.echo(f"Ledger: {result.ledger_path}")
    for path in exports:
        click.echo(f"Report: {path}")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="magentic-health")
def app() -> None:
    """Run a tumor-board team of specialist agents on a patient case."""


@app.command()
@click.argument("case")
@click.option("--request", help="The question to answer (overrides the case file's request).")
@click.option(
    "--config",
    "config",
    type=click.Path(path_type=Path),
    help="Team configuration (default: configs/tumor_board.yaml).",
)
@click.option(
    "--model",
    default="offline",
    show_default=True,
    type=click.Choice(MODEL_PROFILES),
    help="Model profile.",
)
@click.option(
    "--out",
    "out_dir",
    default="ledgers",
    show_default=True,
    type=click.Path(path_type=Path),
    help="Folder the ledger is written to.",
)
@click.option(
    "--data-dir",
    type=click.Path(path_type=Path),
    help="Data directory (default: $MAGENTIC_HEALTH_DATA, ../shared/data or ./data).",
)
@click.option(
    "--format",
    "fmt",
    default="text",
    show_default=True,
    type=click.Choice(["text", "json"]),
    help="Output format of the result.",
)
@click.option("--quiet", is_flag=True, help="No progress lines on stderr.")
@click.option(
    "--export",
    "exports",
    default="",
    help="Also write the tumor board report beside the ledger: md, html, docx (comma-separated).",
)
@click.option(
    "--live-trials",
    is_flag=True,
    help="Also search ClinicalTrials.gov (network) besides the local trial records.",
)
def run(
    case: str,
    request: str | None,
    config: Path | None,
    model: str,
    out_dir: Path,
    data_dir: Path | None,
    fmt: str,
    quiet: bool,
    exports: str,
    live_trials: bool,
) -> int:
    """Run CASE: a sample case name, a case file, a HAO patient folder or a FHIR bundle."""
    formats = _export_formats(exports)
    view = None if quiet else ProgressView()
    result = asyncio.run(
        arun_case(
            case,
            request=request,
            config=config,
            model=model,
            data_dir=data_dir,
            out_dir=out_dir,
            on_event=view,
            live_trials=live_trials,
        )
    )
    try:
        written = export_report(result, formats) if formats else []
    except InputError:
        _print_result(result, fmt, [])
        raise
    _print_result(result, fmt, written)
    return _exit_code(result)


def _export_formats(value: str) -> list[str]:
    formats = [f.strip().lower() for f in value.split(",") if f.strip()]
    unknown = [f for f in formats if f not in EXPORT_FORMATS]
    if unknown:
        raise InputError(
            f"--export {value!r}: unknown format {unknown[0]!r}; "
            f"choose from {', '.join(EXPORT_FORMATS)}"
        )
    return list(dict.fromkeys(formats))


@app.command()
@click.option("--format", "fmt", default="text", type=click.Choice(["text", "json"]))
def cases(fmt: str) -> int:
    """List the bundled sample cases."""
    samples = list_sample_cases()
    if fmt == "json":
        click.echo(json.dumps([s.model_dump(mode="json") for s in samples], indent=2))
        return 0
    for s in samples:
        click.echo(f"{s.name:<28} {s.description}")
        click.echo(f"{'':<28} request: {s.request}")
    click.echo(
        f"\nRun one with: magentic-health run {samples[0].name}"
        if samples
        else "No sample cases found."
    )
    return 0


@app.group()
def config() -> None:
    """Work with team configurations."""


@config.command("validate")
@click.argument("path", type=click.Path(path_type=Path))
def config_validate(path: Path) -> int:
    """Check a team configuration file."""
    team = load_team_config(path)
    caps = team.team.complexity
    click.echo(
        f"{path}: valid: team {team.team.name!r}, facilitator {team.facilitator.name}, "
        f"{len(team.specialists)} specialists ({', '.join(a.name for a in team.specialists)}); "
        f"caps low {caps.low} / moderate {caps.moderate} / high {caps.high}"
    )
    return 0


@app.command()
@click.argument("ledger", type=click.Path(path_type=Path))
@click.option("--step", type=int, help="Show the event with this seq whole.")
@click.option("--type", "type_", help="Only events of this type.")
@click.option("--agent", help="Only events of this agent.")
def replay(ledger: Path, step: int | None, type_: str | None, agent: str | None) -> int:
    """Verify LEDGER's hash chain and show the run event by event."""
    data = read_ledger(ledger)
    verification = verify_ledger(data)
    out = Console(highlight=False, soft_wrap=True)
    for event in data.events:
        if step is not None:
            if event.seq == step:
                click.echo(json.dumps(event.model_dump(), ensure_ascii=False, indent=2))
            continue
        if (type_ and event.type != type_) or (agent and event.agent != agent):
            continue
        out.print(
            f"{event.seq:>4} {event.ts[11:23]} {event.agent or '-':<18} "
            f"{event.type:<16} {one_line(event)}",
            markup=False,
        )
    if data.truncated_tail is not None:
        click.echo(f"{ledger}: the last line is incomplete (a crash mid-write?); ignored", err=True)
    if not verification.ok:
        click.echo(
            f"{ledger}: chain broken at seq {verification.first_broken_seq}: {verification.reason}",
            err=True,
        )
        return 2
    click.echo(f"{ledger}: {verification.events} events; hash chain verified", err=True)
    return 0


def cli(argv: Sequence[str] | None = None) -> int:
    """Run the command line with ``argv``; return the exit code instead of exiting."""
    try:
        result = app.main(
            args=list(argv) if argv is not None else None,
            prog_name="magentic-health",
            standalone_mode=False,
        )
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.exceptions.Abort:
        click.echo("interrupted", err=True)
        return 130
    except click.UsageError as exc:
        command = exc.ctx.command_path if exc.ctx else "magentic-health"
        click.echo(f"error: {exc.format_message()} (see '{command} --help')", err=True)
        return 2
    except click.ClickException as exc:
        click.echo(f"error: {exc.format_message()}", err=True)
        return 2
    except MagenticHealthError as exc:
        click.echo(f"error: {exc}", err=True)
        return exc.exit_code
    except KeyboardInterrupt:
        click.echo("interrupted; the ledger written so far is kept", err=True)
        return 130
    return result if isinstance(result, int) else 0


def main() -> None:
    """Console-script entry point."""
    sys.exit(cli())
