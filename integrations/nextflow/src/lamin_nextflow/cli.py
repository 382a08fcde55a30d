"""`lamin nextflow ingest DIR [--trace FILE] [--intermediates] [--lineage-store PATH] [--annotate MODE]`.

Found by `lamin` through the entry-point group `lamin_core.commands` (name `nextflow`). Exit codes
(interfaces.md): 0 everything imported, 1 part of it (what was skipped is printed), 2 nothing usable.
Problems are messages, never tracebacks.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TextIO

from .records import Skipped

_MAX_LISTED = 30


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lamin nextflow", description="Record Nextflow runs in the connected lamin instance."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    ingest = sub.add_parser(
        "ingest",
        help="register a finished run from what it left in DIR",
        description="Register every run found in DIR (the launch directory): its lineage store (.lineage/), "
        "trace files (found by their header), nf-prov manifests and .nextflow/history.",
    )
    ingest.add_argument("dir", metavar="DIR", type=Path, help="the run's launch directory")
    ingest.add_argument(
        "--trace", metavar="FILE", type=Path, action="append", help="use this trace file (repeatable) instead of searching DIR"
    )
    ingest.add_argument("--intermediates", action="store_true", help="also register the tasks' work/ files")
    ingest.add_argument("--lineage-store", metavar="PATH", type=Path, help="the lineage store (lineage.store.location)")
    ingest.add_argument(
        "--annotate",
        choices=("none", "existing", "auto"),
        default="existing",
        help="how each task's meta map, tag and samplesheet row annotate its run and published outputs: only "
        "features that exist (existing, the default), missing ones created under the feature type 'nextflow' "
        "(auto), or not at all (none)",
    )
    return parser


def _print_skipped(skipped: list[Skipped], out: TextIO) -> None:
    print(f"skipped {len(skipped)}:", file=out)
    for item in skipped[:_MAX_LISTED]:
        print(f"  - {item}", file=out)
    if len(skipped) > _MAX_LISTED:
        print(f"  ... and {len(skipped) - _MAX_LISTED} more", file=out)


def main(argv: list[str]) -> int:
    """`lamin nextflow ingest DIR`: register a finished Nextflow run from what it left in DIR."""
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse already printed the usage message
        return 0 if exc.code == 0 else 2
    directory: Path = args.dir
    if not directory.is_dir():
        print(f"lamin nextflow ingest: {directory} is not a directory", file=sys.stderr)
        return 2
    missing = [str(t) for t in args.trace or [] if not t.is_file()]
    if missing:
        print(f"lamin nextflow ingest: trace file not found: {', '.join(missing)}", file=sys.stderr)
        return 2
    from .ingest import ingest

    try:
        result = ingest(
            directory.resolve(),
            trace_files=[t.resolve() for t in args.trace] if args.trace else None,
            lineage_store=args.lineage_store.resolve() if args.lineage_store else None,
            intermediates=args.intermediates,
            annotate=args.annotate,
        )
    except Exception as exc:  # e.g. no instance connected: a message, not a traceback
        print(f"lamin nextflow ingest: {exc}", file=sys.stderr)
        return 2
    code = result.exit_code
    if result.events:
        news = f"{result.new_events} new" if result.new_events else "all already recorded"
        print(
            f"imported {result.runs} run(s), {result.tasks} task(s): {result.events} event(s), {news}; "
            f"{result.artifacts} artifact(s) registered or linked"
        )
        checks = result.translation.params_checks if result.translation else {}
        for bundle in result.assembly.runs if result.assembly else []:
            status = bundle.status or "status unknown"
            print(f"  {bundle.meta.run_name} ({bundle.run_id}): {len(bundle.tasks)} task(s), {status}")
            check = checks.get(bundle.run_id)
            if check is not None and check.problems:  # reported, kept in the run's report; never a failure
                print(f"    {len(check.problems)} param(s) not valid against {check.schema} (kept in the run's report):")
                for problem in check.problems:
                    print(f"    - {problem}")
    if result.skipped:
        _print_skipped(result.skipped, sys.stderr if code == 2 else sys.stdout)
    if code == 2:
        print(f"lamin nextflow ingest: nothing could be imported from {directory}", file=sys.stderr)
    return code
