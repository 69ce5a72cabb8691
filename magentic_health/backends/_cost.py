"""Cost of a run's tokens at the profile's prices (per agent, where an agent has its own)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from magentic_health.backends._profiles import Prices
from magentic_health.trace import RunCost


@dataclass(frozen=True)
class Pricing:
    """Prices per agent name, and the default for the others."""

    default: Prices | None = None
    per_agent: Mapping[str, Prices] = field(default_factory=dict)

    def prices(self, agent: str) -> Prices | None:
        return self.per_agent.get(agent, self.default)

    def cost(self, usage: Mapping[str, Mapping[str, int]]) -> RunCost | None:
        """The cost of ``usage`` (tokens per agent and ``total``); None without prices."""
        per_agent: dict[str, float] = {}
        currency: str | None = None
        for agent, tokens in usage.items():
            prices = self.prices(agent)
            if agent == "total" or prices is None:
                continue
            currency = currency or prices.currency
            per_agent[agent] = round(
                prices.cost(tokens.get("prompt_tokens", 0), tokens.get("completion_tokens", 0)), 6
            )
        if currency is None:
            return None
        return RunCost(
            currency=currency, per_agent=per_agent, total=round(sum(per_agent.values()), 6)
        )
