"""`lamin nextflow ingest DIR`: find what a finished run left in DIR, translate it, record it.

DIR is usually the launch directory: `.lineage/` (the lineage store), `.nextflow/history`, trace files
anywhere below (found by their header), nf-prov manifests (`*.json` with `pipeline`/`tasks`/`published`),
and `nextflow_schema.json` for typed params. `work/` is never walked (it can hold millions of files).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from .assemble import Assembly, assemble
from .history import HistoryEntry, read_history
from .lineage_store import LineageStore, read_store
from .nfcore import PipelineModules, nextflow_assets_dir, pipeline_dir, read_modules
from .nfprov import ProvManifest, read_manifest
from .records import Skipped
from .schema import ParamSchema, read_schema
from .trace import TraceFile, parse_trace, sniff
from .translate import Translation, translate

# folders never walked: task work dirs, Nextflow's caches, and what the lineage reader handles itself
_PRUNE = {"work", ".nextflow", ".lineage", ".git", "node_modules", "__pycache__", ".snakemake"}
_TRACE_SUFFIXES = (".txt", ".tsv", ".trace", ".csv")
_MAX_MANIFEST_BYTES = 64 * 1024 * 1024


@dataclass
class Sources:
    """Everything found in DIR, parsed."""

    store: LineageStore | None = None
    traces: list[TraceFile] = field(default_factory=list)
    manifests: list[ProvManifest] = field(default_factory=list)
    history: list[HistoryEntry] = field(default_factory=list)
    schema: ParamSchema | None = None
    skipped: list[Skipped] = field(default_factory=list)
    directory: Path | None = None  # DIR itself: an nf-core pipeline's repository when it holds modules.json

    @property
    def found_anything(self) -> bool:
        return bool((self.store and (self.store.runs or self.store.tasks)) or self.traces or self.manifests or self.history)


def _walk(root: Path) -> list[Path]:
    files = []
    for folder, dirs, names in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in _PRUNE)
        files.extend(Path(folder, n) for n in sorted(names))
    return files


def find_sources(
    directory: Path,
    *,
    trace_files: list[Path] | None = None,
    lineage_store: Path | None = None,
) -> Sources:
    """Parse every source under `directory` (never raises: problems become `Skipped` entries)."""
    sources = Sources(directory=directory)
    store_root = lineage_store or directory / ".lineage"
    if store_root.is_dir():
        sources.store = read_store(store_root)
        sources.skipped.extend(sources.store.skipped)
    elif lineage_store is not None:
        sources.skipped.append(Skipped(str(lineage_store), "the lineage store given with --lineage-store does not exist"))
    sources.history = read_history(directory / ".nextflow" / "history")
    for name in ("nextflow_schema.json",):
        if (directory / name).is_file():
            sources.schema = read_schema(directory / name)
    files = _walk(directory) if directory.is_dir() else []
    candidates = trace_files if trace_files is not None else [
        f for f in files if f.suffix.lower() in _TRACE_SUFFIXES or "trace" in f.name.lower()
    ]
    for path in candidates:
        if trace_files is not None or sniff(path):
            trace = parse_trace(path)
            sources.skipped.extend(trace.skipped)
            if trace.rows:
                sources.traces.append(trace)
    for path in files:
        if path.suffix.lower() == ".json" and path.name != "nextflow_schema.json":
            try:
                if path.stat().st_size > _MAX_MANIFEST_BYTES:
                    continue
            except OSError:
                continue
            if not _may_be_manifest(path):
                continue
            manifest = read_manifest(path)
            if manifest is not None:
                sources.manifests.append(manifest)
                sources.skipped.extend(manifest.skipped)
    if sources.schema is None:
        sources.schema = _schema_from_project(sources)
    return sources


def _may_be_manifest(path: Path) -> bool:
    """A cheap look before parsing: nf-prov writes its `pipeline` block first (results hold big JSONs)."""
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            head = fh.read(4096)
    except OSError:
        return False
    return head.lstrip().startswith("{") and any(k in head for k in ('"pipeline"', '"published"', '"tasks"'))


def _schema_from_project(sources: Sources) -> ParamSchema | None:
    """The pipeline's own `nextflow_schema.json` (in its project dir, e.g. ~/.nextflow/assets/<org>/<name>)."""
    for meta in (sources.store.runs.values() if sources.store else ()):
        for folder in (meta.project_dir, os.path.dirname(meta.script_file or "") or None):
            if folder and os.path.isfile(os.path.join(folder, "nextflow_schema.json")):
                return read_schema(Path(folder, "nextflow_schema.json"))
    return None


@dataclass
class IngestResult:
    runs: int = 0
    tasks: int = 0
    events: int = 0
    new_events: int = 0
    artifacts: int = 0
    skipped: list[Skipped] = field(default_factory=list)
    assembly: Assembly | None = None
    translation: Translation | None = None

    @property
    def exit_code(self) -> int:
        """0: everything imported; 1: part of it (something skipped); 2: nothing usable."""
        if self.runs == 0 or self.events == 0:
            return 2
        return 1 if self.skipped else 0


def nf_core_modules(
    sources: Sources, bundles: list[Any], backend: str | None = None
) -> tuple[dict[str, PipelineModules], list[Skipped]]:
    """Each run's nf-core modules, from the first pipeline repository (a folder with modules.json) among DIR,
    the run's project dir, its local script's folder and Nextflow's clone of its repository (`nextflow run
    nf-core/demo` keeps it in ~/.nextflow/assets/nf-core/demo). Read once per folder."""
    read: dict[Path, PipelineModules | None] = {}
    found: dict[str, PipelineModules] = {}
    problems: list[Skipped] = []
    for bundle in bundles:
        meta = bundle.meta
        script_dir = os.path.dirname(meta.script_file) if meta.script_file and "://" not in meta.script_file else None
        folder = pipeline_dir([sources.directory, meta.project_dir, script_dir, nextflow_assets_dir(meta.repository)])
        if folder is None:
            continue
        if folder not in read:
            read[folder] = read_modules(folder, backend)
            problems.extend(Skipped(f"{source} (nf-core)", why) for source, why in getattr(read[folder], "problems", ()))
        if read[folder] is not None:
            found[bundle.run_id] = read[folder]  # type: ignore[assignment]
    return found, problems


def plan(
    sources: Sources, *, intermediates: bool = False, annotate: str = "existing", backend: str | None = None
) -> IngestResult:
    """The pure part: sources -> assembled runs -> events (nothing is recorded).

    `backend`: how nf-core files are read and params checked, "nf-core" or "plain" (None: nf-core's code
    when the package is installed)."""
    assembly = assemble(sources.store, sources.traces, sources.manifests, sources.history, sources.skipped)
    modules, problems = nf_core_modules(sources, assembly.runs, backend)
    if sources.schema is None:  # the pipeline repository's own schema (DIR had none)
        for found in modules.values():
            if Path(found.directory, "nextflow_schema.json").is_file():
                sources.schema = read_schema(Path(found.directory, "nextflow_schema.json"))
                break
    translation = translate(assembly.runs, intermediates=intermediates, schema=sources.schema, annotate=annotate,
                            nf_core=modules, backend=backend)
    return IngestResult(
        runs=len(assembly.runs),
        tasks=sum(len(b.tasks) for b in assembly.runs),
        events=len(translation.events),
        skipped=assembly.skipped + problems + translation.skipped,
        assembly=assembly,
        translation=translation,
    )


def ingest(
    directory: Path,
    *,
    trace_files: list[Path] | None = None,
    lineage_store: Path | None = None,
    intermediates: bool = False,
    record: Callable[[Any], Any] | None = None,
    annotate: str = "existing",
    backend: str | None = None,
) -> IngestResult:
    """Find, translate and record one directory's runs. `record` defaults to `lamin_core.lineage.record`;
    `backend` as for `plan()`."""
    sources = find_sources(directory, trace_files=trace_files, lineage_store=lineage_store)
    if not sources.found_anything:
        result = IngestResult(skipped=sources.skipped)
        result.skipped.append(
            Skipped(str(directory), "no Nextflow records here (no .lineage store, trace file, nf-prov manifest "
                    "or .nextflow/history)")
        )
        return result
    result = plan(sources, intermediates=intermediates, annotate=annotate, backend=backend)
    if record is None:
        from lamin_core.lineage import record as default_record  # lazy: SQLAlchemy and the models

        record = default_record
    from lamin_core.storage.progress import count_progress

    artifacts: set[Any] = set()
    recorded_events = 0
    events = result.translation.events if result.translation else []
    with count_progress(len(events), "ingesting Nextflow events") as advance:  # a bar on a terminal only
        for event in events:
            advance(1)
            try:
                recorded = record(event)
            except _FATAL:  # no instance: every other event would fail the same way
                raise
            except Exception as exc:  # one bad file or event must not lose the rest of the run
                result.skipped.append(Skipped(_describe(event), f"not recorded: {type(exc).__name__}: {exc}"))
                continue
            recorded_events += 1
            result.new_events += int(bool(getattr(recorded, "is_new", False)))
            for artifact in list(getattr(recorded, "outputs", ()) or ()) + list(getattr(recorded, "inputs", ()) or ()):
                artifacts.add(getattr(artifact, "id", None) or id(artifact))
    result.events = recorded_events
    result.artifacts = len(artifacts)
    return result


def _fatal_errors() -> tuple[type[BaseException], ...]:
    try:
        from lamin_core.errors import NoInstanceError
    except ImportError:  # an older core: nothing is fatal by type
        return ()
    return (NoInstanceError,)


_FATAL = _fatal_errors()


def _describe(event: Any) -> str:
    return f"{event.event_type} event of {event.run.reference_type} {event.run.run_id}"
