"""``open_backend``: from ``--model`` (and ``--models``, ``--base-url``, ``--model-name``,
``--ledger``) to the model clients of a run, one resilient client per agent.

Agents whose resolved settings are equal share one autogen-ext client (one connection pool);
each agent still gets its own ``ResilientClient``, so retries are recorded under its name.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from autogen_core.models import ChatCompletionClient
from azure.core.credentials import TokenCredential

from magentic_health.backends._build import hints, raw_client, target
from magentic_health.backends._cost import Pricing
from magentic_health.backends._env import expand
from magentic_health.backends._profiles import Capabilities, LoadedModels, load_models
from magentic_health.backends._replay import replay_clients
from magentic_health.backends._resilience import ResilientClient, Sleep
from magentic_health.backends._select import (
    AgentModel,
    Selection,
    agent_models,
    select,
    with_overrides,
)
from magentic_health.errors import BackendError, InputError


@dataclass
class Backend:
    """The model side of a run: which profile, why, and a client per agent (none offline)."""

    name: str
    kind: str
    reason: str
    label: str
    """What ``run_started.model_profile`` records: ``offline``, or ``<profile> (<model>)``."""
    agent_clients: dict[str, ChatCompletionClient] = field(default_factory=dict)
    pricing: Pricing | None = None
    _owned: list[ChatCompletionClient] = field(default_factory=list, repr=False)

    @property
    def offline(self) -> bool:
        return not self.agent_clients

    async def close(self) -> None:
        """Close the underlying clients (their connection pools)."""
        for client in self._owned:
            await client.close()


ModelsInput = LoadedModels | str | os.PathLike[str] | None


def open_backend(
    choice: str = "auto",
    *,
    agents: Sequence[str],
    models: ModelsInput = None,
    base_url: str | None = None,
    model_name: str | None = None,
    ledger: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
    credential: TokenCredential | None = None,
    sleep: Sleep | None = None,
) -> Backend:
    """The backend for ``--model choice`` and the team's ``agents`` (names; clients are made
    for each). ``credential`` replaces Entra ID's ``DefaultAzureCredential`` (tests pass a
    stub); ``sleep`` replaces the retry waits (tests)."""
    env = os.environ if env is None else env
    loaded = models if isinstance(models, LoadedModels) else load_models(models)
    selection = select(choice, loaded, env=env, base_url=base_url)
    profile = with_overrides(selection.profile, base_url=base_url, model_name=model_name)
    selection = Selection(name=selection.name, profile=profile, reason=selection.reason)
    default, overrides = agent_models(selection, loaded, env=env, agents=agents)
    match profile.kind:
        case "offline":
            return Backend(
                name=selection.name, kind="offline", reason=selection.reason, label="offline"
            )
        case "replay":
            return _replay(selection, default, agents, ledger, env)
    where = target(selection, loaded, env=env, base_url=base_url)
    shared: dict[tuple[object, ...], ChatCompletionClient] = {}
    clients: dict[str, ChatCompletionClient] = {}
    for agent in agents:
        model = overrides.get(agent, default)
        raw = shared.get(model.key)
        if raw is None:
            raw = shared[model.key] = raw_client(selection, model, where, credential=credential)
        clients[agent] = ResilientClient(
            raw,
            agent=agent,
            profile=selection.name,
            policy=profile.retry,
            hints=hints(selection),
            model_name=_model_label(model),
            sleep=sleep,
        )
    return Backend(
        name=selection.name,
        kind=profile.kind,
        reason=selection.reason,
        label=f"{selection.name} ({_model_label(default)})",
        agent_clients=clients,
        pricing=_pricing(default, overrides),
        _owned=list(shared.values()),
    )


def _model_label(model: AgentModel) -> str:
    if model.deployment and model.deployment != model.model:
        return f"deployment {model.deployment}"
    return model.model or "unnamed model"


def _pricing(default: AgentModel, overrides: Mapping[str, AgentModel]) -> Pricing | None:
    per_agent = {a: m.prices for a, m in overrides.items() if m.prices is not None}
    if default.prices is None and not per_agent:
        return None
    return Pricing(default=default.prices, per_agent=per_agent)


def _replay(
    selection: Selection,
    default: AgentModel,
    agents: Sequence[str],
    ledger: str | os.PathLike[str] | None,
    env: Mapping[str, str],
) -> Backend:
    path = os.fspath(ledger) if ledger is not None else expand(selection.profile.ledger, env)
    if not path:
        raise BackendError(
            f"--model {selection.name}: no ledger to replay: pass --ledger PATH "
            "(or set MAGENTIC_HEALTH_REPLAY_LEDGER)"
        )
    capabilities = default.capabilities or Capabilities()
    recorded, clients = replay_clients(path, agents, model_info=capabilities.model_info())
    if recorded == "offline":
        raise InputError(
            f"--ledger {path}: that run used the offline engine and made no model calls to "
            "replay; run with --model offline, or rerun the ledger with 'magentic-health rerun'"
        )
    return Backend(
        name=selection.name,
        kind="replay",
        reason=selection.reason,
        label=f"{selection.name} ({Path(path).name}, recorded with {recorded})",
        agent_clients=clients,
    )
