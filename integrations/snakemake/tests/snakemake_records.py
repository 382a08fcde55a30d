"""Replay Snakemake log records captured from real runs (tests/data/*/records.jsonl).

The captures were made with Snakemake 9.27.1 by a logger plugin that wrote each record's attributes as
JSON; `{WORKDIR}` stands for the folder the workflow ran in, so a test can replay them in a tmp folder
that holds the same Snakefile.
"""

import json
import logging
import shutil
from pathlib import Path

DATA = Path(__file__).parent / "data"


def copy_workflow(name: str, dest: Path) -> Path:
    """Copy the Snakefile (and config) of capture `name` into `dest`; return `dest`."""
    for f in (DATA / name).iterdir():
        if f.name != "records.jsonl":
            shutil.copy(f, dest / f.name)
    return dest


def load_records(name: str, workdir: Path) -> list[logging.LogRecord]:
    records = []
    for i, line in enumerate((DATA / name / "records.jsonl").read_text().splitlines()):
        attrs = json.loads(line.replace("{WORKDIR}", str(workdir)))
        attrs.setdefault("created", 1_800_000_000.0 + i)  # distinct, increasing event times
        records.append(logging.makeLogRecord(attrs))
    return records
