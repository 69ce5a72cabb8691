"""The exceptions magentic-health raises for users, and the exit code each maps to.

    MagenticHealthError                 base; never raised directly
    ├── InputError            (exit 2)  the user's input is wrong: fix the file, flag or field
    │   ├── CaseError                   a case, patient folder or FHIR bundle cannot be loaded
    │   ├── ConfigError                 a team configuration is invalid
    │   └── LedgerError                 a ledger file cannot be read
    ├── BackendError          (exit 3)  a model backend is unreachable or refuses us
    └── LimitError            (exit 4)  a run ended on a limit (the ledger is kept)

Each message is one line that says what is wrong, where, and how to fix it. Third-party
exceptions are translated into these at the boundary with ``raise ... from exc``.
"""

from __future__ import annotations


class MagenticHealthError(Exception):
    """Base class of every error magentic-health raises on purpose."""

    exit_code: int = 1


class InputError(MagenticHealthError):
    """The user's input is wrong; the message names the file or flag and the fix."""

    exit_code = 2


class CaseError(InputError):
    """A case, patient folder or FHIR bundle cannot be loaded."""


class ConfigError(InputError):
    """A team configuration is invalid."""


class LedgerError(InputError):
    """A ledger file cannot be read or is not a ledger."""


class BackendError(MagenticHealthError):
    """A model backend is unreachable or refuses our credentials."""

    exit_code = 3


class BackendRefusedError(BackendError):
    """The model backend refuses every call of the run (credentials, a model or deployment
    that does not exist, a spent quota): no retry, re-plan or other specialist can help, so
    the run ends even when a specialist meets it."""


class LimitError(MagenticHealthError):
    """A run ended on one of its limits; the ledger holds what was done."""

    exit_code = 4
