"""Errors users see. Each names the problem and, where there is one, the fix."""

from __future__ import annotations


class LaminError(Exception):
    """Base class of every error lamin-core raises on purpose."""


class NoInstanceError(LaminError):
    def __init__(self, detail: str = "") -> None:
        msg = "no lamin instance is connected: run `lamin init --storage PATH` or `lamin connect NAME`"
        super().__init__(f"{msg} ({detail})" if detail else msg)


class InstanceNotFoundError(LaminError):
    pass


class InvalidKeyError(LaminError, ValueError):
    """A key that is not a safe relative path inside a storage root."""


class ValidationError(LaminError, ValueError):
    pass


class DoesNotExist(LaminError, LookupError):
    pass


class MultipleResultsFound(LaminError, LookupError):
    pass


class FieldError(LaminError, ValueError):
    """An unknown field or lookup in a query."""


class StorageError(LaminError, OSError):
    pass
