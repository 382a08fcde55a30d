"""Join what a run left behind (lineage store, traces, nf-prov manifest, history) into pipeline runs.

The join key is the task hash: the lineage store names tasks by their full hash, the raw trace by its
work directory (which ends with it), the default trace only by its first 8 characters (`3a/9f2c1d`), the
nf-prov manifest by its outputs' work paths or its trace `task_id`. Each trace and manifest is given to
the run that owns most of its tasks. Retried attempts (new hash each) are chained into one task.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Iterable

from ._util import process_of, short_hash_prefix
from .history import HistoryEntry
from .identity import pipeline_run_id
from .lineage_store import LineageStore
from .nfprov import ProvManifest
from .records import FileRef, PipelineMeta, Skipped, TaskAttempt, TaskRecord
from .trace import TraceFile


@dataclass
class Task:
    """One task of a pipeline run: its attempts (first one's hash names it) and its files."""

    hash: str
    name: str
    attempts: list[TaskAttempt] = field(default_factory=list)
    record: TaskRecord | None = None
    outputs: list[FileRef] = field(default_factory=list)  # work files of the final attempt
    published: list[FileRef] = field(default_factory=list)
    inputs: list[FileRef] = field(default_factory=list)
    has_store_output: bool = False

    @property
    def process(self) -> str:
        last = self.attempts[-1] if self.attempts else None
        return (last.process if last and last.process else None) or process_of(self.name)

    @property
    def hashes(self) -> list[str]:
        return [a.hash for a in self.attempts if a.hash] or [self.hash]

    @property
    def final_hash(self) -> str:
        return self.hashes[-1]

    @property
    def status(self) -> str | None:
        """completed, errored, aborted, or None when nothing says how it ended."""
        if self.attempts and self.attempts[-1].status:
            status = self.attempts[-1].status
            if status in ("COMPLETED", "CACHED"):
                return "completed"
            if status == "FAILED":
                return "errored"
            if status == "ABORTED":
                return "aborted"
            return None  # NEW, SUBMITTED, RUNNING: the trace stopped before it ended
        return "completed" if self.has_store_output or self.outputs else None

    def fails_pipeline(self, nextflow_said_ok: bool = False) -> bool:
        """A final attempt that failed and was not ignored (interfaces: the pipeline is then errored).

        The default trace has no `error_action`: then Nextflow's own verdict (history `OK`) tells an
        ignored failure from a fatal one."""
        last = self.attempts[-1] if self.attempts else None
        if not last or not last.failed:
            return False
        if last.error_action:
            return last.error_action != "IGNORE"
        return not nextflow_said_ok


@dataclass
class PipelineBundle:
    meta: PipelineMeta
    tasks: list[Task] = field(default_factory=list)
    run_outputs: list[FileRef] = field(default_factory=list)  # published by the workflow itself
    foreign: list[tuple[Task, str, FileRef]] = field(default_factory=list)  # (task, owner run id, file): -resume
    history: HistoryEntry | None = None
    end: datetime | None = None
    has_trace: bool = False

    @property
    def run_id(self) -> str:
        return pipeline_run_id(self.meta.session_id, self.meta.run_name)

    @property
    def status(self) -> str | None:
        said_ok = bool(self.history and self.history.status == "OK") or self.meta.success is True
        if (self.history and self.history.status == "ERR") or any(t.fails_pipeline(said_ok) for t in self.tasks):
            return "errored"
        if said_ok or self.has_trace:
            return "completed"
        return None

    def failed_tasks(self) -> list[Task]:
        said_ok = bool(self.history and self.history.status == "OK") or self.meta.success is True
        return [t for t in self.tasks if t.fails_pipeline(said_ok)]


@dataclass
class Assembly:
    runs: list[PipelineBundle] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)


def _run_key(meta: PipelineMeta) -> str:
    return pipeline_run_id(meta.session_id, meta.run_name)


def _index_runs(store: LineageStore | None, histories: Iterable[HistoryEntry]) -> dict[str, PipelineBundle]:
    bundles: dict[str, PipelineBundle] = {}
    for meta in (store.runs.values() if store else ()):
        bundles.setdefault(_run_key(meta), PipelineBundle(meta=meta))
    for entry in histories:
        key = pipeline_run_id(entry.session_id, entry.run_name)
        bundle = bundles.get(key)
        if bundle is None:
            bundle = bundles[key] = PipelineBundle(
                meta=PipelineMeta(session_id=entry.session_id, run_name=entry.run_name, start=entry.start)
            )
        bundle.history = entry
        meta = bundle.meta
        meta.start = meta.start or entry.start
        meta.command_line = meta.command_line or entry.command
        meta.resume = meta.resume if meta.resume is not None else entry.resume
        meta.revision = meta.revision or entry.revision
    return bundles


def _resolve_hash(row: TaskAttempt, known: list[str]) -> str | None:
    """The full hash of a row that has only the short one, if exactly one known hash starts with it."""
    if row.hash:
        return row.hash
    prefix = short_hash_prefix(row.short_hash)
    matches = [h for h in known if prefix and h.startswith(prefix)] if prefix else []
    return matches[0] if len(matches) == 1 else None


def _owner(hashes: Iterable[str], owners: dict[str, str]) -> str | None:
    votes = Counter(owners[h] for h in hashes if h in owners)
    return votes.most_common(1)[0][0] if votes else None


def _owner_by_time(rows: list[TaskAttempt], bundles: dict[str, PipelineBundle]) -> str | None:
    times = [r.submit or r.start for r in rows if r.submit or r.start]
    if not times:
        return None
    first = min(times)
    fits = [
        key
        for key, b in bundles.items()
        if b.meta.start and b.meta.start <= first and (b.history is None or not b.history.end or first <= b.history.end)
    ]
    return max(fits, key=lambda k: bundles[k].meta.start) if fits else None  # the latest run started before it


def _first_time(trace: TraceFile) -> float:
    times = [t.timestamp() for r in trace.rows for t in (r.submit, r.start) if t]
    return min(times) if times else 0.0


def _chain_attempts(rows: list[TaskAttempt], records: dict[str, TaskRecord]) -> list[Task]:
    """Group attempts: a later attempt continues the open task of the same name whose last attempt failed with
    RETRY (or, in the default trace, which has no attempt and error_action columns, failed at all)."""
    def order(row: TaskAttempt) -> tuple[float, int]:
        when = row.submit or row.start
        return (when.timestamp() if when else 0.0, int(row.task_id) if (row.task_id or "").isdigit() else 0)

    tasks: list[Task] = []
    open_retries: dict[str, Task] = {}
    for row in sorted(rows, key=order):
        name = row.name or (records[row.hash].name if row.hash in records else row.hash or "task")
        previous = open_retries.pop(name, None)
        if previous is not None and (row.attempt is None or row.attempt > 1):
            row.attempt = row.attempt or len(previous.attempts) + 1
            previous.attempts.append(row)
            task = previous
        else:
            task = Task(hash=row.hash or "", name=name, attempts=[row])
            tasks.append(task)
        if row.failed and row.error_action in ("RETRY", None):
            open_retries[name] = task
    return tasks


def assemble(
    store: LineageStore | None,
    traces: list[TraceFile],
    manifests: list[ProvManifest],
    histories: list[HistoryEntry],
    skipped: list[Skipped] | None = None,
) -> Assembly:
    out = Assembly(skipped=list(skipped or []))
    bundles = _index_runs(store, histories)
    by_lid = {b.meta.lineage_id: key for key, b in bundles.items() if b.meta.lineage_id}
    records = dict(store.tasks) if store else {}
    owners = {h: by_lid[r.workflow_lid] for h, r in records.items() if r.workflow_lid in by_lid}
    known = list(records) + [t.hash for m in manifests for t in m.tasks.values() if t.hash]
    by_task_id = {t.task_id: t.hash for m in manifests for t in m.tasks.values() if t.hash}

    # 1. every trace row gets its full hash and its run
    rows_by_run: dict[str, list[TaskAttempt]] = {}
    for trace in sorted(traces, key=_first_time):  # earlier runs first: they own the tasks later runs reuse
        usable = []
        for row in trace.rows:
            row.hash = _resolve_hash(row, known) or by_task_id.get(row.task_id or "")
            if row.hash:
                usable.append(row)
            else:
                out.skipped.append(
                    Skipped(
                        f"{trace.path}: task {row.name or row.short_hash}",
                        f"the trace gives only the short hash {row.short_hash}; add `workdir` to trace.fields "
                        "or enable the lineage store to import it",
                    )
                )
        own = [r.hash for r in usable if not r.cached and r.hash]
        if usable and not own and all(r.hash in owners for r in usable):
            continue  # a -resume that reused every task: the earlier runs hold them, nothing here is new
        run = _owner(own or [r.hash for r in usable if r.hash], owners) or _owner_by_time(usable, bundles)
        if run is None and len(bundles) == 1:
            run = next(iter(bundles))
        if run is None:
            if usable:
                out.skipped.append(
                    Skipped(trace.path, "cannot tell which run this trace belongs to (no lineage store or "
                            ".nextflow/history beside it); its tasks were not imported")
                )
            continue
        bundles[run].has_trace = True
        for row in usable:
            if row.cached and row.hash in owners:
                continue  # a -resume reuses a task of an earlier run: that run holds it
            rows_by_run.setdefault(run, []).append(row)
            owners.setdefault(row.hash or "", run)

    # 2. tasks per run: trace attempts chained by retry, then store records that no trace row covers
    task_of: dict[str, tuple[str, Task]] = {}
    for key, bundle in bundles.items():
        bundle.tasks = _chain_attempts(rows_by_run.get(key, []), records)
        covered = {h for t in bundle.tasks for h in t.hashes}
        for h, record in records.items():
            if owners.get(h) == key and h not in covered:
                bundle.tasks.append(Task(hash=h, name=record.name))
        for task in bundle.tasks:
            for h in task.hashes:
                task_of[h] = (key, task)
            task.record = next((records[h] for h in reversed(task.hashes) if h in records), None)
            if task.record:
                task.inputs = list(task.record.inputs)
            task.has_store_output = bool(store and task.final_hash in store.task_outputs)
    if store:
        for ref in store.work_files.values():
            if ref.task_hash in task_of and task_of[ref.task_hash][1].final_hash == ref.task_hash:
                task_of[ref.task_hash][1].outputs.append(ref)

    # 3. manifests: tasks' inputs and outputs where the store gave none; published files
    for manifest in manifests:
        run = _owner([t.hash for t in manifest.tasks.values() if t.hash], {h: k for h, (k, _) in task_of.items()})
        run = run or (next(iter(bundles)) if len(bundles) == 1 else None)
        if run is None:
            out.skipped.append(Skipped(manifest.path, "cannot tell which run this manifest belongs to"))
            continue
        _apply_manifest(manifest, bundles[run], task_of, out.skipped)

    # 4. published files of the store's runs
    for key, bundle in bundles.items():
        lid = bundle.meta.lineage_id
        for ref in (store.published.get(lid, []) if store and lid else []):
            _place_published(ref, key, bundle, task_of)
        ends = [t.attempts[-1].complete for t in bundle.tasks if t.attempts and t.attempts[-1].complete]
        bundle.end = (
            bundle.meta.complete
            or (bundle.history.end if bundle.history else None)
            or (store.run_ends.get(lid) if store and lid else None)
            or (max(ends) if ends else None)
        )
        out.runs.append(bundle)
    out.runs.sort(key=lambda b: (b.meta.start.timestamp() if b.meta.start else 0.0, b.meta.run_name))
    return out


def _place_published(ref: FileRef, run: str, bundle: PipelineBundle, task_of: dict[str, tuple[str, Task]]) -> None:
    owner = task_of.get(ref.task_hash or "")
    if owner is None:
        bundle.run_outputs.append(ref)
    elif owner[0] == run:
        if all(p.path != ref.path for p in owner[1].published):
            owner[1].published.append(ref)
    else:
        bundle.foreign.append((owner[1], owner[0], ref))


def _apply_manifest(
    manifest: ProvManifest, bundle: PipelineBundle, task_of: dict[str, tuple[str, Task]], skipped: list[Skipped]
) -> None:
    meta = bundle.meta
    pipeline = manifest.pipeline
    meta.manifest_name = meta.manifest_name or pipeline.get("name")
    meta.manifest_version = meta.manifest_version or pipeline.get("version")
    meta.description = meta.description or pipeline.get("description")
    for prov in manifest.tasks.values():
        if not prov.hash:
            skipped.append(Skipped(f"{manifest.path}: task {prov.name}", "no task hash in its output paths"))
            continue
        if prov.hash not in task_of:
            task = Task(hash=prov.hash, name=prov.name, attempts=[])
            bundle.tasks.append(task)
            task_of[prov.hash] = (_run_key(meta), task)
        task = task_of[prov.hash][1]
        if not task.inputs:
            task.inputs = list(prov.inputs)
        if not task.outputs:
            task.outputs = list(prov.outputs)
        task.has_store_output = True  # nf-prov lists outputs of tasks that completed
    for ref in manifest.published:
        _place_published(ref, _run_key(meta), bundle, task_of)


def local_missing(ref: FileRef) -> bool:
    """A local file that is gone and has no checksum: nothing can identify its content."""
    return "://" not in ref.path and not ref.path.startswith("lid:") and not ref.checksum and not Path(ref.path).exists()
