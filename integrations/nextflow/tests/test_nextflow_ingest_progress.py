"""`lamin nextflow ingest` of a large run shows a count of recorded events on a terminal (none without one)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from lamin_core.testing import run_on_terminal

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from ingest_bench import write_run  # noqa: E402

LAMIN = str(Path(sys.executable).with_name("lamin"))


def test_a_large_ingest_counts_events_on_a_terminal_only(sqlite_instance, tmp_path, monkeypatch):
    import nfgen

    monkeypatch.setattr(nfgen, "FIXTURES", nfgen.FIXTURES)  # write_run points it elsewhere: restored afterwards
    run = write_run(tmp_path, 60)  # 61 tasks, a few hundred events: past the bar's threshold
    env = {k: v for k, v in sqlite_instance.env.items() if k not in ("CI", "LAMIN_PROGRESS")}
    output, code = run_on_terminal([LAMIN, "nextflow", "ingest", str(run)], {**env, "TERM": "xterm", "COLUMNS": "120"})
    assert code == 0, output
    assert "ingesting Nextflow events" in output
    piped = subprocess.run([LAMIN, "nextflow", "ingest", str(run)], env=env, capture_output=True, text=True, timeout=300)
    assert piped.returncode == 0 and "ingesting Nextflow events" not in piped.stdout + piped.stderr
