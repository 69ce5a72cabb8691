"""Building pydantic models from values we made ourselves, without pydantic's per-field walk.

A run turns each of its ledger events into two models (the ``LedgerEvent`` and the AutoGen
message a stream yields). ``model_construct`` already skips validation, but still walks the
fields, their defaults and the private attributes in Python, which costs several times what
the rest of building an event does. Here every field is given and trusted, so the instance
is filled in directly, the way ``model_construct`` leaves it.
"""

from __future__ import annotations

import functools
from typing import Any, TypeVar

from pydantic import BaseModel

M = TypeVar("M", bound=BaseModel)

_set = object.__setattr__


@functools.cache
def _shape(cls: type[BaseModel]) -> tuple[frozenset[str], bool, dict[str, Any]]:
    """The class's field names, whether it keeps extra fields, its private defaults."""
    private = {name: attr.get_default() for name, attr in cls.__private_attributes__.items()}
    return frozenset(cls.model_fields), cls.model_config.get("extra") == "allow", private


def construct_trusted(cls: type[M], values: dict[str, Any], **private: Any) -> M:
    """An instance of ``cls`` holding ``values`` (every field, already valid; the dict becomes
    the instance's own) and ``private`` over the private attributes' defaults.

    Equal to ``cls.model_construct(**values)`` with the private attributes then set; missing
    or unknown fields are a bug of the caller, refused here so they cannot pass silently."""
    fields, extra, defaults = _shape(cls)
    if values.keys() != fields:
        missing, unknown = sorted(fields - values.keys()), sorted(values.keys() - fields)
        raise TypeError(f"{cls.__name__}: missing fields {missing}, unknown fields {unknown}")
    if private.keys() - defaults.keys():
        unknown = sorted(private.keys() - defaults.keys())
        raise TypeError(f"{cls.__name__}: no private attributes {unknown}")
    instance = cls.__new__(cls)  # BaseModel has no __new__ of its own: no __init__ runs
    _set(instance, "__dict__", values)
    _set(instance, "__pydantic_fields_set__", set(fields))
    _set(instance, "__pydantic_extra__", {} if extra else None)
    _set(instance, "__pydantic_private__", {**defaults, **private} if defaults else None)
    return instance
