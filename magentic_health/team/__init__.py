"""The team: HealthTeam runs the orchestrator loop over the configured specialists."""

from magentic_health.team._result import RunResult
from magentic_health.team.health_team import HealthTeam

__all__ = ["HealthTeam", "RunResult"]
