"""Shared fixtures: the shared data directory, read in place, never copied."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from magentic_health._data import resolve_data_dir


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The shared data directory (``../shared/data`` beside the checkout, or
    ``MAGENTIC_HEALTH_DATA``)."""
    return resolve_data_dir()


@pytest.fixture(scope="session")
def hao_dir(data_dir: Path) -> Path:
    return data_dir / "hao" / "patient_4"


@pytest.fixture(scope="session")
def synthea_bundles(data_dir: Path) -> list[Path]:
    return sorted((data_dir / "synthea").glob("*.json"))


@pytest.fixture(scope="session")
def mcode_bundle(data_dir: Path) -> Path:
    return data_dir / "mcode" / "patient_data.json"


def _loopback(address: Any) -> bool:
    host = address[0] if isinstance(address, tuple) else address
    if not isinstance(host, str):
        return True  # e.g. a Unix socket path as bytes
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name: resolving it would already be a real request


@pytest.fixture(autouse=True, scope="session")
def _no_network() -> Iterator[None]:
    """Any connection beyond this machine (a real model, a live registry) fails the test:
    model backends are faked at the boundary with local servers or the scripted client."""
    real_connect = socket.socket.connect

    def guarded(sock: socket.socket, address: Any) -> Any:
        if sock.family in (socket.AF_INET, socket.AF_INET6) and not _loopback(address):
            raise RuntimeError(f"test tried to reach {address!r}: the test suite is offline")
        return real_connect(sock, address)

    socket.socket.connect = guarded  # type: ignore[method-assign]
    try:
        yield
    finally:
        socket.socket.connect = real_connect  # type: ignore[method-assign]
