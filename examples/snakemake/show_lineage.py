"""Show where an artifact came from: the workflow run, then `artifact.view_lineage()`.

    python examples/snakemake/show_lineage.py [KEY]     # default: results/summary.txt

Uses the connected instance (or the one LAMIN_HOME / LAMIN_INSTANCE name).
"""

import sys

import lamin_core as ln


def main(argv: list[str]) -> int:
    key = argv[0] if argv else "results/summary.txt"
    artifact = ln.Artifact.filter(key=key, is_latest=True).order_by("-created_at").first()
    if artifact is None:
        print(f"no artifact with key {key!r}: run the example first", file=sys.stderr)
        return 1
    job = artifact.run
    if job is not None and job.initiated_by_run is not None:
        workflow = job.initiated_by_run
        print(f"{key} was written by job {job.name!r} of workflow run {workflow.uid} ({workflow.status})")
        print(f"workflow params: {workflow.params}")
        print(f"versions of {key}: {artifact.versions.count()}\n")
    artifact.view_lineage(depth=4)  # in a script it prints the tree: summary <- merge <- normalize <- data
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
