"""The patient status a knowledge tool matches on: from the upstream ``patient_status`` output
when the plan ran it, else computed from the case."""

from __future__ import annotations

from pydantic import ValidationError

from magentic_health.tools._base import ToolContext
from magentic_health.tools._status_model import PatientStatus


def status_for(ctx: ToolContext) -> tuple[PatientStatus | None, str | None]:
    """The status, or None and a gap saying why there is none."""
    upstream = ctx.upstream.get("patient_status")
    if upstream is not None:
        try:
            return PatientStatus.model_validate(upstream.data), None
        except ValidationError as exc:
            return None, (
                f"upstream patient_status data is not a patient status "
                f"({exc.error_count()} validation errors); matched without it"
            )
    from magentic_health.tools.status import patient_status

    return patient_status(ctx.case), None
