"""Team configurations: models, loading and validation."""

from magentic_health.config._load import (
    KNOWN_CHECKPOINTS,
    KNOWN_TOOLS,
    default_config_path,
    import_checkpoint,
    load_team_config,
    validate_team_config,
)
from magentic_health.config._models import (
    AgentConfig,
    Complexity,
    ComplexityCaps,
    Limits,
    TeamConfig,
    TeamSettings,
)

__all__ = [
    "KNOWN_CHECKPOINTS",
    "KNOWN_TOOLS",
    "AgentConfig",
    "Complexity",
    "ComplexityCaps",
    "Limits",
    "TeamConfig",
    "TeamSettings",
    "default_config_path",
    "import_checkpoint",
    "load_team_config",
    "validate_team_config",
]
