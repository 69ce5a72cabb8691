"""The ``replay`` profile: model calls answered from a ledger's recorded ``model_call`` events.

Tools still run (they are deterministic and offline); a request the ledger has no answer for
ends the run with ``BackendError`` (the case, configuration, prompts or capabilities changed:
``magentic-health rerun LEDGER`` shows where the run first diverges).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, NoReturn

from autogen_core.models import ChatCompletionClient, ModelInfo

from magentic_health.errors import BackendError

_LLM_ENGINE = "language-model planner ("

if TYPE_CHECKING:
    from magentic_health.rerun import Divergence


def _unanswered(ledger: str, divergence: Divergence) -> NoReturn:
    raise BackendError(
        f"--model replay: {ledger} holds no recorded answer for a model call of "
        f"{divergence.agent or 'the orchestrator'} (step {divergence.step or '-'}): the case, "
        "configuration, prompts or capabilities differ from the recorded run; "
        f"'magentic-health rerun {ledger}' shows the first divergence"
    )


def replay_clients(
    ledger: str, agents: Sequence[str], *, model_info: ModelInfo
) -> tuple[str, dict[str, ChatCompletionClient]]:
    """The recorded run's model profile, and a replaying client per agent (one shared book)."""
    # imported here: rerun builds teams, and teams import the backends
    from magentic_health.rerun import Recording, ReplayBook, ReplayModelClient
    from magentic_health.rerun._divergence import Watch

    class Unanswered(Watch):
        """Ends the call with ``BackendError`` where a rerun would record a divergence."""

        def stop(self, divergence: Divergence) -> NoReturn:
            _unanswered(ledger, divergence)

    recording = Recording.read(ledger)
    engine = recording.started.engine
    named = engine.removeprefix(_LLM_ENGINE).removesuffix(")") if _LLM_ENGINE in engine else None

    class Replaying(ReplayModelClient):
        """Names the recorded model, so the planner's engine label is the recorded one."""

        model_name = named

    book = ReplayBook(recording)
    watch = Unanswered()
    clients: dict[str, ChatCompletionClient] = {
        agent: Replaying(book, watch, agent=agent, model_info=model_info) for agent in agents
    }
    return recording.started.model_profile, clients
