"""What the CXRReportGen adapter returns, and how it is shown.

The findings are a model's output about the pixels, not statements of the record: they are
labelled as such in the text and the data, and never become cited findings (no case document
says them, so there is nothing to quote).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

MODEL_LABEL = "CXRReportGen model output (not verified against the record)"

Box = tuple[float, float, float, float]
"""``(x_min, y_min, x_max, y_max)`` as fractions of the image width and height."""


class CxrFinding(BaseModel):
    """One generated finding sentence and the image regions it is grounded on (if any)."""

    model_config = ConfigDict(frozen=True)

    text: str
    boxes: tuple[Box, ...] = ()


class CxrResult(BaseModel):
    """Findings per image id, and what could not be done (one line each)."""

    model_config = ConfigDict(frozen=True)

    findings_by_image: dict[str, list[CxrFinding]]
    gaps: tuple[str, ...] = ()

    def as_data(self) -> dict[str, Any]:
        """For a tool's ``data``: the label travels with the findings."""
        return {
            "label": MODEL_LABEL,
            "model": "CXRReportGen",
            "images": {
                image: [{"text": f.text, "boxes": [list(b) for b in f.boxes]} for f in findings]
                for image, findings in self.findings_by_image.items()
            },
            "gaps": list(self.gaps),
        }

    def markdown(self) -> str:
        """A section for a tool's text; empty when no image was interpreted."""
        if not self.findings_by_image:
            return ""
        lines = [f"### Chest X-ray: {MODEL_LABEL}"]
        for image, findings in self.findings_by_image.items():
            lines += ["", f"Image `{image}`:"]
            lines += [f"- {f.text}{_regions(f.boxes)}" for f in findings] or ["- No findings."]
        return "\n".join(lines)


def _regions(boxes: tuple[Box, ...]) -> str:
    if not boxes:
        return ""
    shown = "; ".join(f"x {b[0]:.3f}–{b[2]:.3f}, y {b[1]:.3f}–{b[3]:.3f}" for b in boxes)
    return f" (region: {shown})"
