"""Building the team's members: ToolAgents offline, LLMAgents with a model client; the rule
planner offline, the LLM planner with a model client. Every client is wrapped in a
``RecordingClient`` named after its agent, so its calls are recorded and metered."""

from __future__ import annotations

from collections.abc import Mapping

from autogen_core.models import ChatCompletionClient

from magentic_health.agents import LLMAgent, Specialist, ToolAgent
from magentic_health.config import TeamConfig
from magentic_health.models import RecordingClient
from magentic_health.planners import LLMPlanner, Planner, RulePlanner


def build_specialists(
    config: TeamConfig,
    model_client: ChatCompletionClient | None,
    clients: Mapping[str, ChatCompletionClient],
) -> dict[str, Specialist]:
    """One specialist per configured agent: an LLMAgent where a client is given, else a
    ToolAgent (so a team may mix them)."""
    built: dict[str, Specialist] = {}
    for agent in config.specialists:
        client = clients.get(agent.name, model_client)
        built[agent.name] = (
            ToolAgent(agent)
            if client is None
            else LLMAgent(agent, model_client=RecordingClient(client, agent=agent.name))
        )
    return built


def build_planner(
    config: TeamConfig,
    model_client: ChatCompletionClient | None,
    clients: Mapping[str, ChatCompletionClient],
) -> Planner:
    """The LLM planner on the facilitator's client (recorded as the facilitator), else rules."""
    facilitator = config.facilitator.name
    client = clients.get(facilitator, model_client)
    if client is None:
        return RulePlanner()
    return LLMPlanner(RecordingClient(client, agent=facilitator))
