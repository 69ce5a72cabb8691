"""CXRReportGen on an Azure ML managed online endpoint: generated, grounded findings for the
chest X-rays of a case, used only when ``tool_settings.radiology.cxr.endpoint`` is set.

Each x-ray image of the case is sent on its own (as the frontal image, with the indication
when one is given) and its findings come back with their bounding boxes. Authentication is an
endpoint key from the environment variable named by ``api_key_env``, else an Entra ID token
(``DefaultAzureCredential``, scope ``settings.scope``). Request and response shapes, retries
and error messages are in ``_cxr_client``.

Failures never raise: an unreadable image, a refused credential, a missing endpoint or a
malformed answer becomes a line in ``CxrResult.gaps``. The output is a model's output, labelled
``MODEL_LABEL``; it is not case evidence and must not be quoted as if a document said it.
"""

from __future__ import annotations

import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

from magentic_health.case import Case, CaseImage
from magentic_health.errors import BackendError
from magentic_health.tools._cxr_client import (
    Credential,
    MalformedOutput,
    authorization,
    parse_output,
    post,
    request_body,
)
from magentic_health.tools._cxr_model import MODEL_LABEL, Box, CxrFinding, CxrResult
from magentic_health.tools._settings import CxrSettings

__all__ = [
    "MODEL_LABEL",
    "Box",
    "CxrFinding",
    "CxrResult",
    "interpret_images",
    "xray_images",
]

_XRAY = ("x-ray", "xray", "radiograph", "cxr")


def xray_images(case: Case) -> tuple[CaseImage, ...]:
    """The case's images whose modality says x-ray (the HAO metadata says "x-ray image")."""
    return tuple(i for i in case.images if any(w in i.modality.lower() for w in _XRAY))


def interpret_images(
    case: Case,
    settings: CxrSettings,
    *,
    credential: Credential | None = None,
    opener: urllib.request.OpenerDirector | None = None,
    indication: str = "",
    sleep: Callable[[float], None] = time.sleep,
) -> CxrResult:
    """The endpoint's findings for each x-ray image of the case, and the gaps.

    Nothing is called (and no credential is asked for) when ``settings.endpoint`` is not set
    or the case has no x-ray image. After an endpoint-level failure (credentials refused,
    endpoint not found, unreachable, timeout, 5xx after a retry) the remaining images are not
    sent; a malformed answer for one image does not stop the others."""
    images = xray_images(case)
    if not settings.endpoint or not images:
        return CxrResult(findings_by_image={})
    opener = opener or urllib.request.build_opener()
    try:
        auth = authorization(settings, credential)
    except BackendError as exc:
        return CxrResult(findings_by_image={}, gaps=(_not_sent(images, exc),))
    found: dict[str, list[CxrFinding]] = {}
    gaps: list[str] = []
    for n, image in enumerate(images):
        try:
            body = request_body(_image_bytes(case, image), indication=indication)
        except OSError as exc:
            gaps.append(f"{image.id}: image not readable ({exc.strerror or exc}); not sent")
            continue
        try:
            payload = post(body, settings=settings, authorization=auth, opener=opener, sleep=sleep)
            found[image.id] = parse_output(payload)
        except MalformedOutput as exc:
            gaps.append(f"{image.id}: {exc}")
        except BackendError as exc:
            gaps.append(_not_sent(images[n:], exc))
            break
    return CxrResult(findings_by_image=found, gaps=tuple(gaps))


def _not_sent(images: tuple[CaseImage, ...], exc: BackendError) -> str:
    names = ", ".join(i.id for i in images)
    return f"chest X-ray not interpreted ({names}): {exc}"


def _image_bytes(case: Case, image: CaseImage) -> bytes:
    """The image file: its path as the loader wrote it, else relative to the case source (a
    case folder, or the folder of a case file)."""
    path = Path(image.path)
    if not path.is_absolute() and not path.is_file():
        source = Path(case.source)
        base = source if source.is_dir() else source.parent
        path = base / image.path
    return path.read_bytes()
