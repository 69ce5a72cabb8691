"""Specialists built from the team configuration."""

from magentic_health.agents._base import EventSink, HandoffRequest, Specialist
from magentic_health.agents.tool_agent import ToolAgent

__all__ = ["EventSink", "HandoffRequest", "Specialist", "ToolAgent"]
