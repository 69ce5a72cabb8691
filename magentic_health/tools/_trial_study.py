"""A ClinicalTrials.gov API v2 study as the trials tool reads it: the protocol section's
identification, status, conditions, description and eligibility modules, nothing else.

One model for the study files in the data directory (``mcode/NCT*.json``, ``trials/NCT*.json``)
and the studies of a live ``/studies`` page, so both become trial records the same way. Field
names follow the API (camelCase aliases); unknown fields are ignored, so the large
``resultsSection`` and ``derivedSection`` cost nothing beyond JSON parsing.
"""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic.alias_generators import to_camel

__all__ = ["Study", "StudyError", "parse_study", "protocol_only"]


class _Module(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, extra="ignore", frozen=True)


class Identification(_Module):
    nct_id: str
    brief_title: str
    acronym: str | None = None


class StatusModule(_Module):
    overall_status: str = "unknown"


class Conditions(_Module):
    conditions: tuple[str, ...] = ()


class Description(_Module):
    brief_summary: str = ""


class Eligibility(_Module):
    eligibility_criteria: str = ""
    sex: str | None = None
    """"ALL", "FEMALE" or "MALE"."""
    minimum_age: str | None = None
    """As the API writes it, e.g. "18 Years"."""
    maximum_age: str | None = None


class Protocol(_Module):
    identification_module: Identification
    status_module: StatusModule = StatusModule()
    conditions_module: Conditions = Conditions()
    description_module: Description = Description()
    eligibility_module: Eligibility = Eligibility()


class Study(_Module):
    """The part of an API v2 study record the matcher uses."""

    protocol_section: Protocol


class StudyError(ValueError):
    """A record is not an API v2 study; the message names the first bad field. Callers turn it
    into their own error (an input error for a local file, a skipped record for a live page)."""


def parse_study(raw: Any) -> Study:
    """Validate one study record (a parsed JSON object)."""
    try:
        return Study.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "record"
        raise StudyError(f"{where}: {first['msg'].lower()}") from exc


_PROTOCOL_FIRST = re.compile(r'\s*\{\s*"protocolSection"\s*:\s*')
_DECODER = json.JSONDecoder()


def protocol_only(text: str) -> Any:
    """The parsed study, reading only its protocol section when the record opens with it (as
    the API writes records: the results that follow can be megabytes); else the whole text.
    Raises ``json.JSONDecodeError`` when the text is not JSON."""
    head = _PROTOCOL_FIRST.match(text)
    if head is not None:
        try:
            protocol, _ = _DECODER.raw_decode(text, head.end())
        except json.JSONDecodeError:
            pass  # let the full parse below report where the text breaks
        else:
            return {"protocolSection": protocol}
    return json.loads(text)
