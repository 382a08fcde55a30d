"""Small pure helpers shared by the parsers: times, sizes, durations, task hashes, secret redaction.

Nextflow writes the same quantity in several spellings (epoch milliseconds in the weblog and the raw
trace, `2025-06-01 12:00:01.000` and `1m 2s` and `3.7 GB` in the human trace, ISO 8601 in the lineage
store); everything here turns them into one form, or None when the text is not understood.
"""

from __future__ import annotations

import math
import re
from datetime import datetime, timezone
from typing import Any, Mapping

from lamin_core.tracking.redact import REDACTED, is_secret_name  # the one rule for secret-looking names

# a task work directory ends with <2 hex>/<30 hex>: the full 32-hex task hash split after 2 characters
_WORKDIR_HASH = re.compile(r"(?:^|/)([0-9a-f]{2})/([0-9a-f]{30})(?:/|$)")
_FULL_HASH = re.compile(r"^[0-9a-f]{32}$")

_SIZE_UNITS = {"B": 1, "KB": 1024, "MB": 1024**2, "GB": 1024**3, "TB": 1024**4, "PB": 1024**5}
_DURATION_UNITS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)")



def task_hash_from_path(path: str | None) -> str | None:
    """The full task hash in a work-directory path (`.../work/3a/9f2c1d.../file`), or None."""
    key = work_key(path)
    return key[:32] if key else None


def work_key(path: str | None) -> str | None:
    """`.../work/3a/9f2c.../sub/f.txt` -> `3a9f2c.../sub/f.txt`, the lineage store's key for a work file."""
    if not path:
        return None
    match = None
    for match in _WORKDIR_HASH.finditer(path):
        pass  # the last match: a work dir nested under another hash-like folder still names its own task
    if not match:
        return None
    rest = path[match.end() :].strip("/")
    return match.group(1) + match.group(2) + ("/" + rest if rest else "")


def is_full_hash(value: str | None) -> bool:
    return bool(value) and bool(_FULL_HASH.match(value or ""))


def short_hash_prefix(short: str | None) -> str | None:
    """`3a/9f2c1d` (as the trace prints it) -> `3a9f2c1d`, the prefix of the full hash."""
    if not short:
        return None
    prefix = short.replace("/", "").strip().lower()
    return prefix if re.fullmatch(r"[0-9a-f]{4,32}", prefix) else None


def parse_epoch_ms(value: Any) -> datetime | None:
    """Epoch milliseconds (weblog, raw trace) -> aware UTC datetime."""
    if value is None or value == "-" or value == "":
        return None
    try:
        ms = float(value)
    except (TypeError, ValueError):
        return None
    if ms <= 0:
        return None
    try:
        return datetime.fromtimestamp(ms / 1000.0, tz=timezone.utc)
    except (OverflowError, ValueError, OSError):  # beyond the years a datetime holds: not a real time
        return None


def parse_datetime(value: Any) -> datetime | None:
    """ISO 8601 (`2025-06-01T12:00:00Z`, nanosecond fractions), the human trace's `2025-06-01 12:00:01.000`,
    or epoch milliseconds. Naive times are taken as UTC: Nextflow's human trace has no zone and the
    weblog and lineage store write UTC."""
    if value is None or value in ("-", ""):
        return None
    if isinstance(value, (int, float)):
        return parse_epoch_ms(value)
    text = str(value).strip()
    if re.fullmatch(r"\d{10,}", text):
        return parse_epoch_ms(text)
    text = text.replace(" UTC", "").replace("Z", "+00:00")
    # Python's fromisoformat takes at most 6 fraction digits; Nextflow writes 9
    text = re.sub(r"(\.\d{6})\d+", r"\1", text)
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def parse_size(value: Any) -> int | None:
    """`288 MB`, `871.5 KB`, `0`, or a plain byte count -> bytes (binary units, as Nextflow's MemoryUnit)."""
    if value is None or value in ("-", ""):
        return None
    if isinstance(value, (int, float)):
        return int(value)
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMGTP]?B)?\s*", str(value), re.IGNORECASE)
    if not match:
        return None
    unit = (match.group(2) or "B").upper()
    return _finite_int(float(match.group(1)) * _SIZE_UNITS[unit])


def parse_duration_ms(value: Any) -> int | None:
    """`1h 2m 3s`, `28.9s`, `150ms`, or plain milliseconds -> milliseconds."""
    if value is None or value in ("-", ""):
        return None
    if isinstance(value, (int, float)):
        return int(value)
    text = str(value).strip()
    if re.fullmatch(r"\d+(?:\.\d+)?", text):
        return _finite_int(float(text))
    parts = _DURATION_PART.findall(text)
    if not parts or _DURATION_PART.sub("", text).strip():
        return None
    return _finite_int(sum(float(num) * _DURATION_UNITS[unit] for num, unit in parts))


def _finite_int(value: float) -> int | None:
    """Rounded, or None for a number too large to be a real size or duration (inf after float())."""
    return int(round(value)) if math.isfinite(value) else None


def parse_percent(value: Any) -> float | None:
    if value is None or value in ("-", ""):
        return None
    try:
        return float(str(value).rstrip("%"))
    except ValueError:
        return None


def parse_int(value: Any) -> int | None:
    if value is None or value in ("-", ""):
        return None
    try:
        return int(float(value))
    except (TypeError, ValueError, OverflowError):
        return None


def redact(params: Mapping[str, Any] | None) -> dict[str, Any]:
    """A copy of `params` with secret-looking names' values replaced, recursively."""
    if not params:
        return {}
    out: dict[str, Any] = {}
    for name, value in params.items():
        if is_secret_name(str(name)) and value not in (None, "", False):
            out[name] = REDACTED
        elif isinstance(value, Mapping):
            out[name] = redact(value)
        else:
            out[name] = value
    return out


def redact_command(command: str | None) -> str | None:
    """A command line with the values of secret-looking options hidden (`--api_token X` -> `--api_token ***`)."""
    if not command:
        return command
    words = command.split(" ")
    out: list[str] = []
    hide_next = False
    for word in words:
        if hide_next and word:
            out.append(REDACTED)
            hide_next = False
            continue
        name, eq, _ = word.partition("=")
        if word.startswith("-") and is_secret_name(name.lstrip("-")):
            if eq:
                out.append(f"{name}={REDACTED}")
            else:
                out.append(word)
                hide_next = True
            continue
        out.append(word)
    return " ".join(out)


def split_uri(path: str) -> tuple[str, str]:
    """An OpenLineage (namespace, name) for a Nextflow path: `file` + absolute path, `s3://bucket` + key."""
    if "://" in path:
        scheme, rest = path.split("://", 1)
        if scheme == "file":
            return "file", "/" + rest.lstrip("/")
        bucket, _, key = rest.partition("/")
        return f"{scheme}://{bucket}", key
    return "file", path


def process_of(task_name: str) -> str:
    """`NFCORE_DEMO:DEMO:FASTQC (SAMPLE1_PE)` -> `NFCORE_DEMO:DEMO:FASTQC`: process names hold no spaces,
    and Nextflow appends the tag (or the task index) after one."""
    return task_name.split(" ", 1)[0]


def repository_slug(repository: str | None) -> str | None:
    """`https://github.com/nf-core/demo(.git)` -> `nf-core/demo`."""
    if not repository:
        return None
    text = repository.rstrip("/")
    if text.endswith(".git"):
        text = text[:-4]
    if "://" in text:
        text = text.split("://", 1)[1].split("/", 1)[-1]
    elif ":" in text and "@" in text:  # git@github.com:owner/repo
        text = text.split(":", 1)[1]
    parts = [p for p in text.split("/") if p]
    return "/".join(parts[-2:]) if parts else None
