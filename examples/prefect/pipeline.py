"""A small Prefect flow with lineage, then the lineage of what it produced.

    python examples/prefect/pipeline.py            # a demo instance under .lamin-demo/ in the repository
    python examples/prefect/pipeline.py --current  # the instance you are connected to (`lamin connect`)

The only lamin-specific line in the flow code is the import: `from lamin_prefect import flow, task`.
The flow fetches two samples (a `.map()` in Prefect's thread pool), writes them as parquet through pandas,
merges them, and saves a summary table as an artifact from inside a task. Run it twice: the second run is
a new flow run, but the unchanged transforms and files are not duplicated.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / ".lamin-demo"
SUMMARY_KEY = "prefect-example/summary.parquet"

# Prefect reads its settings when first imported (the decorators below import it). With no Prefect API
# configured it starts a temporary local server: keep that server's state in the demo folder, offline.
for _name, _value in {
    "PREFECT_HOME": str(DEMO / "prefect-home"),
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "240",
    "PREFECT_LOGGING_LEVEL": "WARNING",
}.items():
    os.environ.setdefault(_name, _value)

from lamin_prefect import flow, task  # noqa: E402  (the one changed line: was `from prefect import ...`)


@task(retries=2, retry_delay_seconds=0)
def fetch_sample(workdir: str, sample: str) -> str:
    """Stand-in for a download: one sample's measurements, written as parquet."""
    import lamin_core as ln

    df = ln.examples.datasets.mini_immuno.get_dataset1()
    path = Path(workdir) / "raw" / f"{sample}.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    df.assign(sample=sample)[["ENSG00000153563", "ENSG00000010610", "perturbation", "sample"]].to_parquet(path)
    return str(path)


@task
def merge(paths: list[str], workdir: str) -> str:
    import pandas as pd

    out = Path(workdir) / "merged.csv"
    pd.concat([pd.read_parquet(p) for p in paths]).to_csv(out)
    return str(out)


@task
def summarize(merged_csv: str):  # noqa: ANN201
    import pandas as pd

    import lamin_core as ln

    summary = pd.read_csv(merged_csv).groupby("perturbation", observed=True).mean(numeric_only=True)
    # saved inside the task: the artifact's run is this task run
    return ln.Artifact.from_dataframe(summary, key=SUMMARY_KEY, description="mean expression per perturbation").save()


@flow(name="immuno-summary", log_prints=True)
def immuno_summary(workdir: str, samples: list[str]):  # noqa: ANN201
    paths = fetch_sample.map(workdir, samples).result()
    return summarize(merge(paths, workdir))


def _use_demo_instance() -> None:
    """An isolated LAMIN_HOME and instance under .lamin-demo/, created on first use."""
    os.environ["LAMIN_HOME"] = str(DEMO / "home")
    import lamin_core as ln

    if not (DEMO / "home" / "current-instance").exists():
        ln.setup.init(storage=str(DEMO / "storage"), name="prefect-demo")
    else:
        ln.connect()


def show(artifact) -> None:  # noqa: ANN001
    """Where the artifact comes from: task runs, their inputs, and the Prefect flow run above them."""
    flow_run = artifact.run.initiated_by_run
    print(f"\nprefect flow run {flow_run.reference} -> lamin run {flow_run.uid} ({flow_run.status})")
    artifact.view_lineage()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--current", action="store_true", help="record into the connected instance")
    parser.add_argument("--workdir", type=Path, default=DEMO / "prefect-example", help="where the flow writes")
    args = parser.parse_args(argv)
    if not args.current:
        _use_demo_instance()
    artifact = immuno_summary(str(args.workdir.resolve()), ["sample1", "sample2"])
    show(artifact)
    return 0


if __name__ == "__main__":
    sys.exit(main())
