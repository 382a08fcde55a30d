"""What a Nextflow task is "for", as annotations of its run and its published outputs.

- the task's `meta` map (nf-core's convention: the first input of a module is `[meta, files]`, `meta.id`
  the sample), where the lineage store carries it (a TaskRun's `val` input named `meta`);
- the task's `tag` (the weblog and the trace carry it; nf-core modules tag a task with `meta.id`);
- the samplesheet row of that sample: the run's `--input` CSV/TSV (nf-core's convention), read once; the row
  whose first column (`sample`) is the task's `meta.id` (or tag) gives its other plain columns (not file paths).

Keys that name a field of Artifact or Run (`id`, `key`, `name`, ...) get a `meta_` prefix, so that a
filter on them (`ln.Artifact.filter(meta_id="SAMPLE1")`) does not mean the registry's own field.
The recording path decides which become feature values (`--annotate existing|auto|none`).
"""

from __future__ import annotations

import csv
import os
from typing import Any

ENGINE = "nextflow"
# fields of Artifact and Run that a filter would read as the registry's own
RESERVED = frozenset({
    "id", "uid", "key", "name", "description", "version", "hash", "size", "suffix", "kind", "otype", "run",
    "transform", "status", "params", "storage", "created_at", "created_by", "branch", "reference", "type",
})  # fmt: skip
_PATH_SUFFIXES = (".gz", ".fastq", ".fq", ".bam", ".cram", ".sam", ".vcf", ".bed", ".fa", ".fasta", ".csv", ".tsv", ".txt")


def feature_name(key: str) -> str:
    key = str(key).strip()
    return f"meta_{key}" if key in RESERVED else key


def plain(value: Any) -> Any:
    if isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, list) and value and all(isinstance(v, (str, bool, int, float)) for v in value):
        return value
    return None


def meta_of(values: dict[str, Any] | None) -> dict[str, Any]:
    """The plain entries of a task's `meta` input (nested maps and file lists are left out)."""
    meta = (values or {}).get("meta")
    if not isinstance(meta, dict):
        return {}
    return {feature_name(k): v for k, v in meta.items() if plain(v) is not None}


def task_annotations(values: dict[str, Any] | None, tag: str | None, samplesheet: dict[str, dict[str, Any]]) -> dict[str, Any] | None:
    """meta, tag and samplesheet row of one task; None when there is nothing."""
    out: dict[str, Any] = {}
    meta = meta_of(values)
    sample = meta.get("meta_id") or tag
    row = samplesheet.get(str(sample)) if sample is not None else None
    if row:
        out.update(row)
    out.update(meta)
    if tag:
        out.setdefault("tag", tag)
    return out or None


def read_samplesheet(params: dict[str, Any], launch_dir: str | None) -> dict[str, dict[str, Any]]:
    """{sample: plain columns} from the run's `input` param, when it is a local CSV/TSV that exists.

    Several rows of one sample (lanes) keep the values they agree on."""
    path = params.get("input")
    if not isinstance(path, str) or "://" in path:
        return {}
    if not os.path.isabs(path):
        if not launch_dir:
            return {}
        path = os.path.join(launch_dir, path)
    lower = path.lower()
    if not lower.endswith((".csv", ".tsv")) or not os.path.isfile(path):
        return {}
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t" if lower.endswith(".tsv") else ","))
    if not rows:
        return {}
    first = next(iter(rows[0]))
    sheet: dict[str, dict[str, Any]] = {}
    conflicts: dict[str, set[str]] = {}
    for row in rows:
        sample = (row.get(first) or "").strip()
        if not sample:
            continue
        entry = sheet.setdefault(sample, {})
        for column, value in row.items():
            if column is None or column == first or value is None or not value.strip() or _looks_like_path(value):
                continue
            name = feature_name(column)
            if name in entry and entry[name] != _typed(value):
                conflicts.setdefault(sample, set()).add(name)
            entry.setdefault(name, _typed(value))
        entry.setdefault(feature_name(first), sample)
    for sample, names in conflicts.items():
        for name in names:
            sheet[sample].pop(name, None)
    return sheet


def _looks_like_path(value: str) -> bool:
    v = value.strip().lower()
    return "/" in v or v.endswith(_PATH_SUFFIXES)


def _typed(value: str) -> Any:
    """Samplesheet cells are text: numbers and booleans become what they say, so `auto` types them."""
    v = value.strip()
    if v.lower() in ("true", "false"):
        return v.lower() == "true"
    for kind in (int, float):
        try:
            return kind(v)
        except ValueError:
            pass
    return v
