"""Keep secrets out of saved params: config values and command-line options with secret-like names.

A Snakemake command line can carry `--logger-lamin-token T`, `--config api_key=...` or a storage
plugin's credentials, and config files often hold passwords; all of them end up in run params. Names
are judged by lamin-core's rule (`lamin_core.tracking.redact`), so every adapter hides the same things.
"""

import re
from typing import Any

from lamin_core.tracking.redact import REDACTED, is_secret_name, redact

__all__ = ["REDACTED", "redact_command", "redact_value"]

# `--some-token VALUE` / `--some-token=VALUE` and `name=VALUE` pairs (as in `--config a=1 api_key=x`)
_OPTION = re.compile(r"(?P<flag>--?[\w-]+)(?P<sep>=|\s+)(?P<value>\"[^\"]*\"|'[^']*'|\S+)")
_PAIR = re.compile(r"(?<![\w-])(?P<name>[A-Za-z_][\w.-]*)=(?P<value>\"[^\"]*\"|'[^']*'|\S+)")


def redact_value(value: Any) -> Any:
    """Replace values under secret-like keys, recursively through dicts and lists (and URL passwords)."""
    return redact(value)


def redact_command(cmd: str) -> str:
    """Mask the values of secret-like options and `name=value` pairs in a command line."""

    def option(m: re.Match[str]) -> str:
        if is_secret_name(m.group("flag").lstrip("-")) and not m.group("value").startswith("-"):
            return f"{m.group('flag')}{m.group('sep')}{REDACTED}"
        return m.group(0)

    def pair(m: re.Match[str]) -> str:
        return f"{m.group('name')}={REDACTED}" if is_secret_name(m.group("name")) else m.group(0)

    return redact(_PAIR.sub(pair, _OPTION.sub(option, cmd)))
