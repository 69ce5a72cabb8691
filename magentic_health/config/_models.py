"""The team configuration (DESIGN section 3) as pydantic models.

Cross-field rules (one facilitator, known tools, unique names, no dependency cycles) live in
``_load.py`` so that their errors can name the file, line and field.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, PositiveInt, StrictBool

from magentic_health.tools._settings import ToolSettings

Complexity = Literal["low", "moderate", "high"]


class Limits(BaseModel):
    """Bounds on a run; hitting one ends the run as ``partial``, never a hang.

    Strict, so that ``true`` or ``"4"`` in a YAML file is an error rather than 1 or 4.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    max_turns: PositiveInt = 20
    max_stalls: PositiveInt = 2
    max_replans: int = Field(default=2, ge=0)
    max_agent_retries: int = Field(default=1, ge=0)
    max_parallel: PositiveInt = 4
    max_total_tokens: PositiveInt = 200_000
    timeout_s: float = Field(default=600, gt=0)


class ComplexityCaps(BaseModel):
    """How many specialists each complexity tier may select (strict, like ``Limits``)."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    low: PositiveInt = 1
    moderate: PositiveInt = 3
    high: PositiveInt = 5

    def cap(self, tier: Complexity) -> int:
        """The cap of one tier."""
        return {"low": self.low, "moderate": self.moderate, "high": self.high}[tier]


class AgentConfig(BaseModel):
    """One member of the team: the facilitator or a specialist."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9_]*$")
    facilitator: StrictBool = False
    description: str = Field(min_length=1)
    instructions: str = Field(min_length=1)
    tools: tuple[str, ...] = ()
    depends_on: tuple[str, ...] = ()
    checkpoints: tuple[str, ...] = ("contract", "grounding", "consistency", "scope")
    """Checkpoint names (see ``KNOWN_CHECKPOINTS``) or custom ones as ``package.module:Class``."""


class TeamSettings(BaseModel):
    """The team's name, limits and complexity caps."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    limits: Limits = Limits()
    complexity: ComplexityCaps = ComplexityCaps()


class TeamConfig(BaseModel):
    """A whole team configuration file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    team: TeamSettings
    agents: tuple[AgentConfig, ...] = Field(min_length=2)
    tool_settings: ToolSettings = ToolSettings()
    """Optional per-tool settings (remote endpoints); the defaults run offline."""

    @property
    def facilitator(self) -> AgentConfig:
        """The one facilitator (validated by the loader)."""
        return next(a for a in self.agents if a.facilitator)

    @property
    def specialists(self) -> tuple[AgentConfig, ...]:
        """Every agent but the facilitator, in file order."""
        return tuple(a for a in self.agents if not a.facilitator)

    def agent(self, name: str) -> AgentConfig | None:
        """The agent with this name, or None."""
        return next((a for a in self.agents if a.name == name), None)
