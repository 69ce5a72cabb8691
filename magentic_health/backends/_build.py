"""Building autogen-ext model clients for a profile: Azure OpenAI (Entra ID through
azure-identity, or a key), OpenAI, and OpenAI-compatible servers (``base_url`` plus the
declared capabilities). The SDK's own retries are off (``max_retries=0``): ``ResilientClient``
retries, so every retry is seen and recorded.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from autogen_core.models import ChatCompletionClient
from autogen_ext.models.openai import AzureOpenAIChatCompletionClient, OpenAIChatCompletionClient
from azure.core.credentials import TokenCredential

from magentic_health.backends._env import expand, references
from magentic_health.backends._failures import Hints
from magentic_health.backends._profiles import LoadedModels
from magentic_health.backends._select import AgentModel, Selection
from magentic_health.errors import BackendError, ConfigError

AZURE_SCOPE = "https://cognitiveservices.azure.com/.default"
KEY_ENV = {"azure": "AZURE_OPENAI_API_KEY"}
"""The key variable of a kind whose profile names none (else OPENAI_API_KEY)."""
NO_KEY = "no-key-needed"
"""The key sent to OpenAI-compatible servers that need none (the SDK requires one)."""


@dataclass(frozen=True)
class Target:
    """Where the profile's requests go and how they authenticate (the key stays here)."""

    endpoint: str | None
    api_version: str | None
    api_key: str | None

    def __repr__(self) -> str:  # never show the key
        return f"Target(endpoint={self.endpoint!r}, api_version={self.api_version!r})"


def hints(selection: Selection) -> Hints:
    """What to check for each failure, in the profile's own terms."""
    p, name = selection.profile, selection.name
    key = key_env(selection)
    match p.kind:
        case "azure":
            return Hints(
                auth=f"{key}, or your Entra ID sign-in (az login) and its role on the resource "
                "('Cognitive Services OpenAI User')",
                not_found="the deployment (AZURE_OPENAI_DEPLOYMENT, --model-name or "
                f"profiles.{name}.deployment) and AZURE_OPENAI_API_VERSION",
                unreachable="AZURE_OPENAI_ENDPOINT (or --base-url) and the network",
            )
        case "openai":
            return Hints(
                auth=key,
                not_found=f"the model name (--model-name or profiles.{name}.model)",
                unreachable="the network (and OPENAI_BASE_URL or --base-url, if set)",
            )
    return Hints(
        auth=f"{key} (the server's key, if it needs one)",
        not_found="--model-name (a model the server serves) and --base-url (often ends in /v1)",
        unreachable="--base-url (is the server running there?)",
    )


def key_env(selection: Selection) -> str:
    """The environment variable that holds the profile's key."""
    p = selection.profile
    return p.api_key_env or KEY_ENV.get(p.kind, "OPENAI_API_KEY")


def target(
    selection: Selection, models: LoadedModels, *, env: Mapping[str, str], base_url: str | None
) -> Target:
    """The endpoint, API version and key of the selected profile; ``BackendError`` when a
    required one is not set (naming the variable, flag and file field)."""
    p = selection.profile
    key = env.get(key_env(selection))
    if p.kind == "azure":
        endpoint = _needed(selection, models, "endpoint", expand(p.endpoint, env), "--base-url")
        version = _needed(selection, models, "api_version", expand(p.api_version, env), None)
        return Target(endpoint=endpoint, api_version=version, api_key=key or None)
    if p.kind == "openai" and not key:
        raise BackendError(
            f"--model {selection.name}: no API key: set {key_env(selection)} "
            f"(profiles.{selection.name}.api_key_env in {models.source} names the variable)"
        )
    url = expand(p.base_url, env)
    if p.kind == "openai-compatible":
        url = _needed(selection, models, "base_url", url, "--base-url")
    return Target(endpoint=url, api_version=None, api_key=key or None)


def _needed(
    selection: Selection, models: LoadedModels, field: str, value: str | None, flag: str | None
) -> str:
    if value:
        return value
    raw = getattr(selection.profile, field)
    variables = references(raw)
    how = " or ".join([*(f"set {v}" for v in variables), *([f"pass {flag}"] if flag else [])])
    raise BackendError(
        f"--model {selection.name}: no {field.replace('_', ' ')}: "
        f"{how or 'set it'} ({models.where(selection.name, field)} is {raw!r})"
    )


def raw_client(
    selection: Selection,
    model: AgentModel,
    where: Target,
    *,
    credential: TokenCredential | None = None,
) -> ChatCompletionClient:
    """The autogen-ext client for one ``AgentModel`` (no network until the first call)."""
    _quiet_parsed_dump_warning()
    p = selection.profile
    common: dict[str, Any] = {"timeout": model.timeout_s, "max_retries": 0}
    if where.endpoint and p.kind != "azure":
        common["base_url"] = where.endpoint
    if model.capabilities is not None:
        common["model_info"] = model.capabilities.model_info()
    try:
        if p.kind == "azure":
            return _azure(selection, model, where, common, credential)
        name = model.model
        if not name:
            raise BackendError(
                f"--model {selection.name}: no model name: pass --model-name NAME "
                f"(or set profiles.{selection.name}.model)"
            )
        return OpenAIChatCompletionClient(
            model=name,
            api_key=where.api_key or NO_KEY,
            **common,
        )
    except ValueError as exc:  # autogen-ext: a model name it does not know, without model_info
        raise ConfigError(
            f"--model {selection.name}: autogen-ext does not know the model "
            f"{model.model or model.deployment!r}; declare profiles.{selection.name}"
            ".capabilities (function_calling, json_output, structured_output, vision, family)"
        ) from exc


def _azure(
    selection: Selection,
    model: AgentModel,
    where: Target,
    common: dict[str, Any],
    credential: TokenCredential | None,
) -> ChatCompletionClient:
    deployment = model.deployment or model.model
    if not deployment:
        raise BackendError(
            f"--model {selection.name}: no deployment: set AZURE_OPENAI_DEPLOYMENT or pass "
            "--model-name NAME"
        )
    auth: dict[str, Any]
    if where.api_key:
        auth = {"api_key": where.api_key}
    else:
        from azure.identity import DefaultAzureCredential, get_bearer_token_provider

        auth = {
            "azure_ad_token_provider": get_bearer_token_provider(
                credential or DefaultAzureCredential(), AZURE_SCOPE
            )
        }
    return AzureOpenAIChatCompletionClient(
        model=model.model or deployment,
        azure_endpoint=where.endpoint or "",
        azure_deployment=deployment,
        api_version=where.api_version or "",
        **auth,
        **common,
    )


def _quiet_parsed_dump_warning() -> None:
    """autogen-ext logs each structured-output completion with ``model_dump()``; pydantic then
    warns that openai's ``parsed`` field holds our answer model where it declared None. The
    warning is about that log record only (the answer is read correctly), yet it would reach
    the user's stderr on every structured run: silence exactly that one."""
    warnings.filterwarnings(
        "ignore",
        message=r"(?s)Pydantic serializer warnings:.*field_name='parsed'",
        category=UserWarning,
    )
