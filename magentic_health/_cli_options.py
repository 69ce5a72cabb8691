"""Command-line options that several commands share, defined once so they read alike."""

from __future__ import annotations

from collections.abc import Callable
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
