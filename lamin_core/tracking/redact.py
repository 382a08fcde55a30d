"""Secrets never reach the database: values under secret-looking names are replaced before saving.

A plain `key` is not a secret name here: in lamin-core it is an artifact's or transform's storage key
(`ingest(key="my_analysis/dataset.parquet")`), and hiding it would hide what a run wrote. `api_key`,
`secret_key`, `access_key`, `private_key` and every other `*_key` still are.
"""

from __future__ import annotations

import re
from typing import Any

REDACTED = "***"
SECRET_NAME = re.compile(
    r"(token|passw|secret|credential|api[_-]?key|apikey|private[_-]?key|access[_-]?key|auth|[_-]key$|session[_-]?id)",
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


def redact_argv(argv: list[str]) -> list[str]:
    """A command line with the values of secret-looking options hidden: `--token X`, `--password=X`."""
    out: list[str] = []
    hide_next = False
    for arg in argv:
        if hide_next:
            out.append(REDACTED)
            hide_next = False
            continue
        if arg.startswith("-") and "=" in arg:
            name, _, value = arg.partition("=")
            out.append(f"{name}={REDACTED}" if is_secret_name(name.lstrip("-")) and value else redact(arg))
            continue
        if arg.startswith("-") and is_secret_name(arg.lstrip("-")):
            hide_next = True
        out.append(redact(arg))
    return out
