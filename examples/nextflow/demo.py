"""Ingest a finished Nextflow run and show its lineage.

    python examples/nextflow/demo.py

`run/` is what `nextflow run nf-core/demo -r 1.0.2` leaves in its launch directory with
`lineage.enabled = true` and a trace: the lineage store (`.lineage/`), `.nextflow/history`, the trace under
`results/pipeline_info/`, task work dirs under `work/`, published files under `results/`. Nextflow writes
absolute paths, so the folder holds `@RUN@` where its own location goes; this script copies it to a
temporary folder and fills that in, then runs `lamin nextflow ingest` on it.

With `LAMIN_HOME` unset it uses a throwaway SQLite instance; with it set, the instance connected there.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).parent
PLACEHOLDER = "@RUN@"


def copy_run(dest: Path) -> Path:
    shutil.copytree(HERE / "run", dest)
    for path in dest.rglob("*"):
        if path.is_file() and PLACEHOLDER in (text := path.read_text(errors="ignore")):
            path.write_text(text.replace(PLACEHOLDER, str(dest)))
    return dest


def main() -> int:
    tmp = Path(tempfile.mkdtemp(prefix="lamin-nextflow-demo-"))
    if "LAMIN_HOME" not in os.environ:
        os.environ["LAMIN_HOME"] = str(tmp / "home")
        import lamin_core as ln

        ln.setup.init(storage=str(tmp / "storage"))
    import lamin_core as ln

    run_dir = copy_run(tmp / "run")
    # the `lamin` next to this Python (the venv's), else the one on PATH
    lamin = Path(sys.executable).with_name("lamin")
    print(f"$ lamin nextflow ingest {run_dir}")
    code = subprocess.call([str(lamin) if lamin.exists() else "lamin", "nextflow", "ingest", str(run_dir)])
    if code not in (0, 1):
        return code

    report = ln.Artifact.filter(key__endswith="multiqc/multiqc_report.html").first()
    pipeline_run = report.run.initiated_by_run
    print(f"\npipeline {pipeline_run.transform.key} (version {pipeline_run.transform.version[:10]}), "
          f"run {pipeline_run.name!r} [{pipeline_run.status}], params {pipeline_run.params}")
    print("\nlineage of the MultiQC report (report.view_lineage()):")
    report.view_lineage(depth=3)
    print("\ntask runs of the pipeline run (hash, status, exit code, container, peak memory):")
    for task in sorted(pipeline_run.child_runs, key=lambda r: r.started_at):
        facets = (task.facets or {}).get("nextflow_task", {})
        peak = facets.get("resources", {}).get("peak_rss", 0) / 2**20
        print(f"  {task.name:<30} {task.reference[:8]}  {task.status:<10} exit {facets.get('exit')}  "
              f"{facets.get('container')}  {peak:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
