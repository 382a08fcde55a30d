"""The execution trace (`-with-trace`, `trace { enabled = true }`): a TSV, one row per task attempt.

Two spellings exist: the default human one (`30s`, `288 MB`, `2025-06-01 12:00:01.000`, `187.4%`) and
`trace.raw = true` (milliseconds, bytes, epoch ms). Both are read here; the columns are whatever the user
chose in `trace.fields`, so every column is optional. A file is recognised as a trace by its header, not
its name (nf-core names them `execution_trace_<date>.txt`). Missing values are `-`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from ._util import (
    is_full_hash,
    parse_datetime,
    parse_duration_ms,
    parse_int,
    parse_percent,
    parse_size,
    task_hash_from_path,
)
from .records import Skipped, TaskAttempt

# the trace fields Nextflow knows (TraceRecord.FIELDS); a header made of these is a trace
KNOWN_FIELDS = frozenset(
    "task_id hash native_id process tag name status exit module container cpus time disk memory attempt "
    "submit start complete duration realtime queue %cpu %mem rss vmem peak_rss peak_vmem rchar wchar syscr "
    "syscw read_bytes write_bytes vol_ctxt inv_ctxt env workdir script scratch error_action hostname "
    "cpu_model accelerator accelerator_type invoke_ctxt".split()
)
_SIZES = ("memory", "disk", "rss", "vmem", "peak_rss", "peak_vmem", "rchar", "wchar", "read_bytes", "write_bytes")
_DURATIONS = ("time", "duration", "realtime")
_PERCENTS = ("%cpu", "%mem")
_COUNTS = ("cpus", "syscr", "syscw", "vol_ctxt", "inv_ctxt")
# columns kept as the attempt's resources (requested and measured)
RESOURCE_FIELDS = _SIZES + _DURATIONS + _PERCENTS + _COUNTS + ("queue", "hostname", "cpu_model", "scratch")


@dataclass
class TraceFile:
    path: str
    rows: list[TaskAttempt] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)


def looks_like_trace(header_line: str) -> bool:
    """A tab-separated header of known trace fields that names each task (hash or workdir)."""
    columns = [c.strip() for c in header_line.rstrip("\r\n").split("\t")]
    known = [c for c in columns if c in KNOWN_FIELDS]
    return len(columns) >= 2 and len(known) >= max(2, len(columns) // 2) and ("hash" in known or "workdir" in known)


def sniff(path: Path) -> bool:
    """True when the file's first line is a trace header (reads at most 4 KB)."""
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            return looks_like_trace(fh.readline(4096))
    except OSError:
        return False


def row_to_attempt(row: dict[str, object]) -> TaskAttempt:
    """One trace record (a TSV row or the weblog's `trace` object) as a TaskAttempt.

    Values may be raw (numbers) or human (`30s`, `3.7 GB`); each is parsed by what its column holds.
    """
    get = row.get
    resources: dict[str, object] = {}
    for name in RESOURCE_FIELDS:
        value = get(name)
        if value in (None, "-", ""):
            continue
        if name in _SIZES:
            resources[name] = parse_size(value)
        elif name in _DURATIONS:
            resources[name] = parse_duration_ms(value)
        elif name in _PERCENTS:
            resources[name] = parse_percent(value)
        elif name in _COUNTS:
            resources[name] = parse_int(value)
        else:
            resources[name] = value
    resources = {k: v for k, v in resources.items() if v is not None}
    workdir = _text(get("workdir"))
    short = _text(get("hash"))
    full = task_hash_from_path(workdir) or (short if is_full_hash(short) else None)
    submit, start, complete = parse_datetime(get("submit")), parse_datetime(get("start")), parse_datetime(get("complete"))
    if complete is None and submit and resources.get("duration") is not None:
        # the default trace has no `complete`: duration counts from submission
        complete = submit + timedelta(milliseconds=int(resources["duration"]))
    name = _text(get("name"))
    process = _text(get("process"))
    if not process and name:
        process = name.split(" ", 1)[0]
    return TaskAttempt(
        hash=full,
        short_hash=short,
        task_id=_text(get("task_id")),
        name=name,
        process=process,
        tag=_text(get("tag")),
        status=(_text(get("status")) or "").upper() or None,
        exit=parse_int(get("exit")),
        attempt=parse_int(get("attempt")),
        error_action=(_text(get("error_action")) or "").upper() or None,
        workdir=workdir,
        container=_text(get("container")),
        native_id=_text(get("native_id")),
        submit=submit,
        start=start,
        complete=complete,
        script=_text(get("script")),
        resources=resources,
    )


def parse_trace(path: Path) -> TraceFile:
    """Read a trace file; rows that are cut short or unreadable are skipped with the reason."""
    result = TraceFile(path=str(path))
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        result.skipped.append(Skipped(str(path), f"cannot read the trace file ({exc.strerror or exc})"))
        return result
    # rows end with "\n" only: str.splitlines() would also split inside cells at \x1c-\x1e, \x85, \u2028
    lines = [line.rstrip("\r") for line in text.split("\n")]
    if lines and lines[-1] == "":
        lines.pop()
    if not lines or not looks_like_trace(lines[0]):
        result.skipped.append(Skipped(str(path), "not a Nextflow trace file (no trace header on the first line)"))
        return result
    header = [c.strip() for c in lines[0].split("\t")]
    ends_cleanly = text.endswith("\n")
    for number, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        cells = line.split("\t")
        is_last = number == len(lines)
        if len(cells) != len(header):
            cut = " (the file ends in the middle of it: was the run still going?)" if is_last and not ends_cleanly else ""
            result.skipped.append(
                Skipped(f"{path}:{number}", f"row has {len(cells)} of {len(header)} columns{cut}")
            )
            continue
        attempt = row_to_attempt(dict(zip(header, cells)))
        if not (attempt.hash or attempt.short_hash):
            result.skipped.append(Skipped(f"{path}:{number}", "row names no task (no hash or workdir)"))
            continue
        result.rows.append(attempt)
    return result


def _text(value: object) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return None if text in ("", "-", "null") else text
