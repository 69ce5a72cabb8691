"""Model backends: profiles (``configs/models.yaml``), autogen-ext clients for Azure OpenAI,
OpenAI and OpenAI-compatible servers, retries with backoff, and the cost of a run's tokens."""

from magentic_health.backends._backend import Backend, open_backend
from magentic_health.backends._build import AZURE_SCOPE
from magentic_health.backends._cost import Pricing
from magentic_health.backends._failures import Fatal, Hints, Transient, classify, retry_after
from magentic_health.backends._profiles import (
    BUILT_IN,
    KINDS,
    MODELS_ENV,
    AgentOverride,
    Capabilities,
    LoadedModels,
    ModelProfile,
    ModelsFile,
    Prices,
    RetryPolicy,
    default_models_path,
    load_models,
    validate_models,
)
from magentic_health.backends._resilience import (
    BackendEventSink,
    ResilientClient,
    reporting,
)

__all__ = [
    "AZURE_SCOPE",
    "BUILT_IN",
    "KINDS",
    "MODELS_ENV",
    "AgentOverride",
    "Backend",
    "BackendEventSink",
    "Capabilities",
    "Fatal",
    "Hints",
    "LoadedModels",
    "ModelProfile",
    "ModelsFile",
    "Prices",
    "Pricing",
    "ResilientClient",
    "RetryPolicy",
    "Transient",
    "classify",
    "default_models_path",
    "load_models",
    "open_backend",
    "reporting",
    "retry_after",
    "validate_models",
]
