"""Secrets never reach the database: values under secret-looking names are replaced before saving."""

from __future__ import annotations

import re
from typing import Any

REDACTED = "***"
SECRET_NAME = re.compile(
    r"(token|passw|secret|credential|api[_-]?key|apikey|private[_-]?key|access[_-]?key|auth|^key$|[_-]key$|session[_-]?id)",
    re.IGNORECASE,
)
_URL_PASSWORD = re.compile(r"(://[^:/@\s]+:)([^@/\s]+)(@)")


def is_secret_name(name: str) -> bool:
    return bool(SECRET_NAME.search(name))


def redact(value: Any, name: str = "") -> Any:
    """A copy of `value` with secret-looking entries replaced, recursively; passwords in URLs too."""
    if name and is_secret_name(name) and value not in (None, "", False):
        return REDACTED
    if isinstance(value, dict):
        return {k: redact(v, str(k)) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact(v) for v in value]
    if isinstance(value, str) and "://" in value:
        return _URL_PASSWORD.sub(r"\1" + REDACTED + r"\3", value)
    return value
