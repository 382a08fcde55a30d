"""Filling an instance for the explorer's tests and benchmark.

- `run_examples(env, workdir)`: the repository's Snakemake, Prefect and Nextflow examples, run as a user runs
  them (`examples/*/...py --current`, each in its own process, recording into the instance `env` names).
- `python_api_artifacts()`: what the tutorial does with the Python API in this process: a tracked flow saves
  the mini-immuno DataFrame (two versions) with features and labels, and an AnnData.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
EXAMPLE_TIMEOUT = 900  # a hang fails the test instead of stalling it; not a timing assertion


def run_examples(env: dict[str, str], workdir: Path, prefect_home: Path) -> None:
    """The Snakemake, Prefect and Nextflow examples into the instance of `env` (its LAMIN_HOME)."""
    env = {**env, "PREFECT_HOME": str(prefect_home), "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
           "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "240", "PREFECT_LOGGING_LEVEL": "WARNING",
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    commands = [
        [sys.executable, REPO / "examples" / "snakemake" / "run_example.py", "--current", "--workdir", workdir / "snakemake"],
        [sys.executable, REPO / "examples" / "prefect" / "pipeline.py", "--current", "--workdir", workdir / "prefect"],
        [sys.executable, REPO / "examples" / "nextflow" / "demo.py"],
    ]
    for cmd in commands:
        result = subprocess.run([str(c) for c in cmd], env=env, capture_output=True, text=True, timeout=EXAMPLE_TIMEOUT)
        assert result.returncode == 0, f"{cmd[1]} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"


def python_api_artifacts() -> dict[str, Any]:
    """A tracked flow saves the tutorial's DataFrame; a fixed second version; features, labels; an AnnData."""
    import lamin_core as ln

    @ln.flow()
    def ingest(key: str) -> Any:
        df = ln.examples.datasets.mini_immuno.get_dataset1(with_typo=True)
        return ln.Artifact.from_dataframe(df, key=key, description="mini immuno, raw").save()

    first = ingest(key="my_datasets/rnaseq1.parquet")
    df = first.load()
    df["perturbation"] = df["perturbation"].cat.rename_categories({"IFNJ": "IFNG"})
    fixed = ln.Artifact.from_dataframe(df, key="my_datasets/rnaseq1.parquet", description="typo fixed").save()
    ln.Feature(name="temperature", dtype=float).save()
    ln.Feature(name="experiment", dtype=ln.ULabel).save()
    ln.ULabel(name="My experiment").save()
    fixed.features.add_values({"temperature": 21.6, "experiment": "My experiment"})
    fixed.ulabels.add(ln.ULabel(name="explorer-demo").save())
    adata = ln.examples.datasets.mini_immuno.get_dataset1(otype="AnnData")
    h5ad = ln.Artifact.from_anndata(adata, key="my_datasets/mini.h5ad", description="mini immuno as AnnData").save()
    return {"first": first, "fixed": fixed, "h5ad": h5ad}
