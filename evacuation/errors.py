"""The azevac error hierarchy. The error type decides what happens next: retry, refuse, fail."""

from __future__ import annotations


class EvacuationError(Exception):
    """Base class of every error azevac raises on purpose."""


class ConfigurationError(EvacuationError):
    """Bad config or environment. Permanent: fix the config."""


class InvalidRequestError(EvacuationError):
    """Bad event, payload or argument (unknown AZ, malformed event). Permanent."""


class SafetyGuardError(EvacuationError):
    """A guard refused to act. Permanent; never retried; tells a human why."""


class ConflictError(EvacuationError):
    """Another evacuation holds the lock, or another invocation is running this one."""


class RetryableError(EvacuationError):
    """Throttling, 5xx, timeouts, "not converged yet": worth another attempt after a backoff."""


class PermanentAwsError(EvacuationError):
    """An AWS error that no retry will heal: validation, access denied, not found."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.code = code


class StepFailedError(EvacuationError):
    """Retries exhausted, or a permanent error, for one step. Wraps the last cause."""


class StateCorruptError(EvacuationError):
    """A state record cannot be read back safely (hand-edited, truncated). Never guess."""
