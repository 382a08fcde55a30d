"""Run the example Snakemake workflow with `--logger lamin` and show the lineage of its final output.

    python examples/snakemake/run_example.py            # a demo instance under .lamin-demo/ in the repo
    python examples/snakemake/run_example.py --current  # the instance you are connected to

The workflow is copied into a work folder (the example folder stays clean) and run there with
`snakemake --logger lamin --cores 2`. Run the command again: Snakemake finds everything up to date and
the registry gets a new workflow run but no duplicate artifacts. Edit a sample in the work folder's
`data/` and run again: the changed outputs become new versions of their artifacts.
"""

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
DEMO = REPO / ".lamin-demo"
FINAL_OUTPUT = "results/summary.txt"


def demo_env() -> dict[str, str]:
    """An isolated LAMIN_HOME with an instance whose storage is under .lamin-demo/."""
    env = dict(os.environ, LAMIN_HOME=str(DEMO / "home"))
    if not (DEMO / "home" / "current-instance").exists():
        storage = DEMO / "storage"
        storage.mkdir(parents=True, exist_ok=True)
        init = f"import lamin_core as ln; ln.setup.init(storage={str(storage)!r}, name='snakemake-demo')"
        subprocess.run([sys.executable, "-c", init], env=env, check=True)
    return env


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--current", action="store_true", help="record into the connected instance")
    parser.add_argument("--workdir", type=Path, default=DEMO / "snakemake-example", help="where the workflow runs")
    parser.add_argument("--cores", default="2")
    args = parser.parse_args(argv)

    env = dict(os.environ) if args.current else demo_env()
    workdir: Path = args.workdir.resolve()
    if not workdir.exists():
        # the workflow's sources only: not this script, nor outputs of a run made in the example folder
        skip = shutil.ignore_patterns("*.py", "__pycache__", ".snakemake", "results", "logs", "benchmarks")
        shutil.copytree(HERE, workdir, ignore=skip)
    snakemake = Path(sys.executable).with_name("snakemake")
    cmd = [str(snakemake if snakemake.exists() else "snakemake"), "--logger", "lamin", "--cores", args.cores]
    cmd += ["--quiet", "rules"]
    print(f"$ cd {workdir} && {' '.join(cmd)}", flush=True)
    done = subprocess.run(cmd, cwd=workdir, env=env)
    if done.returncode != 0:
        return done.returncode

    # show the lineage, in a fresh process that sees the same instance
    return subprocess.run([sys.executable, str(HERE / "show_lineage.py"), FINAL_OUTPUT], env=env).returncode


if __name__ == "__main__":
    sys.exit(main())
