"""The CXRReportGen adapter against a real HTTP server on 127.0.0.1: headers, the request body
with the real HAO x-ray, the parsed findings, and every failure turned into a gap."""

from __future__ import annotations

import base64
import time
from pathlib import Path
from typing import Any

import pytest
from _http_server import LocalServer, Recorded, Reply, direct_opener
from azure.core.credentials import AccessToken
from azure.core.exceptions import ClientAuthenticationError

from magentic_health.case import Case, CaseImage, load_case
from magentic_health.tools._cxr import MODEL_LABEL, CxrResult, interpret_images, xray_images
from magentic_health.tools._settings import CxrSettings

TOKEN = "entra-token-5f3a"
# The response example of the CXRReportGen documentation: text and boxes (or null) per finding.
ANSWER = {
    "output": [
        ["The heart size is normal.", None],
        [
            "Lungs demonstrate blunting of both costophrenic angles.",
            [[0.005, 0.555, 0.965, 0.865]],
        ],
        [
            "There is an area of increased radiodensity overlying the left lower lung.",
            [[0.555, 0.405, 0.885, 0.745]],
        ],
    ]
}


class StubCredential:
    """A credential at the boundary: records the scopes it was asked for."""

    def __init__(self, *, fail: bool = False) -> None:
        self.scopes: list[tuple[str, ...]] = []
        self.fail = fail

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        self.scopes.append(scopes)
        if self.fail:
            raise ClientAuthenticationError("no credential in this environment")
        return AccessToken(TOKEN, int(time.time()) + 3600)


@pytest.fixture(scope="module")
def hao(hao_dir: Path) -> Case:
    return load_case(hao_dir)


@pytest.fixture(scope="module")
def xray_bytes(hao_dir: Path) -> bytes:
    return (hao_dir / "images" / "x-ray.png").read_bytes()


def two_xrays(hao_dir: Path) -> Case:
    """The HAO x-ray twice, once by a path relative to the case folder."""
    images = (
        CaseImage(id="first.png", path=str(hao_dir / "images" / "x-ray.png"), modality="x-ray"),
        CaseImage(id="second.png", path="images/x-ray.png", modality="X-ray image"),
    )
    return load_case(hao_dir).model_copy(update={"images": images})


def settings(server: LocalServer, **extra: Any) -> CxrSettings:
    return CxrSettings(endpoint=f"{server.url}/score", **extra)


def interpret(case: Case, cfg: CxrSettings, **kwargs: Any) -> tuple[CxrResult, list[float]]:
    delays: list[float] = []
    kwargs.setdefault("credential", StubCredential())
    result = interpret_images(case, cfg, opener=direct_opener(), sleep=delays.append, **kwargs)
    return result, delays


def test_success_sends_the_real_xray_with_token_and_deployment(
    hao: Case, xray_bytes: bytes
) -> None:
    credential = StubCredential()
    with LocalServer([Reply(json=ANSWER)]) as server:
        cfg = settings(server, deployment="cxrreportgen-1", scope="https://ml.azure.com/.default")
        result, delays = interpret(hao, cfg, credential=credential, indication="NSCLC follow-up")
    (request,) = server.requests
    assert (request.method, request.path) == ("POST", "/score")
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    assert request.headers["azureml-model-deployment"] == "cxrreportgen-1"
    assert request.headers["content-type"] == "application/json"
    body = request.json()["input_data"]
    assert body["columns"] == [
        "frontal_image",
        "lateral_image",
        "indication",
        "technique",
        "comparison",
    ]
    assert body["index"] == [0]
    (row,) = body["data"]
    assert base64.b64decode(row[0]) == xray_bytes
    assert row[1:] == ["", "NSCLC follow-up", "", ""]
    assert credential.scopes == [("https://ml.azure.com/.default",)]
    assert delays == [] and result.gaps == ()
    (image,) = xray_images(hao)
    findings = result.findings_by_image[image.id]
    assert [f.text for f in findings] == [text for text, _ in ANSWER["output"]]
    assert findings[0].boxes == ()
    assert findings[1].boxes == ((0.005, 0.555, 0.965, 0.865),)
    assert (
        MODEL_LABEL in result.markdown()
        and "(region: x 0.555–0.885, y 0.405–0.745)" in result.markdown()
    )
    data = result.as_data()
    assert data["label"] == MODEL_LABEL
    assert data["images"][image.id][2]["boxes"] == [[0.555, 0.405, 0.885, 0.745]]


def test_api_key_mode_reads_the_environment_and_asks_no_token(
    hao: Case, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CXR_ENDPOINT_KEY", "key-9c1e")
    credential = StubCredential()
    with LocalServer([Reply(json=ANSWER)]) as server:
        result, _ = interpret(
            hao, settings(server, api_key_env="CXR_ENDPOINT_KEY"), credential=credential
        )
    (request,) = server.requests
    assert request.headers["authorization"] == "Bearer key-9c1e"
    assert "azureml-model-deployment" not in request.headers
    assert credential.scopes == []
    assert len(result.findings_by_image["x-ray.png"]) == 3


def test_missing_key_variable_is_a_gap_and_nothing_is_sent(
    hao: Case, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CXR_ENDPOINT_KEY", raising=False)
    with LocalServer([Reply(json=ANSWER)]) as server:
        result, _ = interpret(hao, settings(server, api_key_env="CXR_ENDPOINT_KEY"))
    assert server.requests == []
    (gap,) = result.gaps
    assert "'CXR_ENDPOINT_KEY', which is not set" in gap and "x-ray.png" in gap


def test_credential_failure_is_a_gap(hao: Case) -> None:
    with LocalServer([Reply(json=ANSWER)]) as server:
        result, _ = interpret(hao, settings(server), credential=StubCredential(fail=True))
    assert server.requests == []
    (gap,) = result.gaps
    assert "no Entra ID token for scope 'https://ml.azure.com/.default'" in gap
    assert "az login" in gap and "api_key_env" in gap


def test_401_names_the_endpoint_and_how_to_authenticate(hao_dir: Path) -> None:
    with LocalServer([Reply(status=401, body=b"unauthorized")] * 2) as server:
        cfg = settings(server)
        result, delays = interpret(two_xrays(hao_dir), cfg)
    assert len(server.requests) == 1  # no retry, and the second image is not sent
    (gap,) = result.gaps
    assert f"{cfg.endpoint!r} refused the credentials (HTTP 401)" in gap
    assert "az login" in gap and "first.png, second.png" in gap
    assert TOKEN not in gap and delays == [] and result.findings_by_image == {}


def test_404_names_endpoint_and_deployment(hao: Case) -> None:
    with LocalServer([Reply(status=404)]) as server:
        result, _ = interpret(hao, settings(server, deployment="cxr-blue"))
    (gap,) = result.gaps
    assert "or deployment 'cxr-blue' not found (HTTP 404)" in gap
    assert "tool_settings.radiology.cxr.endpoint" in gap


def test_500_then_success_retries_once(hao: Case) -> None:
    with LocalServer([Reply(status=500), Reply(json=ANSWER)]) as server:
        result, delays = interpret(hao, settings(server))
    assert len(server.requests) == 2
    assert server.requests[0].body == server.requests[1].body
    assert delays == [1.0]  # no Retry-After: the default wait
    assert result.gaps == () and len(result.findings_by_image["x-ray.png"]) == 3


def test_429_honours_retry_after_and_a_second_failure_is_a_gap(hao: Case) -> None:
    replies = [Reply(status=429, headers={"Retry-After": "3"}), Reply(status=503)]
    with LocalServer(replies) as server:
        result, delays = interpret(hao, settings(server))
    assert len(server.requests) == 2 and delays == [3.0]
    (gap,) = result.gaps
    assert "failed with HTTP 503 after one retry" in gap


def test_timeout_is_a_gap(hao: Case) -> None:
    with LocalServer([Reply(json=ANSWER, delay_s=5)]) as server:
        result, _ = interpret(hao, settings(server, timeout_s=0.2))
    (gap,) = result.gaps
    assert "did not answer within 0.2 s (tool_settings.radiology.cxr.timeout_s)" in gap
    assert result.findings_by_image == {}


def test_malformed_answer_is_a_gap_for_that_image_only(hao_dir: Path) -> None:
    replies = [Reply(body=b"<html>gateway</html>"), Reply(json=[ANSWER])]
    with LocalServer(replies) as server:
        result, _ = interpret(two_xrays(hao_dir), settings(server))
    assert len(server.requests) == 2
    (gap,) = result.gaps
    assert gap.startswith("first.png: ") and "not JSON" in gap
    assert list(result.findings_by_image) == ["second.png"]  # relative path resolved too
    assert len(result.findings_by_image["second.png"]) == 3


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ({"result": "ok"}, "no 'output' list"),
        ({"output": [[None, None], [""]]}, "no finding with text"),
    ],
)
def test_answers_without_findings_are_gaps(hao: Case, answer: object, expected: str) -> None:
    with LocalServer([Reply(json=answer)]) as server:
        result, _ = interpret(hao, settings(server))
    (gap,) = result.gaps
    assert expected in gap and result.findings_by_image == {}


def test_defensive_parsing_keeps_text_and_drops_bad_boxes(hao: Case) -> None:
    answer = {
        "output": [
            {
                "text": " Small left effusion. ",
                "boxes": [[0.1, 0.2, 0.3, 0.4], [0.5, 2.0, 0.6, 0.7]],
            },
            ["No pneumothorax.", [[0.9, 0.1, 0.2, 0.3], ["a", "b", "c", "d"]]],
            "Stable mediastinum.",
        ]
    }
    with LocalServer([Reply(json=answer)]) as server:
        result, _ = interpret(hao, settings(server))
    findings = result.findings_by_image["x-ray.png"]
    assert [(f.text, f.boxes) for f in findings] == [
        ("Small left effusion.", ((0.1, 0.2, 0.3, 0.4),)),
        ("No pneumothorax.", ()),
        ("Stable mediastinum.", ()),
    ]


def test_nothing_is_called_without_an_endpoint(hao: Case) -> None:
    credential = StubCredential()
    seen: list[Recorded] = []
    with LocalServer(lambda r: seen.append(r) or Reply(json=ANSWER)) as server:
        result, _ = interpret(hao, CxrSettings(deployment="d"), credential=credential)
        assert server.url  # the server was up all along
    assert seen == [] and credential.scopes == []
    assert result == CxrResult(findings_by_image={}) and result.markdown() == ""


def test_a_case_without_xrays_calls_nothing(hao: Case) -> None:
    credential = StubCredential()
    no_images = hao.model_copy(update={"images": ()})
    with LocalServer([Reply(json=ANSWER)]) as server:
        result, _ = interpret(no_images, settings(server), credential=credential)
    assert server.requests == [] and credential.scopes == [] and result.gaps == ()


def test_the_radiology_tool_adds_labelled_model_output_only_when_configured(
    hao: Case, hao_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Through the tool: the configured endpoint's reading appears as labelled model output in
    the text and data, never as a cited finding; without an endpoint the image stays a gap."""
    from magentic_health.tools import ToolContext, ToolSettings, get_tool
    from magentic_health.tools._settings import RadiologySettings

    for name in ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CXR_ENDPOINT_KEY", "key-9c1e")
    spec = get_tool("radiology")
    offline = spec.run(ToolContext(hao, "", hao_dir.parent))
    with LocalServer([Reply(json=ANSWER)]) as server:
        configured = ToolSettings(
            radiology=RadiologySettings(cxr=settings(server, api_key_env="CXR_ENDPOINT_KEY"))
        )
        online = spec.run(ToolContext(hao, "", hao_dir.parent, settings=configured))
    assert "1 image(s) not interpreted: no image analysis offline" in offline.gaps
    assert "cxr" not in offline.data and MODEL_LABEL not in offline.text
    assert not any("not interpreted" in gap for gap in online.gaps)
    assert MODEL_LABEL in online.text and "blunting of both costophrenic angles" in online.text
    assert online.data["cxr"]["label"] == MODEL_LABEL
    assert online.findings == offline.findings  # model output is never case evidence
