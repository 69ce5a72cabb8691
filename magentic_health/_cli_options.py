"""Command-line options that several commands share, defined once so they read alike."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])

data_dir_option = click.option(
    "--data-dir",
    type=click.Path(path_type=Path),
    help="Data directory (default: $MAGENTIC_HEALTH_DATA, ../shared/data or ./data).",
)


def format_option(help_text: str) -> Callable[[F], F]:
    """``--format text|json`` (into ``fmt``)."""
    return click.option(
        "--format",
        "fmt",
        default="text",
        show_default=True,
        type=click.Choice(["text", "json"]),
        help=help_text,
    )


@dataclass(frozen=True)
class ModelOptions:
    """``--models``, ``--base-url``, ``--model-name`` and ``--ledger``: where ``--model``'s
    profile comes from and what overrides it (``arun_case``'s keyword arguments)."""

    models: Path | None = None
    base_url: str | None = None
    model_name: str | None = None
    ledger: Path | None = None

    def kwargs(self) -> dict[str, Any]:
        return {
            "models": self.models,
            "base_url": self.base_url,
            "model_name": self.model_name,
            "ledger": self.ledger,
        }


def model_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """Adds the ``ModelOptions`` flags to a command, passed to it as ``model_options``."""

    @functools.wraps(f)
    def command(
        *args: Any,
        models: Path | None,
        base_url: str | None,
        model_name: str | None,
        ledger: Path | None,
        **kwargs: Any,
    ) -> Any:
        options = ModelOptions(models, base_url, model_name, ledger)
        return f(*args, model_options=options, **kwargs)

    for option in (
        click.option(
            "--ledger",
            type=click.Path(path_type=Path),
            help="--model replay: the ledger whose recorded model calls answer.",
        ),
        click.option(
            "--model-name",
            metavar="NAME",
            help="The model (Azure: the deployment) every agent uses, overriding the profile.",
        ),
        click.option(
            "--base-url",
            metavar="URL",
            help="The API root of an OpenAI-compatible server, e.g. http://localhost:11434/v1 "
            "(Azure: the endpoint).",
        ),
        click.option(
            "--models",
            type=click.Path(path_type=Path),
            metavar="FILE",
            help="Model profiles (default: $MAGENTIC_HEALTH_MODELS or configs/models.yaml).",
        ),
    ):
        command = option(command)
    return command
