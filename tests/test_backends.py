"""Model profiles, backend choice, client construction, and the retry wrapper driving real
autogen-ext clients against a chat-completions server on 127.0.0.1."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from autogen_core.models import UserMessage
from autogen_ext.models.openai import AzureOpenAIChatCompletionClient, OpenAIChatCompletionClient

from magentic_health.backends import (
    BUILT_IN,
    Backend,
    LoadedModels,
    ResilientClient,
    load_models,
    open_backend,
    reporting,
    retry_after,
    validate_models,
)
from magentic_health.errors import BackendError, ConfigError, InputError
from magentic_health.trace import ErrorEvent, ModelRetry
from tests._chat_wire import api_error, completion
from tests._http_server import LocalServer, Reply

AGENTS = ("Orchestrator", "PatientStatus", "Radiology")
REPO = Path(__file__).resolve().parents[1]


def models(**profiles: dict[str, Any]) -> LoadedModels:
    return LoadedModels(
        source="test.yaml", file=validate_models({"profiles": profiles}, source="test.yaml")
    )


def compatible(url: str, **extra: Any) -> LoadedModels:
    retry = {"max_attempts": 3, "initial_wait_s": 0.5, "max_wait_s": 4, "max_total_wait_s": 30}
    return models(
        local={
            "kind": "openai-compatible",
            "base_url": url + "/v1",
            "model": "test",
            "capabilities": {"structured_output": False},
            "retry": retry,
            **extra,
        }
    )


class Sleeps:
    """A ``sleep`` that records waits instead of waiting."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def open_local(server: LocalServer, sleeps: Sleeps, **extra: Any) -> Backend:
    return open_backend(
        "local", agents=AGENTS, models=compatible(server.url, **extra), env={}, sleep=sleeps
    )


async def ask(backend: Backend, agent: str = "PatientStatus") -> tuple[str, list[Any]]:
    events: list[Any] = []
    with reporting(lambda payload, who, step: events.append((payload, who, step))):
        result = await backend.agent_clients[agent].create(
            [UserMessage(content="hello", source="user")]
        )
    assert isinstance(result.content, str)
    return result.content, events


# -- profiles ------------------------------------------------------------------------------


def test_the_shipped_models_file_is_the_built_in_profiles() -> None:
    loaded = load_models(REPO / "configs" / "models.yaml")
    assert loaded.file == BUILT_IN
    assert set(loaded.file.profiles) == {
        "offline",
        "azure",
        "openai",
        "openai-compatible",
        "replay",
    }
    assert loaded.where("azure", "endpoint").endswith("models.yaml:37: profiles.azure.endpoint")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "profiles:\n  x:\n    kind: bedrock\n",
            "f.yaml:3: profiles.x.kind: unknown kind 'bedrock'",
        ),
        (
            "profiles:\n  x:\n    kind: openai\n    modle: gpt-4o\n",
            "f.yaml:4: profiles.x.modle: unknown field 'modle'; allowed fields: kind,",
        ),
        (
            "profiles:\n  x:\n    kind: openai\n    retry: {max_attempts: 0}\n",
            "f.yaml:4: profiles.x.retry.max_attempts: should be greater than or equal to 1",
        ),
        (
            "profiles:\n  x:\n    kind: openai\n    prices: {prompt: 1}\n",
            "f.yaml:4: profiles.x.prices.completion: missing required field",
        ),
        ("profiles:\n  x: {kind: openai}\n  x: {kind: azure}\n", "f.yaml:3: profiles.x: key 'x'"),
        ("[]\n", "f.yaml:1: top level: must be a mapping with 'profiles'"),
    ],
)
def test_a_bad_models_file_is_one_located_line(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "f.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_models(path)
    message = str(caught.value).replace(str(tmp_path) + "/", "")
    assert message.startswith(expected), message
    assert "\n" not in message


def test_an_unknown_agent_override_and_mixed_currencies_are_config_errors() -> None:
    bad_agent = models(o={"kind": "openai", "model": "gpt-4o", "agents": {"Oracle": {}}})
    with pytest.raises(ConfigError, match="no agent 'Oracle' in the team"):
        open_backend("o", agents=AGENTS, models=bad_agent, env={"OPENAI_API_KEY": "k"})
    prices = {"prompt": 1, "completion": 2}
    mixed = models(
        o={
            "kind": "openai",
            "model": "gpt-4o",
            "prices": prices,
            "agents": {"Orchestrator": {"prices": prices | {"currency": "EUR"}}},
        }
    )
    with pytest.raises(ConfigError, match="different currencies"):
        open_backend("o", agents=AGENTS, models=mixed, env={"OPENAI_API_KEY": "k"})


# -- choosing a backend --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("env", "base_url", "name", "why"),
    [
        ({"AZURE_OPENAI_ENDPOINT": "https://r.openai.azure.com/"}, None, "azure", "AZURE_OPENAI"),
        ({"OPENAI_API_KEY": "sk-test"}, None, "openai", "OPENAI_API_KEY is set"),
        ({}, "http://127.0.0.1:9/v1", "openai-compatible", "--base-url is given"),
        ({}, None, "offline", "neither AZURE_OPENAI_ENDPOINT nor OPENAI_API_KEY"),
    ],
)
def test_auto_picks_by_environment_and_says_why(
    env: dict[str, str], base_url: str | None, name: str, why: str
) -> None:
    backend = open_backend(
        "auto", agents=AGENTS, models=LoadedModels(source="b", file=BUILT_IN), env=env,
        base_url=base_url,
    )  # fmt: skip
    assert (backend.name, backend.kind) == (name, name)
    assert why in backend.reason
    assert backend.offline == (name == "offline")
    assert backend.label == "offline" if name == "offline" else backend.label.startswith(name)


def test_an_unknown_profile_is_bad_input_and_missing_settings_name_the_variable() -> None:
    built_in = LoadedModels(source="b", file=BUILT_IN)
    with pytest.raises(InputError, match="unknown model profile; choose auto or one of offline"):
        open_backend("gpt-9", agents=AGENTS, models=built_in, env={})
    with pytest.raises(BackendError, match="no API key: set OPENAI_API_KEY"):
        open_backend("openai", agents=AGENTS, models=built_in, env={})
    with pytest.raises(BackendError, match="set AZURE_OPENAI_ENDPOINT or pass --base-url"):
        open_backend("azure", agents=AGENTS, models=built_in, env={})
    with pytest.raises(BackendError, match="no ledger to replay: pass --ledger PATH"):
        open_backend("replay", agents=AGENTS, models=built_in, env={})


# -- building clients (no network) ---------------------------------------------------------


class StubCredential:
    """An Entra ID credential that hands out a fixed token (azure-identity's protocol)."""

    def __init__(self) -> None:
        self.scopes: list[tuple[str, ...]] = []

    def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        from azure.core.credentials import AccessToken

        self.scopes.append(scopes)
        return AccessToken("stub-entra-token", 4_102_444_800)


def test_each_kind_builds_its_autogen_client_with_declared_capabilities() -> None:
    built_in = LoadedModels(source="b", file=BUILT_IN)
    env = {
        "OPENAI_API_KEY": "sk-test",
        "AZURE_OPENAI_ENDPOINT": "https://r.openai.azure.com/",
        "AZURE_OPENAI_ORCHESTRATOR_DEPLOYMENT": "gpt-4o-strong",
    }
    azure = open_backend(
        "azure", agents=AGENTS, models=built_in, env=env, credential=StubCredential()
    )
    clients = azure.agent_clients
    assert all(isinstance(c, ResilientClient) for c in clients.values())
    status, boss = clients["PatientStatus"], clients["Orchestrator"]
    assert isinstance(status, ResilientClient) and isinstance(boss, ResilientClient)
    assert isinstance(status.inner, AzureOpenAIChatCompletionClient)
    assert status.inner is clients["Radiology"].inner  # shared: same settings
    assert boss.inner is not status.inner and boss.model_name == "deployment gpt-4o-strong"
    assert status.model_info["structured_output"] and status.model_info["family"] == "gpt-4o"
    assert azure.label == "azure (gpt-4o)"
    openai = open_backend("openai", agents=AGENTS, models=built_in, env=env)
    first = openai.agent_clients["PatientStatus"]
    assert isinstance(first, ResilientClient)
    assert isinstance(first.inner, OpenAIChatCompletionClient)
    assert (openai.label, first.model_name) == ("openai (gpt-4o-mini)", "gpt-4o-mini")
    local = open_backend(
        "openai-compatible", agents=AGENTS, models=built_in, env={}, model_name="llama3.2"
    )
    info = local.agent_clients["Orchestrator"].model_info
    assert (info["structured_output"], info["json_output"], info["function_calling"]) == (
        False,
        True,
        True,
    )
    assert local.label == "openai-compatible (llama3.2)"


def test_an_unknown_model_without_capabilities_says_to_declare_them() -> None:
    loaded = models(o={"kind": "openai", "model": "my-finetune"})
    with pytest.raises(ConfigError, match=r"declare profiles\.o\.capabilities"):
        open_backend("o", agents=AGENTS, models=loaded, env={"OPENAI_API_KEY": "k"})


def test_retry_after_reads_milliseconds_seconds_and_dates() -> None:
    assert retry_after({"retry-after-ms": "250"}) == 0.25
    assert retry_after({"retry-after": "3"}) == 3.0
    assert retry_after({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}) == 0.0
    assert retry_after({"retry-after": "soon"}) is None and retry_after({}) is None


# -- retries against a real server ---------------------------------------------------------


async def test_429_honours_retry_after_then_succeeds_and_each_retry_is_an_event() -> None:
    script = [api_error(429, **{"retry-after": "2"}), completion("fine")]
    sleeps = Sleeps()
    with LocalServer(script) as server:
        content, events = await ask(open_local(server, sleeps))
    assert content == "fine" and sleeps.waits == [2.0]
    ((retry, agent, step),) = events
    assert isinstance(retry, ModelRetry) and agent == "PatientStatus" and step is None
    assert (retry.attempt, retry.reason, retry.status, retry.wait_s) == (1, "rate_limited", 429, 2)
    assert len(server.requests) == 2  # the SDK's own retries are off
    assert server.requests[0].path == "/v1/chat/completions"


async def test_503_and_a_timeout_back_off_exponentially_within_the_caps() -> None:
    script = [api_error(503), Reply(delay_s=5.0), api_error(502), completion("ok")]
    sleeps = Sleeps()
    with LocalServer(script) as server:
        backend = open_local(server, sleeps, timeout_s=0.3, retry={"max_attempts": 4})
        content, events = await ask(backend)
    assert content == "ok"
    assert [(e.reason, e.status) for e, _, _ in events] == [
        ("server_error", 503),
        ("timeout", None),
        ("server_error", 502),
    ]
    assert [round(w, 3) for w in sleeps.waits] == [e.wait_s for e, _, _ in events]
    for n, wait in enumerate(sleeps.waits):  # 1 s doubling, halved at most by jitter
        assert 2**n / 2 <= wait <= 2**n


async def test_a_429_that_never_ends_gives_up_with_one_line_and_an_error_event() -> None:
    sleeps = Sleeps()
    always_429 = LocalServer(lambda r: api_error(429, **{"retry-after-ms": "100"}))
    with always_429 as server, pytest.raises(BackendError) as caught:
        await ask(open_local(server, sleeps))
    message = str(caught.value)
    assert message.startswith("--model local: the model backend kept rate-limiting us (HTTP 429)")
    assert "gave up after 3 attempts" in message and "\n" not in message
    assert "raise the quota" in message and "--base-url" not in message  # the server is fine
    assert caught.value.exit_code == 3 and sleeps.waits == [0.1, 0.1]


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        (api_error(401, message="Incorrect API key provided: sk-abc***xyz"), "HTTP 401"),
        (api_error(403), "refused the credentials (HTTP 403); check OPENAI_API_KEY"),
        (api_error(404, code="model_not_found"), "not found (HTTP 404); check --model-name"),
        (
            api_error(400, code="context_length_exceeded", message="maximum context length"),
            "longer than the model's context window",
        ),
        (api_error(400, code="invalid_value"), "rejected the request (HTTP 400 invalid_value)"),
    ],
)
async def test_refusals_fail_fast_in_one_line_without_the_servers_words(
    reply: Reply, expected: str
) -> None:
    sleeps = Sleeps()
    with LocalServer([reply, completion("never")]) as server:
        backend = open_local(server, sleeps, api_key_env="OPENAI_API_KEY")
        events: list[Any] = []
        with reporting(lambda p, a, s: events.append(p)), pytest.raises(BackendError) as caught:
            await backend.agent_clients["Orchestrator"].create(
                [UserMessage(content="x", source="u")]
            )
    message = str(caught.value)
    assert expected in message and "\n" not in message and "sk-abc" not in message
    assert len(server.requests) == 1 and not sleeps.waits
    (error,) = events
    assert (
        isinstance(error, ErrorEvent) and error.kind == "backend_error" and error.message == message
    )


async def test_an_unreadable_reply_is_retried() -> None:
    sleeps = Sleeps()
    with LocalServer([Reply(status=200, body=b'{"id": "trunc'), completion("back")]) as server:
        content, events = await ask(open_local(server, sleeps))
    assert content == "back"
    assert [e.reason for e, _, _ in events] == ["invalid_response"]


async def test_azure_with_a_stub_entra_credential_against_the_local_server() -> None:
    credential = StubCredential()
    loaded = models(
        az={
            "kind": "azure",
            "endpoint": "${AZURE_OPENAI_ENDPOINT}",
            "deployment": "dep-1",
            "model": "gpt-4o",
            "api_version": "2024-10-21",
            "api_key_env": "AZURE_OPENAI_API_KEY",
        }
    )
    with LocalServer([api_error(503), completion("from azure", model="gpt-4o")]) as server:
        backend = open_backend(
            "az",
            agents=AGENTS,
            models=loaded,
            env={"AZURE_OPENAI_ENDPOINT": server.url},
            credential=credential,
            sleep=Sleeps(),
        )
        content, events = await ask(backend)
    assert content == "from azure" and [e.reason for e, _, _ in events] == ["server_error"]
    request = server.requests[-1]
    assert request.path == "/openai/deployments/dep-1/chat/completions"
    assert request.query["api-version"] == ["2024-10-21"]
    assert request.headers["authorization"] == "Bearer stub-entra-token"
    assert credential.scopes[0] == ("https://cognitiveservices.azure.com/.default",)


def test_without_function_calling_specialists_are_offered_no_argument_tools() -> None:
    from magentic_health.agents import LLMAgent
    from magentic_health.config import default_config_path, load_team_config
    from magentic_health.models import SCRIPTED_MODEL_INFO, ScriptedModelClient
    from magentic_health.team._build import build_specialists

    config = load_team_config(default_config_path())
    plain = ScriptedModelClient(str, model_info=SCRIPTED_MODEL_INFO | {"function_calling": False})
    history = build_specialists(config, plain, {})["PatientHistory"]
    assert isinstance(history, LLMAgent)
    assert [t.name for t in history._tools] == ["patient_timeline"]  # search_notes left out
    full = build_specialists(config, ScriptedModelClient(str), {})["PatientHistory"]
    assert isinstance(full, LLMAgent)
    assert [t.name for t in full._tools] == ["patient_timeline", "search_notes"]
