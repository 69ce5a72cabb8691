"""Per-tool settings from the team configuration's ``tool_settings`` section.

Everything here is optional: with no settings every tool works offline on the data directory.
Secrets are never stored here, only the names of the environment variables that hold them.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class CxrSettings(BaseModel):
    """A CXRReportGen-style model on an Azure ML online endpoint, used only when configured."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    endpoint: str | None = None
    """The scoring URL, e.g. ``https://<name>.<region>.inference.ml.azure.com/score``."""
    deployment: str | None = None
    """Sent as ``azureml-model-deployment`` when the endpoint hosts several deployments."""
    api_key_env: str | None = None
    """Environment variable holding an endpoint key; without it, Entra ID
    (``DefaultAzureCredential``) is used."""
    scope: str = "https://ml.azure.com/.default"
    timeout_s: float = Field(default=60, gt=0)


class RadiologySettings(BaseModel):
    """Settings of the radiology tool."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    cxr: CxrSettings = CxrSettings()


class TrialSettings(BaseModel):
    """Settings of the clinical trials tool."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    live: bool = False
    """Also query the ClinicalTrials.gov API v2 (network; never in tests or CI)."""
    api_base: str = "https://clinicaltrials.gov/api/v2"
    max_results: int = Field(default=20, gt=0, le=100)
    timeout_s: float = Field(default=20, gt=0)


class ToolSettings(BaseModel):
    """All tool settings; the defaults run fully offline."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    radiology: RadiologySettings = RadiologySettings()
    clinical_trials: TrialSettings = TrialSettings()
