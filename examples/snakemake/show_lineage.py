"""Print where an artifact came from: the runs and inputs upstream of it, then `artifact.view_lineage()`.

    python examples/snakemake/show_lineage.py [KEY]     # default: results/summary.txt

Uses the connected instance (or LAMIN_HOME / LAMIN_INSTANCE as the environment says).
"""

import sys

import lamin_core as ln


def describe_run(run: "ln.Run") -> str:
    return f"{run.transform.key} · run {run.name!r} ({run.status})"


def walk(artifact: "ln.Artifact", depth: int = 0, seen: set[int] | None = None) -> None:
    """Print the artifact, the run that produced it, and recursively that run's inputs."""
    seen = set() if seen is None else seen
    pad = "    " * depth
    run = artifact.run
    origin = describe_run(run) if run is not None else "raw input: produced by no recorded run"
    print(f"{pad}{artifact.key}  [{artifact.uid}]  <- {origin}")
    if run is None or run.id in seen:
        return
    seen.add(run.id)
    for upstream in run.input_artifacts:
        walk(upstream, depth + 1, seen)


def main(argv: list[str]) -> int:
    key = argv[0] if argv else "results/summary.txt"
    artifact = ln.Artifact.filter(key=key, is_latest=True).order_by("-created_at").first()
    if artifact is None:
        print(f"no artifact with key {key!r}: run the example first", file=sys.stderr)
        return 1
    workflow_run = artifact.run.initiated_by_run if artifact.run is not None else None
    if workflow_run is not None:
        print(f"workflow: {describe_run(workflow_run)}, params: config={workflow_run.params.get('config')}")
    walk(artifact)
    print()
    try:
        graph = artifact.view_lineage()
    except (ImportError, NotImplementedError) as e:  # the graph view needs lamin-core's lineage graph module
        print(f"(artifact.view_lineage() is not available here: {e})")
        return 0
    if graph is not None:
        print(graph)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
