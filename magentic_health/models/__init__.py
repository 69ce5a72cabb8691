"""Model clients: the scripted client for tests and benchmarks, and recording of every call."""

from magentic_health.models.recording import (
    ModelCallSink,
    RecordingClient,
    UsageMeter,
    current_step,
    in_step,
    recording,
    request_digest,
)
from magentic_health.models.scripted import (
    SCRIPTED_MODEL_INFO,
    AnswerFn,
    ModelRequest,
    Reply,
    ScriptedModelClient,
    estimate_tokens,
)

__all__ = [
    "SCRIPTED_MODEL_INFO",
    "AnswerFn",
    "ModelCallSink",
    "ModelRequest",
    "RecordingClient",
    "Reply",
    "ScriptedModelClient",
    "UsageMeter",
    "current_step",
    "estimate_tokens",
    "in_step",
    "recording",
    "request_digest",
]
