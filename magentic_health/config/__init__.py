"""Team configurations: models, loading and validation."""

from magentic_health.config._load import default_config_path, load_team_config
from magentic_health.config._models import (
    AgentConfig,
    Complexity,
    ComplexityCaps,
    Limits,
    TeamConfig,
    TeamSettings,
)

__all__ = [
    "AgentConfig",
    "Complexity",
    "ComplexityCaps",
    "Limits",
    "TeamConfig",
    "TeamSettings",
    "default_config_path",
    "load_team_config",
]
