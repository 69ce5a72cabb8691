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
from click.core import ParameterSource

from magentic_health import replay as replay_views
from magentic_health._api import MODEL_PROFILES, arun_case, export_report
from magentic_health._cli_options import (
    ModelOptions,
    data_dir_option,
    format_option,
    model_options,
)
from magentic_health._console import ProgressView
from magentic_health._gc import collector_paused
from magentic_health.backends import Backend
from magentic_health.case import list_sample_cases
from magentic_health.config import load_team_config
from magentic_health.errors import InputError, MagenticHealthError
from magentic_health.logs import log_options
from magentic_health.rerun import ResumeResult
from magentic_health.rerun._cli import rerun_command
from magentic_health.rerun._live import LiveModel, resume_with_backend
from magentic_health.team import RunResult
from magentic_health.trace import read_ledger, verify_ledger

EXPORT_FORMATS = ("md", "html", "docx")


def _exit_code(result: RunResult) -> int:
    if result.status == "failed":
        return 1
    return 4 if result.limit_hit else 0


def _print_result(
    result: RunResult, fmt: str, exports: list[Path], resumed: ResumeResult | None = None
) -> None:
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
                    "usage": result.usage,
                    "cost": result.cost.model_dump() if result.cost else None,
                }
                | ({"resumed": resumed.summary()} if resumed else {}),
                ensure_ascii=False,
                indent=2,
            )
        )
        return
    click.echo(result.final_text)
    click.echo(f"Status: {result.status}" + (f" ({result.reason})" if result.reason else ""))
    click.echo(f"Engine: {result.engine}")
    usage = _usage_line(result)
    if usage:
        click.echo(usage)
    click.echo(f"Ledger: {result.ledger_path}")
    if resumed is not None:
        click.echo(resumed.describe())
    for path in exports:
        click.echo(f"Report: {path}")


def _usage_line(result: RunResult) -> str | None:
    """``Tokens: N prompt + M completion`` (and the cost), or None when no model was used."""
    total = result.usage.get("total", {})
    prompt, completion = total.get("prompt_tokens", 0), total.get("completion_tokens", 0)
    if not prompt and not completion:
        return None
    line = f"Tokens: {prompt} prompt + {completion} completion"
    if result.cost is not None:
        line += f"; cost {result.cost.total:.4f} {result.cost.currency}"
    return line


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="magentic-health")
def app() -> None:
    """Run a tumor-board team of specialist agents on a patient case."""


@app.command()
@log_options
@click.argument("case", required=False)
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
    metavar="PROFILE",
    help=f"Model profile: {' | '.join(MODEL_PROFILES)} or another profile of --models; "
    "auto picks azure when AZURE_OPENAI_ENDPOINT is set, openai when OPENAI_API_KEY is set, "
    "else offline.",
)
@model_options
@click.option(
    "--out",
    "out_dir",
    default="ledgers",
    show_default=True,
    type=click.Path(path_type=Path),
    help="Folder the ledger is written to.",
)
@data_dir_option
@format_option("Output format of the result.")
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
@click.option(
    "--resume",
    "resume_from",
    type=click.Path(path_type=Path),
    metavar="LEDGER",
    help="Continue the crashed run of LEDGER in a new run and ledger (beside LEDGER unless "
    "--out is given); give no CASE. A model run continues on its recorded profile (or --model).",
)
def run(
    case: str | None,
    request: str | None,
    config: Path | None,
    model: str,
    out_dir: Path,
    data_dir: Path | None,
    fmt: str,
    quiet: bool,
    exports: str,
    live_trials: bool,
    resume_from: Path | None,
    model_options: ModelOptions,
) -> int:
    """Run CASE: a sample case name, a case file, a HAO patient folder or a FHIR bundle.
    With --resume LEDGER, continue a crashed run instead (its recorded case and request)."""
    formats = _export_formats(exports)
    view = None if quiet else ProgressView()
    resumed = None
    if resume_from is not None:
        _check_resume_options(case, request, live_trials)
        out = None if _defaulted("out_dir") else out_dir
        live = LiveModel(None if _defaulted("model") else model, model_options)
        resumed = asyncio.run(
            resume_with_backend(
                resume_from,
                live,
                config=config,
                data_dir=data_dir,
                out_dir=out,
                on_event=view,
                on_backend=None if quiet else _announce_backend,
            )
        )
        _note_resume(resumed)
        result = resumed.run
    elif case is None:
        raise click.UsageError("missing argument 'CASE' (or give --resume LEDGER)")
    else:
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
                on_backend=None if quiet else _announce_backend,
                **model_options.kwargs(),
            )
        )
    try:
        written = export_report(result, formats) if formats else []
    except InputError:
        _print_result(result, fmt, [], resumed)
        raise
    _print_result(result, fmt, written, resumed)
    return _exit_code(result)


def _announce_backend(backend: Backend) -> None:
    """Which model backend the run uses, and why (stderr)."""
    click.echo(f"model: {backend.label} [{backend.reason}]", err=True)


def _defaulted(name: str) -> bool:
    """The option ``name`` of the current command was not given."""
    source = click.get_current_context().get_parameter_source(name)
    return source in (None, ParameterSource.DEFAULT)


def _check_resume_options(case: str | None, request: str | None, live_trials: bool) -> None:
    """A resumed run answers what the crashed run recorded: its case, request and search
    (``--model`` may name another profile: ``resume_with_backend`` checks it)."""
    for given, what in (
        (case is not None, f"CASE ({case!r})"),
        (request is not None, "--request"),
        (live_trials, "--live-trials"),
    ):
        if given:
            raise click.UsageError(
                f"{what} cannot be combined with --resume: the resumed run takes the crashed "
                "run's case, request and trial search from its ledger"
            )


def _note_resume(resumed: ResumeResult) -> None:
    """What the user should know about the crashed ledger, on stderr."""
    if resumed.truncated_tail:
        click.echo(
            f"note: {resumed.parent_ledger}: the last line is incomplete (cut by the crash); "
            "ignored",
            err=True,
        )
    for change in resumed.input_changes:
        click.echo(f"note: {change.describe()}; fewer recorded results could be reused", err=True)


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
@click.option(
    "--view",
    "views",
    multiple=True,
    type=click.Choice(replay_views.VIEWS),
    help="Sections to show (repeatable; default: all, or the timeline when filtering).",
)
@click.option("--step", type=int, help="Show the event with this seq whole.")
@click.option(
    "--type", "type_", type=click.Choice(replay_views.EVENT_TYPES), help="Only events of this type."
)
@click.option("--agent", help="Only events, verdicts and usage of this agent.")
@click.option(
    "--format", "fmt", default="text", show_default=True, type=click.Choice(["text", "json"])
)
@click.option(
    "--html",
    "html_out",
    type=click.Path(path_type=Path),
    help="Write one self-contained HTML page of the run to this file.",
)
@click.option("--case", "case_ref", help="The run's case for --html (default: its case id).")
@click.option("--data-dir", type=click.Path(path_type=Path), help="Data directory of the case.")
# the cycle collector off: every object made lives until the view is printed (a 10,000-event
# replay: about a third of its time)
@collector_paused()
def replay(
    ledger: Path,
    views: tuple[str, ...],
    step: int | None,
    type_: str | None,
    agent: str | None,
    fmt: str,
    html_out: Path | None,
    case_ref: str | None,
    data_dir: Path | None,
) -> int:
    """Verify LEDGER's hash chain and show the run: timeline, plan, verdicts, usage, status."""
    data = read_ledger(ledger)
    verification = verify_ledger(data)
    filters = replay_views.ReplayFilter(type_=type_, agent=agent)
    sections = replay_views.sections_for(views, filters)
    if html_out is not None:
        written, note = replay_views.html_report(
            data, verification, html_out, case=case_ref, data_dir=data_dir
        )
        if note:
            click.echo(f"note: cited documents not embedded: {note}", err=True)
        click.echo(f"HTML: {written}")
    elif step is not None:
        click.echo(replay_views.show_event(data, step))
    elif fmt == "json":
        view = replay_views.json_view(data, verification, sections=sections, filters=filters)
        click.echo(json.dumps(view, ensure_ascii=False, indent=2))
    else:
        lines = replay_views.text_view(data, verification, sections=sections, filters=filters)
        if lines:
            click.echo("\n".join(lines))  # one write: a large ledger's timeline is many lines
    for line in replay_views.chain_report(data, verification):
        click.echo(line, err=True)
    return 0 if verification.ok else 2


app.add_command(rerun_command)


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
