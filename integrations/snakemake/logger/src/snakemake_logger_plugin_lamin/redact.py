"""Keep secrets out of saved params: config values and command-line options with secret-like names.

A Snakemake command line can carry `--logger-lamin-token T`, `--config api_key=...` or a storage
plugin's credentials, and config files often hold passwords; all of them end up in run params.
"""

import re
from typing import Any

REDACTED = "***"
_SECRET_NAME = re.compile(
    r"(token|passw(or)?d|passwd|secret|api[_-]?key|access[_-]?key|private[_-]?key|credential|auth)",
    re.IGNORECASE,
)
# `--some-token VALUE` / `--some-token=VALUE` and `name=VALUE` pairs (as in `--config a=1 api_key=x`)
_OPTION = re.compile(r"(?P<flag>--?[\w-]+)(?P<sep>=|\s+)(?P<value>\"[^\"]*\"|'[^']*'|\S+)")
_PAIR = re.compile(r"(?<![\w-])(?P<name>[A-Za-z_][\w.-]*)=(?P<value>\"[^\"]*\"|'[^']*'|\S+)")


def is_secret_name(name: str) -> bool:
    return _SECRET_NAME.search(name) is not None


def redact_value(value: Any) -> Any:
    """Replace values under secret-like keys, recursively through dicts and lists."""
    if isinstance(value, dict):
        return {k: (REDACTED if is_secret_name(str(k)) else redact_value(v)) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact_value(v) for v in value]
    return value


def redact_command(cmd: str) -> str:
    """Mask the values of secret-like options and `name=value` pairs in a command line."""

    def option(m: re.Match[str]) -> str:
        if is_secret_name(m.group("flag")) and not m.group("value").startswith("-"):
            return f"{m.group('flag')}{m.group('sep')}{REDACTED}"
        return m.group(0)

    def pair(m: re.Match[str]) -> str:
        return f"{m.group('name')}={REDACTED}" if is_secret_name(m.group("name")) else m.group(0)

    return _PAIR.sub(pair, _OPTION.sub(option, cmd))
