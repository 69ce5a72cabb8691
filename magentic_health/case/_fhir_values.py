"""Text for FHIR data types (Coding, CodeableConcept, Quantity, Period, narrative, attachments).

The FHIR loader works on plain parsed JSON rather than a FHIR model library (fast, and lenient
with fixtures that are not strictly valid), so every accessor here tolerates a missing or
mistyped element and returns ``None``/``[]`` instead of raising.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from decimal import Decimal
from html.parser import HTMLParser
from typing import Any

# Code systems with a short name in renderings; any other system is shown as its URL.
SYSTEM_NAMES = {
    "http://snomed.info/sct": "SNOMED",
    "http://loinc.org": "LOINC",
    "http://www.nlm.nih.gov/research/umls/rxnorm": "RxNorm",
    "http://hl7.org/fhir/sid/icd-10": "ICD-10",
    "http://hl7.org/fhir/sid/icd-10-cm": "ICD-10",
    "http://www.genenames.org/geneId": "HGNC",
    "http://www.genenames.org": "HGNC",
}


def obj(value: Any) -> dict[str, Any]:
    """``value`` if it is a JSON object, else an empty one."""
    return value if isinstance(value, dict) else {}


def objs(value: Any) -> list[dict[str, Any]]:
    """The JSON objects in ``value`` (a list, or one object standing for a list of one)."""
    items = value if isinstance(value, list) else [value]
    return [item for item in items if isinstance(item, dict)]


def scalar(value: Any) -> str | None:
    """A JSON scalar as text exactly as written (booleans as ``true``/``false``)."""
    match value:
        case bool():
            return "true" if value else "false"
        case str():
            return value or None
        case int() | float() | Decimal():
            return str(value)
        case _:
            return None


def short_system(system: Any) -> str:
    """The short name of a code system, or its URL."""
    text = scalar(system) or ""
    return SYSTEM_NAMES.get(text, text)


def coding_label(coding: dict[str, Any]) -> str | None:
    """``<display> (<system> <code>)``; without a display just ``<system> <code>``."""
    display = scalar(coding.get("display"))
    code = scalar(coding.get("code"))
    ref = " ".join(part for part in (short_system(coding.get("system")), code) if part)
    if display and ref:
        return f"{display} ({ref})"
    return display or ref or None


def coding_text(coding: dict[str, Any]) -> str | None:
    """A coding's display, else ``<system> <code>``."""
    display = scalar(coding.get("display"))
    if display:
        return display
    code = scalar(coding.get("code"))
    if code is None:
        return None
    system = short_system(coding.get("system"))
    return f"{system} {code}" if system else code


def concept_text(concept: Any) -> str | None:
    """A CodeableConcept's text, else its first coding display, else ``<system> <code>``."""
    concept = obj(concept)
    text = scalar(concept.get("text"))
    if text:
        return text
    codings = objs(concept.get("coding"))
    for coding in codings:
        display = scalar(coding.get("display"))
        if display:
            return display
    for coding in codings:
        label = coding_text(coding)
        if label:
            return label
    return None


def concept_plain(concept: Any) -> str | None:
    """A status-like concept as its text, display or bare code (no system name)."""
    if isinstance(concept, str):
        return concept or None
    concept = obj(concept)
    text = scalar(concept.get("text"))
    if text:
        return text
    for coding in objs(concept.get("coding")):
        found = scalar(coding.get("display")) or scalar(coding.get("code"))
        if found:
            return found
    return None


def code_labels(concepts: Any) -> list[str]:
    """One ``<display> (<system> <code>)`` per coding of one or more CodeableConcepts."""
    labels: list[str] = []
    for concept in objs(concepts):
        codings = objs(concept.get("coding"))
        labels.extend(label for c in codings if (label := coding_label(c)))
    return labels


def quantity_text(quantity: Any) -> str | None:
    """``<comparator><value> <unit>``, e.g. ``>=10 %``; the unit falls back to its code."""
    quantity = obj(quantity)
    value = scalar(quantity.get("value"))
    unit = scalar(quantity.get("unit")) or scalar(quantity.get("code"))
    comparator = scalar(quantity.get("comparator")) or ""
    if value is None:
        return unit
    return f"{comparator}{value} {unit}" if unit else f"{comparator}{value}"


def range_text(value: Any) -> str | None:
    """``low-high unit``; an open end becomes ``>=low unit`` or ``<=high unit``."""
    low, high = obj(obj(value).get("low")), obj(obj(value).get("high"))
    lo, hi = scalar(low.get("value")), scalar(high.get("value"))
    unit = scalar(high.get("unit")) or scalar(low.get("unit"))
    if lo is not None and hi is not None:
        body = f"{lo}-{hi}"
    elif lo is not None:
        body = f">={lo}"
    elif hi is not None:
        body = f"<={hi}"
    else:
        return None
    return f"{body} {unit}" if unit else body


def ratio_text(value: Any) -> str | None:
    """``a/b`` with each side rendered as a quantity."""
    numerator = quantity_text(obj(value).get("numerator"))
    denominator = quantity_text(obj(value).get("denominator"))
    if numerator is None and denominator is None:
        return None
    return f"{numerator or '?'}/{denominator or '?'}"


def period_text(period: Any) -> str | None:
    """``<start> to <end>``, ``from <start>`` or ``until <end>``; datetimes as given."""
    start, end = scalar(obj(period).get("start")), scalar(obj(period).get("end"))
    if start and end:
        return f"{start} to {end}"
    if start:
        return f"from {start}"
    if end:
        return f"until {end}"
    return None


_QUANTITY_TYPES = ("Quantity", "Age", "Duration", "Count", "Distance", "Money")


def typed_value_text(key: str, value: Any) -> str | None:
    """A ``<name>[x]`` element (``valueQuantity``, ``onsetPeriod`` ...) as text."""
    if key.endswith(_QUANTITY_TYPES):
        return quantity_text(value)
    if key.endswith("CodeableConcept"):
        return concept_text(value)
    if key.endswith("Coding"):
        return coding_text(obj(value))
    if key.endswith("Range"):
        return range_text(value)
    if key.endswith("Ratio"):
        return ratio_text(value)
    if key.endswith("Period"):
        return period_text(value)
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True, default=str, ensure_ascii=False)
    return scalar(value)


def choice_items(resource: dict[str, Any], name: str) -> list[tuple[str, Any]]:
    """The ``name[x]`` elements present (``value`` -> ``valueQuantity`` ...), in source order.

    A lenient reader keeps them all: some fixtures carry two ``value[x]`` at once.
    """
    pattern = re.compile(rf"^{name}[A-Z]")
    return [(key, value) for key, value in resource.items() if pattern.match(key)]


def choice_texts(resource: dict[str, Any], name: str) -> list[str]:
    """Text of every ``name[x]`` element present."""
    return [t for key, value in choice_items(resource, name) if (t := typed_value_text(key, value))]


def choice_date(resource: dict[str, Any], name: str) -> str | None:
    """The datetime a ``name[x]`` element gives (a dateTime, or a period's start)."""
    for key, value in choice_items(resource, name):
        if key.endswith("Period"):
            start = scalar(obj(value).get("start"))
            if start:
                return start
        elif key.endswith(("DateTime", "Instant", "Date")):
            found = scalar(value)
            if found:
                return found
    return None


_DATE = re.compile(r"^\d{4}(?:-\d{2}(?:-\d{2})?)?")


def date_part(value: str | None) -> str | None:
    """The ``YYYY-MM-DD`` (or shorter, as given) date part of a FHIR date or dateTime."""
    if not value:
        return None
    match = _DATE.match(value)
    return match.group(0) if match else None


_BLOCK_TAGS = {"br", "p", "div", "li", "tr", "ul", "ol", "table", "h1", "h2", "h3", "h4", "h5"}


class _TextCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def narrative_text(div: Any) -> str | None:
    """XHTML narrative as plain text: tags dropped, one line per block, spaces collapsed."""
    if not isinstance(div, str) or not div:
        return None
    collector = _TextCollector()
    collector.feed(div)
    collector.close()
    lines = (" ".join(line.split()) for line in "".join(collector.parts).split("\n"))
    text = "\n".join(line for line in lines if line)
    return text or None


_TEXT_TYPES = ("text/", "application/json", "application/xml", "application/fhir")


def attachment_text(attachment: dict[str, Any]) -> tuple[str | None, str | None]:
    """(decoded text, note) for an Attachment with base64 ``data``.

    Text types are decoded as UTF-8. A JSON object with a string ``text`` field (how HAO's FHIR
    mode wraps a note) yields that field. Other content gives a note saying it was not rendered.
    """
    data = attachment.get("data")
    if not isinstance(data, str) or not data:
        return None, None
    content_type = scalar(attachment.get("contentType")) or "text/plain"
    if not content_type.startswith(_TEXT_TYPES):
        return None, f"{content_type} attachment (not rendered)"
    try:
        raw = base64.b64decode(data, validate=False)
    except (binascii.Error, ValueError):
        return None, "attachment with invalid base64 data (not rendered)"
    text = raw.decode("utf-8", errors="replace")
    if content_type.startswith("application/json"):
        try:
            parsed = json.loads(text)
        except ValueError:
            parsed = None
        if isinstance(parsed, dict) and isinstance(parsed.get("text"), str):
            return parsed["text"], None
    return text, None
