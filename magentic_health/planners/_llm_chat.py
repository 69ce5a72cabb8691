"""One planner question to the model: structured output where supported, bounded retries.

The conversation always fits strict chat templates: one system message, then the user's
prompt; each retry appends the model's previous answer (assistant) and the validation errors
(user), so a retry is never the same prompt and two assistant messages never follow each other.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, Literal, TypeVar

from autogen_core.models import (
    AssistantMessage,
    ChatCompletionClient,
    LLMMessage,
    SystemMessage,
    UserMessage,
)
from pydantic import BaseModel

from magentic_health.errors import MagenticHealthError
from magentic_health.planners._llm_json import AnswerError, parse_answer
from magentic_health.planners._llm_prompts import load_prompt

T = TypeVar("T", bound=BaseModel)
OutputMode = Literal["structured", "json", "text"]
Check = Callable[[T], list[str]]


class ChatSequenceError(MagenticHealthError):
    """A message list that strict chat templates (e.g. Llama, Mistral) would reject."""


def check_chat_sequence(messages: Sequence[LLMMessage]) -> None:
    """Raise ``ChatSequenceError`` unless ``messages`` is: one optional system message first,
    then a user message, and never two assistant messages in a row."""
    body = list(messages)
    if body and isinstance(body[0], SystemMessage):
        body = body[1:]
    for i, message in enumerate(body):
        if isinstance(message, SystemMessage):
            raise ChatSequenceError(f"message {i}: a system message after the conversation began")
    if not body:
        raise ChatSequenceError("no user message: the conversation is empty")
    if not isinstance(body[0], UserMessage):
        raise ChatSequenceError(
            f"the conversation starts with {type(body[0]).__name__}, not a user message"
        )
    for before, after in itertools.pairwise(body):
        if isinstance(before, AssistantMessage) and isinstance(after, AssistantMessage):
            raise ChatSequenceError("two assistant messages in a row")


def output_mode(client: ChatCompletionClient) -> OutputMode:
    """Structured output if the model supports it, else JSON mode, else plain text."""
    info = client.model_info
    if info.get("structured_output"):
        return "structured"
    if info.get("json_output"):
        return "json"
    return "text"


@dataclass(frozen=True)
class Asked(Generic[T]):
    """The validated answer (or None), how many calls it took and the last errors."""

    answer: T | None
    attempts: int
    errors: tuple[str, ...] = ()


def _format_note(model: type[BaseModel]) -> str:
    schema = json.dumps(model.model_json_schema(), separators=(",", ":"))
    return load_prompt("answer_format").render(schema_name=model.__name__, schema=schema)


def _content(result_content: object) -> str:
    if isinstance(result_content, str):
        return result_content
    raise AnswerError(["the answer was a tool call; answer with one JSON object instead"])


async def ask(
    client: ChatCompletionClient,
    *,
    system: str,
    prompt: str,
    model: type[T],
    check: Check[T],
    max_attempts: int,
    speaker: str,
) -> Asked[T]:
    """Ask until the answer parses and ``check`` finds no error, at most ``max_attempts``."""
    mode = output_mode(client)
    user = prompt if mode == "structured" else f"{prompt}\n\n{_format_note(model)}"
    messages: list[LLMMessage] = [
        SystemMessage(content=system),
        UserMessage(content=user, source="user"),
    ]
    json_output: bool | type[BaseModel] | None = (
        model if mode == "structured" else True if mode == "json" else None
    )
    errors: list[str] = []
    for attempt in range(1, max_attempts + 1):
        check_chat_sequence(messages)
        result = await client.create(messages, json_output=json_output)
        raw = result.content if isinstance(result.content, str) else repr(result.content)
        try:
            answer = parse_answer(_content(result.content), model)
            errors = check(answer)
        except AnswerError as exc:
            errors = exc.errors
        if not errors:
            return Asked(answer=answer, attempts=attempt)
        retry = load_prompt("retry").render(
            errors="\n".join(f"- {e}" for e in errors), schema_name=model.__name__
        )
        messages += [
            AssistantMessage(content=raw.strip() or "(empty answer)", source=speaker),
            UserMessage(content=retry, source="user"),
        ]
    return Asked(answer=None, attempts=max_attempts, errors=tuple(errors))
