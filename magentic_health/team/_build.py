"""Building the team's members: ToolAgents offline, LLMAgents with a model client; the rule
planner offline, the LLM planner with a model client. Every client is wrapped in a
``RecordingClient`` named after its agent, so its calls are recorded and metered."""

from __future__ import annotations

from collections.abc import Mapping

from autogen_core.models import ChatCompletionClient

from magentic_health.agents import ARGUMENT_TOOLS, LLMAgent, Specialist, ToolAgent
from magentic_health.config import AgentConfig, TeamConfig
from magentic_health.models import RecordingClient
from magentic_health.planners import LLMPlanner, Planner, RulePlanner
from magentic_health.tools import get_tool


def _llm_agent(agent: AgentConfig, client: ChatCompletionClient) -> LLMAgent:
    """An LLMAgent; a model without function calling is offered no tools that take arguments
    from it (the tools that run before the hand-off still ground its reply)."""
    tools = None
    if not client.model_info.get("function_calling", True):
        tools = [get_tool(t) for t in agent.tools if t not in ARGUMENT_TOOLS]
    return LLMAgent(agent, model_client=RecordingClient(client, agent=agent.name), tools=tools)


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
        built[agent.name] = ToolAgent(agent) if client is None else _llm_agent(agent, client)
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
    name = getattr(client, "model_name", None)  # a ResilientClient names its model
    return LLMPlanner(
        RecordingClient(client, agent=facilitator),
        model_name=name if isinstance(name, str) else None,
    )
