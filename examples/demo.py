"""The main job, end to end, on the embedded SQLite default: `make demo` (or `python examples/demo.py`).

1. a fresh instance under .lamin-demo/ (`lamin init`), 2. the Python API: a tracked flow that saves the
tutorial's dataset, a new version, queries, 3. a Prefect flow, 4. a Snakemake workflow with
`--logger lamin`, 5. `lamin serve` receiving OpenLineage events from openlineage-python (an "Airflow-like"
job that reads the Snakemake result: lineage across engines), 6. a Nextflow run ingested after the fact.
Each step prints the lineage it produced. Everything runs offline.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / ".lamin-demo"
BIN = Path(sys.executable).parent


def banner(text: str) -> None:
    print(f"\n{'=' * 100}\n{text}\n{'=' * 100}", flush=True)


def run(args: list[str], env: dict[str, str]) -> None:
    print("$ " + " ".join(str(a) for a in args), flush=True)
    subprocess.run([str(a) for a in args], env=env, check=True)


def ingest_dataset(key: str) -> "object":
    """The tutorial's flow: decorated in step 2, once an instance exists."""
    import lamin_core as ln

    df = ln.examples.datasets.mini_immuno.get_dataset1(with_typo=True)
    return ln.Artifact.from_dataframe(df, key=key, description="mini immuno, raw").save()


def step_python_api() -> None:
    import pandas as pd

    import lamin_core as ln

    banner("2. The Python API: a tracked flow, versions, queries")
    pd.set_option("display.width", 160)
    pd.set_option("display.max_columns", 12)
    flow = ln.flow()(ingest_dataset)
    artifact = flow(key="my_datasets/rnaseq1.parquet")
    df = artifact.load()
    df["perturbation"] = df["perturbation"].cat.rename_categories({"IFNJ": "IFNG"})
    fixed = ln.Artifact.from_dataframe(df, key="my_datasets/rnaseq1.parquet", description="typo fixed").save()
    print(f"versions of my_datasets/rnaseq1.parquet: {[a.uid for a in fixed.versions]}")
    print(ln.Artifact.filter(key__startswith="my_datasets/").to_dataframe()[["uid", "key", "description", "is_latest"]])
    print(f"artifact.transform = {artifact.transform.key!r}, artifact.run.status = {artifact.run.status!r}")
    artifact.view_lineage()


def step_openlineage(env: dict[str, str]) -> None:
    banner("5. lamin serve + openlineage-python: an OpenLineage job reads the Snakemake result")
    from lamin_openlineage.testing import lamin_serve

    with lamin_serve(env) as server:
        print(f"$ lamin serve  (listening on {server.base})", flush=True)
        _emit_events(server.base)
    import lamin_core as ln

    ln.connect("demo")
    report = ln.Artifact.get(key="reports/weekly.csv")
    print(f"the OpenLineage job's output: {report.key} by run {report.run.uid} [{report.run.status}]")
    report.view_lineage(depth=4)


def _emit_events(base: str) -> None:
    from openlineage.client import OpenLineageClient
    from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState
    from openlineage.client.transport.http import HttpConfig, HttpTransport

    client = OpenLineageClient(transport=HttpTransport(HttpConfig(url=base)))
    summary = DEMO / "snakemake-example" / "results" / "summary.txt"
    report = DEMO / "storage" / "reports" / "weekly.csv"
    report.parent.mkdir(parents=True, exist_ok=True)
    run_id = str(uuid.uuid4())
    job = Job(namespace="airflow://demo", name="weekly_report.build")
    producer = "https://github.com/OpenLineage/OpenLineage/tree/1.54.0/client/python"

    def event(state: RunState, **kw: object) -> RunEvent:
        return RunEvent(eventType=state, eventTime=datetime.now(timezone.utc).isoformat(), run=Run(runId=run_id),
                        job=job, producer=producer, **kw)  # type: ignore[arg-type]

    client.emit(event(RunState.START, inputs=[InputDataset(namespace="file", name=str(summary))]))
    report.write_text("week,samples\n48,3\n")
    client.emit(event(RunState.COMPLETE, inputs=[InputDataset(namespace="file", name=str(summary))],
                      outputs=[OutputDataset(namespace="file", name=str(report))]))
    print(f"emitted START and COMPLETE for {job.namespace}/{job.name} (runId {run_id})")


def main() -> int:
    shutil.rmtree(DEMO, ignore_errors=True)
    DEMO.mkdir()
    env = {**os.environ, "LAMIN_HOME": str(DEMO / "home"), "PREFECT_HOME": str(DEMO / "prefect-home"),
           "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "240"}
    os.environ.update(env)

    banner("1. A new instance on the embedded SQLite default")
    run([BIN / "lamin", "init", "--storage", DEMO / "storage", "--name", "demo"], env)
    run([BIN / "lamin", "info"], env)

    step_python_api()

    banner("3. Prefect: `from lamin_prefect import flow, task`")
    run([sys.executable, REPO / "examples" / "prefect" / "pipeline.py", "--current"], env)

    banner("4. Snakemake: `snakemake --logger lamin`")
    run([sys.executable, REPO / "examples" / "snakemake" / "run_example.py", "--current",
         "--workdir", DEMO / "snakemake-example"], env)

    step_openlineage(env)

    banner("6. Nextflow: `lamin nextflow ingest DIR` on a finished run")
    run([sys.executable, REPO / "examples" / "nextflow" / "demo.py"], env)

    banner("Everything this demo recorded")
    import lamin_core as ln

    ln.connect("demo")
    for registry in (ln.Transform, ln.Run, ln.Artifact, ln.Storage):
        print(f"{registry.__name__:<10} {registry.filter().count():>5} records")
    print(ln.Transform.to_dataframe(limit=20)[["uid", "key", "kind", "version"]].to_string())
    print(f"\ninspect it yourself:  LAMIN_HOME={DEMO / 'home'} {BIN / 'python'}  then  import lamin_core as ln")
    print(f"see it in a browser:  LAMIN_HOME={DEMO / 'home'} {BIN / 'lamin'} serve  then open http://127.0.0.1:8000/  (the lineage explorer)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
