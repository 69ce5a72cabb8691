"""Specialists built from the team configuration: tool-only (offline) or model-driven."""

from magentic_health.agents._base import EventSink, HandoffRequest, Specialist
from magentic_health.agents._contract import (
    CONTRACT_PROMPT,
    ReplyContract,
    ReplyContractError,
    parse_contract,
)
from magentic_health.agents._handoff import render_output
from magentic_health.agents.llm_agent import ARGUMENT_TOOLS, LLMAgent
from magentic_health.agents.tool_agent import ToolAgent

__all__ = [
    "ARGUMENT_TOOLS",
    "CONTRACT_PROMPT",
    "EventSink",
    "HandoffRequest",
    "LLMAgent",
    "ReplyContract",
    "ReplyContractError",
    "Specialist",
    "ToolAgent",
    "parse_contract",
    "render_output",
]
