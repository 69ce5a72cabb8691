"""Choosing a profile (``--model``, ``auto``) and resolving what each agent uses.

``auto`` picks ``azure`` when AZURE_OPENAI_ENDPOINT is set, else ``openai`` when
OPENAI_API_KEY is set, else ``openai-compatible`` when a base URL is given, else ``offline``,
and says why. ``--base-url`` and ``--model-name`` override the chosen profile (and the
per-agent models, so every agent uses the named one).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from magentic_health.backends._env import expand
from magentic_health.backends._profiles import (
    Capabilities,
    LoadedModels,
    ModelProfile,
    Prices,
)
from magentic_health.errors import ConfigError, InputError


@dataclass(frozen=True)
class Selection:
    """The chosen profile, its name and why it was chosen."""

    name: str
    profile: ModelProfile
    reason: str


@dataclass(frozen=True)
class AgentModel:
    """What one agent (or, for ``agent=None``, every agent without an override) uses."""

    agent: str | None
    model: str | None
    deployment: str | None
    capabilities: Capabilities | None
    prices: Prices | None
    timeout_s: float

    @property
    def key(self) -> tuple[object, ...]:
        """Agents with equal keys can share one client."""
        return (self.model, self.deployment, self.capabilities, self.timeout_s)


def select(
    choice: str,
    models: LoadedModels,
    *,
    env: Mapping[str, str],
    base_url: str | None = None,
) -> Selection:
    """The profile for ``--model choice``; ``InputError`` for an unknown name."""
    names = list(models.file.profiles)
    if choice == "auto":
        name, reason = _auto(env, base_url)
    elif choice in models.file.profiles:
        name, reason = choice, f"--model {choice}"
    else:
        raise InputError(
            f"--model {choice!r}: unknown model profile; choose auto or one of "
            f"{', '.join(names)} (profiles of {models.source})"
        )
    profile = models.file.profiles.get(name)
    if profile is None:
        raise ConfigError(
            f"{models.source}: profiles: --model auto chose {name!r} ({reason}) but the file "
            f"has no such profile; add it or pass --model with one of {', '.join(names)}"
        )
    return Selection(name=name, profile=profile, reason=reason)


def _auto(env: Mapping[str, str], base_url: str | None) -> tuple[str, str]:
    if env.get("AZURE_OPENAI_ENDPOINT"):
        return "azure", "--model auto: AZURE_OPENAI_ENDPOINT is set"
    if env.get("OPENAI_API_KEY") and not base_url:
        return "openai", "--model auto: OPENAI_API_KEY is set"
    if base_url:
        return "openai-compatible", "--model auto: --base-url is given"
    return (
        "offline",
        "--model auto: neither AZURE_OPENAI_ENDPOINT nor OPENAI_API_KEY is set",
    )


def with_overrides(
    profile: ModelProfile, *, base_url: str | None, model_name: str | None
) -> ModelProfile:
    """``profile`` with ``--base-url`` (Azure: the endpoint) and ``--model-name`` (Azure:
    the deployment) applied; ``--model-name`` also clears per-agent models."""
    update: dict[str, object] = {}
    if base_url:
        update["endpoint" if profile.kind == "azure" else "base_url"] = base_url
    if model_name:
        update["model"] = model_name
        if profile.kind == "azure":
            update["deployment"] = model_name
        update["agents"] = {
            agent: o.model_copy(update={"model": None, "deployment": None})
            for agent, o in profile.agents.items()
        }
    return profile.model_copy(update=update)


def agent_models(
    selection: Selection,
    models: LoadedModels,
    *,
    env: Mapping[str, str],
    agents: Sequence[str],
) -> tuple[AgentModel, dict[str, AgentModel]]:
    """The default ``AgentModel`` and one per agent with an override (unknown agent names in
    the overrides are a ``ConfigError``)."""
    p = selection.profile
    default = AgentModel(
        agent=None,
        model=expand(p.model, env),
        deployment=expand(p.deployment, env),
        capabilities=p.capabilities,
        prices=p.prices,
        timeout_s=p.timeout_s,
    )
    overrides: dict[str, AgentModel] = {}
    for agent, o in p.agents.items():
        if agent not in agents:
            where = models.where(selection.name, "agents")
            raise ConfigError(
                f"{where}.{agent}: no agent {agent!r} in the team; agents: {', '.join(agents)}"
            )
        model = AgentModel(
            agent=agent,
            model=expand(o.model, env) or default.model,
            deployment=expand(o.deployment, env) or default.deployment,
            capabilities=o.capabilities or default.capabilities,
            prices=o.prices or default.prices,
            timeout_s=o.timeout_s or default.timeout_s,
        )
        if model != AgentModel(**{**default.__dict__, "agent": agent}):
            overrides[agent] = model
    _check_currencies(selection, models, [default, *overrides.values()])
    return default, overrides


def _check_currencies(
    selection: Selection, models: LoadedModels, resolved: Sequence[AgentModel]
) -> None:
    currencies = {m.prices.currency for m in resolved if m.prices is not None}
    if len(currencies) > 1:
        raise ConfigError(
            f"{models.where(selection.name, 'prices')}: agents are priced in different "
            f"currencies ({', '.join(sorted(currencies))}); use one currency"
        )
