"""Model profiles (``configs/models.yaml``): which backend a run uses and how it behaves.

A profile names its ``kind`` (offline, azure, openai, openai-compatible, replay), the model or
deployment, where the endpoint is, the model's capabilities, optional prices, the timeout and
retry policy, and per-agent overrides (e.g. a stronger model for the orchestrator). Values may
refer to environment variables (``${AZURE_OPENAI_ENDPOINT}``, ``${OPENAI_MODEL:-gpt-4o-mini}``),
read when the profile is used. Keys are never written in the file: ``api_key_env`` names the
variable that holds one. Errors are one line, ``<file>:<line>: <field path>: <problem>``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from autogen_core.models import ModelInfo
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic_core import ErrorDetails

from magentic_health.config._load import LineOf, Loc, _format_loc, read_yaml
from magentic_health.errors import ConfigError

Kind = Literal["offline", "azure", "openai", "openai-compatible", "replay"]
KINDS: tuple[Kind, ...] = ("offline", "azure", "openai", "openai-compatible", "replay")
MODELS_ENV = "MAGENTIC_HEALTH_MODELS"
"""Environment variable naming a models file to use instead of the default."""
_CHECKOUT_MODELS = Path(__file__).resolve().parents[2] / "configs" / "models.yaml"
_STRICT = ConfigDict(extra="forbid", frozen=True)


class Capabilities(BaseModel):
    """What the model supports; the team degrades where it does not (see the README)."""

    model_config = _STRICT

    function_calling: bool = True
    json_output: bool = True
    structured_output: bool = True
    vision: bool = False
    family: str = "unknown"
    multiple_system_messages: bool = True

    def model_info(self) -> ModelInfo:
        return ModelInfo(
            vision=self.vision,
            function_calling=self.function_calling,
            json_output=self.json_output,
            structured_output=self.structured_output and self.json_output,
            family=self.family,
            multiple_system_messages=self.multiple_system_messages,
        )


class Prices(BaseModel):
    """Prices of prompt and completion tokens, per ``per_tokens`` tokens."""

    model_config = _STRICT

    per_tokens: Literal[1000, 1000000] = 1000000
    prompt: float = Field(ge=0)
    completion: float = Field(ge=0)
    currency: str = "USD"

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        return (prompt_tokens * self.prompt + completion_tokens * self.completion) / self.per_tokens


class RetryPolicy(BaseModel):
    """Retries of transient failures (429, 5xx, timeouts, dropped connections)."""

    model_config = _STRICT

    max_attempts: int = Field(default=5, ge=1, le=20)
    """Calls in all, the first included."""
    initial_wait_s: float = Field(default=1.0, ge=0)
    max_wait_s: float = Field(default=30.0, ge=0)
    """The cap of one backoff wait (doubling from ``initial_wait_s``, with jitter)."""
    max_retry_after_s: float = Field(default=60.0, ge=0)
    """A server's Retry-After is honoured up to this."""
    max_total_wait_s: float = Field(default=120.0, ge=0)
    """Give up rather than wait longer than this in all for one call."""


class AgentOverride(BaseModel):
    """What one agent uses instead of the profile's values."""

    model_config = _STRICT

    model: str | None = None
    deployment: str | None = None
    capabilities: Capabilities | None = None
    prices: Prices | None = None
    timeout_s: float | None = Field(default=None, gt=0)


class ModelProfile(BaseModel):
    """One backend; see the module doc and ``configs/models.yaml``."""

    model_config = _STRICT

    kind: Kind
    description: str = ""
    model: str | None = None
    deployment: str | None = None
    """Azure OpenAI: the deployment name."""
    endpoint: str | None = None
    """Azure OpenAI: ``https://<resource>.openai.azure.com/``."""
    api_version: str | None = None
    base_url: str | None = None
    """OpenAI and OpenAI-compatible servers: the API root, e.g. ``http://localhost:11434/v1``."""
    api_key_env: str | None = None
    """The environment variable holding the key (Azure: optional, else Entra ID)."""
    ledger: str | None = None
    """Replay: the ledger whose recorded model calls answer."""
    timeout_s: float = Field(default=60.0, gt=0)
    retry: RetryPolicy = RetryPolicy()
    capabilities: Capabilities | None = None
    """None: what autogen-ext knows of the named model (OpenAI and Azure model names)."""
    prices: Prices | None = None
    agents: dict[str, AgentOverride] = {}


class ModelsFile(BaseModel):
    """A models file: profiles by name."""

    model_config = _STRICT

    profiles: dict[str, ModelProfile]


class LoadedModels(BaseModel):
    """A validated models file and where it came from (for messages)."""

    model_config = ConfigDict(frozen=True)

    source: str
    file: ModelsFile
    lines: dict[str, int] = {}
    """The line of each ``profiles.<name>.<field>`` and ``profiles.<name>`` (for messages)."""

    def where(self, profile: str, field: str) -> str:
        """``<file>:<line>: profiles.<name>.<field>`` for messages that point at the file."""
        line = self.lines.get(f"{profile}.{field}") or self.lines.get(profile)
        return f"{self.source}:{line}: profiles.{profile}.{field}" if line else self.source


def default_models_path(env: dict[str, str] | None = None) -> Path:
    """``$MAGENTIC_HEALTH_MODELS`` if set, else the checkout's ``configs/models.yaml``."""
    named = (env if env is not None else os.environ).get(MODELS_ENV)
    return Path(named) if named else _CHECKOUT_MODELS


def load_models(path: str | os.PathLike[str] | None = None) -> LoadedModels:
    """Read and validate a models file (the default one when ``path`` is None; the built-in
    profiles when that is not there, as in an installed package)."""
    if path is None:
        path = default_models_path()
        if not path.is_file() and MODELS_ENV not in os.environ:
            return LoadedModels(source="built-in profiles", file=BUILT_IN)
    source = str(path)
    data, line_of, duplicate = read_yaml(
        Path(path), missing=f"pass --models FILE or set {MODELS_ENV}"
    )
    if duplicate is not None:
        raise _error(source, line_of, *duplicate)
    file = validate_models(data, source=source, line_of=line_of)
    lines: dict[str, int] = {}
    for name in file.profiles:
        lines[name] = line_of(("profiles", name)) or 0
        for field in ModelProfile.model_fields:
            lines[f"{name}.{field}"] = line_of(("profiles", name, field)) or 0
    return LoadedModels(source=source, file=file, lines=lines)


def validate_models(data: object, *, source: str, line_of: LineOf | None = None) -> ModelsFile:
    """Validate parsed models data; errors name ``source`` and (if known) the line."""
    if not isinstance(data, dict):
        got = "an empty file" if data is None else f"a {type(data).__name__}"
        raise _error(source, line_of, (), f"must be a mapping with 'profiles'; got {got}")
    try:
        return ModelsFile.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        if line_of is not None:
            errors.sort(key=lambda e: line_of(tuple(e["loc"])) or 0)
        loc, problem = _translate(errors[0])
        more = len(errors) - 1
        suffix = f" (and {more} more problem{'s' * (more > 1)})" if more else ""
        raise _error(source, line_of, loc, problem + suffix) from None


def _translate(error: ErrorDetails) -> tuple[Loc, str]:
    loc: Loc = tuple(error["loc"])
    given = repr(error.get("input"))[:60]
    match error["type"]:
        case "missing":
            return loc, "missing required field"
        case "extra_forbidden":
            return loc, f"unknown field {loc[-1]!r}; allowed fields: {', '.join(_fields_at(loc))}"
        case "literal_error" if loc[-1:] == ("kind",):
            return loc, f"unknown kind {error.get('input')!r}; choose one of {', '.join(KINDS)}"
        case "model_type" | "dict_type" | "model_attributes_type":
            return loc, f"should be a mapping; got {given}"
    return loc, f"{error['msg'].removeprefix('Input ')}; got {given}"


def _fields_at(loc: Loc) -> list[str]:
    """The allowed fields beside an unknown one, by where it stands."""
    parts = [p for p in loc[:-1] if isinstance(p, str)]
    model: type[BaseModel] = ModelsFile
    if len(parts) >= 2 and parts[0] == "profiles":
        model = ModelProfile
        nested: dict[str, type[BaseModel]] = {
            "retry": RetryPolicy,
            "capabilities": Capabilities,
            "prices": Prices,
        }
        rest = parts[2:]
        if rest[:1] == ["agents"]:
            model = AgentOverride
            rest = rest[2:]
        if rest and rest[0] in nested:
            model = nested[rest[0]]
    return list(model.model_fields)


def _error(source: str, line_of: LineOf | None, loc: Loc, problem: str) -> ConfigError:
    line = line_of(loc) if line_of is not None else None
    where = f"{source}:{line}" if line is not None else source
    return ConfigError(f"{where}: {_format_loc(loc)}: {problem}")


_GPT = Capabilities(family="gpt-4o", vision=True)
BUILT_IN = ModelsFile(
    profiles={
        "offline": ModelProfile(
            kind="offline", description="The deterministic rule engine; no model."
        ),
        "azure": ModelProfile(
            kind="azure",
            description="Azure OpenAI with Entra ID (or AZURE_OPENAI_API_KEY when set).",
            endpoint="${AZURE_OPENAI_ENDPOINT}",
            deployment="${AZURE_OPENAI_DEPLOYMENT:-gpt-4o}",
            model="${AZURE_OPENAI_MODEL:-gpt-4o}",
            api_version="${AZURE_OPENAI_API_VERSION:-2024-10-21}",
            api_key_env="AZURE_OPENAI_API_KEY",
            capabilities=_GPT,
            agents={
                "Orchestrator": AgentOverride(
                    deployment="${AZURE_OPENAI_ORCHESTRATOR_DEPLOYMENT}",
                    model="${AZURE_OPENAI_ORCHESTRATOR_MODEL}",
                )
            },
        ),
        "openai": ModelProfile(
            kind="openai",
            description="OpenAI's API with OPENAI_API_KEY.",
            model="${OPENAI_MODEL:-gpt-4o-mini}",
            base_url="${OPENAI_BASE_URL}",
            api_key_env="OPENAI_API_KEY",
            agents={"Orchestrator": AgentOverride(model="${OPENAI_ORCHESTRATOR_MODEL:-gpt-4o}")},
        ),
        "openai-compatible": ModelProfile(
            kind="openai-compatible",
            description="An OpenAI-compatible server (Ollama, vLLM, llama.cpp): --base-url.",
            model="${OPENAI_MODEL:-llama3.1}",
            base_url="${OPENAI_BASE_URL:-http://localhost:11434/v1}",
            api_key_env="OPENAI_API_KEY",
            timeout_s=120.0,
            capabilities=Capabilities(structured_output=False),
        ),
        "replay": ModelProfile(
            kind="replay",
            description="Answers from a ledger's recorded model calls (--ledger PATH).",
            ledger="${MAGENTIC_HEALTH_REPLAY_LEDGER}",
            capabilities=Capabilities(),
        ),
    }
)
"""The profiles used when no models file is found (an installed package carries none)."""
