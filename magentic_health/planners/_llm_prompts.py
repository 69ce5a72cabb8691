"""Prompt templates shipped in ``magentic_health/prompts``: versioned files rendered strictly.

A template file is named ``<name>.v<N>.md``; its first line is ``version: N`` and a line
``---`` separates that header from the body. Placeholders are ``{{variable}}``. Rendering fails
on a placeholder without a value and on a value without a placeholder, so a renamed variable
can never silently drop part of a prompt. Values are inserted once and never re-scanned.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from importlib import resources

from magentic_health.errors import MagenticHealthError

_PLACEHOLDER = re.compile(r"\{\{\s*([a-z_][a-z0-9_]*)\s*\}\}")
_HEADER = re.compile(r"^version:\s*(\d+)\s*$")


class PromptError(MagenticHealthError):
    """A prompt template is missing, malformed, or rendered with the wrong variables."""


@dataclass(frozen=True)
class Prompt:
    """One versioned template."""

    name: str
    version: int
    body: str

    @property
    def label(self) -> str:
        """``name.vN``, the form recorded in ledgers."""
        return f"{self.name}.v{self.version}"

    @property
    def variables(self) -> frozenset[str]:
        return frozenset(_PLACEHOLDER.findall(self.body))

    def render(self, **values: str) -> str:
        """The body with every placeholder replaced; see the module doc for what fails."""
        missing = sorted(self.variables - values.keys())
        if missing:
            raise PromptError(f"prompt {self.label}: no value for {', '.join(map(repr, missing))}")
        unknown = sorted(values.keys() - self.variables)
        if unknown:
            raise PromptError(
                f"prompt {self.label}: unknown variable(s) {', '.join(map(repr, unknown))}; "
                f"the template uses {', '.join(sorted(self.variables)) or 'none'}"
            )
        return _PLACEHOLDER.sub(lambda m: values[m.group(1)], self.body).strip()


def parse_prompt(name: str, version: int, text: str) -> Prompt:
    """A template from its file text; the header's version must match the file name's."""
    header, sep, body = text.partition("\n---\n")
    match = _HEADER.match(header.strip())
    if not sep or match is None:
        raise PromptError(
            f"prompt {name}.v{version}: the file must start with 'version: N' and a '---' line"
        )
    if int(match.group(1)) != version:
        raise PromptError(
            f"prompt {name}.v{version}: the header says version {match.group(1)}, "
            f"the file name says {version}"
        )
    return Prompt(name=name, version=version, body=body)


@cache
def load_prompt(name: str, version: int = 1) -> Prompt:
    """The template ``name.v<version>.md`` from the package's ``prompts`` folder."""
    resource = resources.files("magentic_health.prompts").joinpath(f"{name}.v{version}.md")
    try:
        text = resource.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise PromptError(f"prompt {name}.v{version}: no such template in the package") from exc
    return parse_prompt(name, version, text)
