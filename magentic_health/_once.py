"""Listing each finding once in a prompt, however many outputs repeat it.

A finding is known by the form it is shown in (its rendered line, its JSON): that string is
made anyway, and comparing strings runs in C, where pydantic's ``__eq__`` walks fields in
Python.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeVar

K = TypeVar("K", str, bytes)


def first_mentions(shown_as: Iterable[K], shown: set[K], limit: int) -> tuple[list[K], int, int]:
    """The forms not in ``shown`` yet, at most ``limit`` of them (each added to ``shown``); how
    many were shown already; and how many new ones the limit left out."""
    fresh: list[K] = []
    repeated = more = 0
    for form in shown_as:
        if form in shown:
            repeated += 1
        elif len(fresh) < limit:
            fresh.append(form)
            shown.add(form)
        else:
            more += 1
    return fresh, repeated, more
